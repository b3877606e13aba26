CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY,
    subject    TEXT   NOT NULL,
    agent      TEXT   NOT NULL,
    created_ns BIGINT NOT NULL,
    updated_ns BIGINT NOT NULL
);

-- One row per message, body is the message as JSON.
CREATE TABLE session_messages (
    session_id TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    idx        INTEGER NOT NULL,
    body       TEXT   NOT NULL,
    PRIMARY KEY (session_id, idx)
);
