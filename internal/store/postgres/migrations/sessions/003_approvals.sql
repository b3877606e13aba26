-- Runs paused for human approval, and their approvals. Every state change
-- is a conditional UPDATE, so racing deciders or replicas never both win.
CREATE TABLE paused_runs (
    id             TEXT    PRIMARY KEY,
    owner          TEXT    NOT NULL,
    agent          TEXT    NOT NULL,
    session_id     TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    state          BYTEA    NOT NULL,
    result         BYTEA,
    error          TEXT    NOT NULL DEFAULT '',
    lease_until_ns BIGINT NOT NULL DEFAULT 0,
    updated_ns     BIGINT NOT NULL
);
CREATE INDEX paused_runs_status ON paused_runs (status);

CREATE TABLE approvals (
    id          TEXT    PRIMARY KEY,
    run_id      TEXT    NOT NULL REFERENCES paused_runs (id),
    idx         INTEGER NOT NULL,
    call_id     TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    arguments   TEXT    NOT NULL,
    args_sha256 TEXT    NOT NULL,
    owner       TEXT    NOT NULL,
    requested_by TEXT   NOT NULL,
    approvers   TEXT    NOT NULL,
    created_ns  BIGINT NOT NULL,
    expires_ns  BIGINT NOT NULL,
    status      TEXT    NOT NULL,
    decided_by  TEXT    NOT NULL DEFAULT '',
    comment     TEXT    NOT NULL DEFAULT '',
    decided_ns  BIGINT NOT NULL DEFAULT 0,
    executed    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX approvals_run ON approvals (run_id, idx);
CREATE INDEX approvals_status ON approvals (status, expires_ns);
