-- Responses kept for their owner (POST /v1/responses with store): the
-- response object as answered, and the conversation a later request's
-- previous_response_id continues.
CREATE TABLE stored_responses (
    id         TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    model      TEXT    NOT NULL,
    created_ns BIGINT  NOT NULL,
    messages   TEXT    NOT NULL,
    body       TEXT    NOT NULL
);
