-- The data protection vault: a token's value sealed (AES-GCM) under the
-- vault key, bound to the caller and session (or run) it was made for.
CREATE TABLE vault_tokens (
  owner      TEXT NOT NULL,
  scope      TEXT NOT NULL,
  token      TEXT NOT NULL,
  sealed     BLOB NOT NULL,
  expires_ns INTEGER NOT NULL,
  PRIMARY KEY (owner, scope, token)
);
CREATE INDEX vault_tokens_expires ON vault_tokens (expires_ns);
