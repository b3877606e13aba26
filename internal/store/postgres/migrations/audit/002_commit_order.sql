-- Ids come from a sequence, taken at insert time: with several writers a
-- smaller id can commit after a larger one, so "id > last seen" skips it.
-- txid (the inserting transaction) lets a follower read rows only once no
-- older transaction is still open, in (txid, id) order, without skipping.
ALTER TABLE audit_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_events_txid ON audit_events (txid, id);
