-- Every commit writes each B-tree it touches to the WAL and fsyncs it, so a
-- commit's cost grows with the trees an insert changes. This drops two of
-- six: AUTOINCREMENT's sqlite_sequence row (ids stay increasing; the chain,
-- not the id, is what proves order) and the time index: a time filter
-- now reads rows in id order and checks each (the admin list pages by id
-- anyway; export --since reads the table through).
CREATE TABLE audit_events_next (
    id        INTEGER PRIMARY KEY,
    chain_id  TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    time_ns   INTEGER NOT NULL,
    type      TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    decision  TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    body      TEXT    NOT NULL,
    UNIQUE (chain_id, seq)
);
INSERT INTO audit_events_next (id, chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body)
    SELECT id, chain_id, seq, time_ns, type, subject, decision, prev_hash, hash, body FROM audit_events ORDER BY id;
DROP TABLE audit_events;
ALTER TABLE audit_events_next RENAME TO audit_events;
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE INDEX audit_events_type ON audit_events (type, id);
