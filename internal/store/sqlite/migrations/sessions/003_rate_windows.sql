-- Shared rate limits (server.rate_limit.shared): requests counted per
-- caller (a hash of its key) and one-minute window, so replicas on one
-- database enforce one limit. Windows older than the last are deleted.
CREATE TABLE rate_windows (
    key          TEXT   NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (key, window_start)
);
