-- Audit events: the canonical encoding in body, and the fields the log is
-- searched by in columns. Reads take chain_id, seq, time, type, subject,
-- decision, prev_hash and hash from the columns, so editing either a column or
-- the body breaks the event's hash. Each chain (one per gatehouse process)
-- numbers its own events; (chain_id, seq) is unique.
CREATE TABLE audit_events (
    id        BIGSERIAL PRIMARY KEY,
    chain_id  TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    time_ns   BIGINT NOT NULL,
    type      TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    decision  TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL,
    body      TEXT   NOT NULL,
    UNIQUE (chain_id, seq)
);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE INDEX audit_events_type ON audit_events (type, id);
CREATE INDEX audit_events_time ON audit_events (time_ns);

CREATE TABLE audit_checkpoints (
    id         BIGSERIAL PRIMARY KEY,
    chain_id   TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    hash       TEXT   NOT NULL,
    time_ns    BIGINT NOT NULL,
    public_key BYTEA  NOT NULL,
    signature  BYTEA  NOT NULL
);
