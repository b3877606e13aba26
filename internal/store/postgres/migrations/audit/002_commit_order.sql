-- Ids come from a sequence, taken at insert time: with several writers a
-- smaller id can commit after a larger one, so "id > last seen" skips it.
-- txid (the inserting transaction) lets a follower read rows only once no
-- older transaction is still open, in (txid, id) order, without skipping.
-- Added without a default first and then given one, so existing rows keep
-- NULL and the table is not rewritten; the partial index holds only the
-- rows a follower reads. xid8 needs PostgreSQL 13 or later.
ALTER TABLE audit_events ADD COLUMN txid xid8;
ALTER TABLE audit_events ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX audit_events_txid ON audit_events (txid, id) WHERE txid IS NOT NULL;
