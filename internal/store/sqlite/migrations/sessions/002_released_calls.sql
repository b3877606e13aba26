-- Tool calls released to a client by the governed pass-through: a tool
-- message later is accepted only for a call released to the same caller.
CREATE TABLE released_calls (
    id          TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    released_ns INTEGER NOT NULL,
    reported    INTEGER NOT NULL DEFAULT 0
);
