-- Each chain's RFC 6962 Merkle tree over its events' hashes, as the hashes
-- golang.org/x/mod/sumdb/tlog stores (idx: tlog.StoredHashIndex), written
-- in the events' own transaction; chains from before are built at start.
CREATE TABLE audit_tree (
    chain_id TEXT    NOT NULL,
    idx      INTEGER NOT NULL,
    hash     BLOB    NOT NULL,
    PRIMARY KEY (chain_id, idx)
) WITHOUT ROWID;

-- The tree's checkpoints as C2SP tlog-checkpoint signed notes (the log's
-- signature only), one per chain and size.
CREATE TABLE audit_notes (
    chain_id TEXT    NOT NULL,
    size     INTEGER NOT NULL,
    root     BLOB    NOT NULL,
    note     TEXT    NOT NULL,
    PRIMARY KEY (chain_id, size)
) WITHOUT ROWID;

-- Witnesses' cosignature lines over those notes, one per witness.
CREATE TABLE audit_cosignatures (
    chain_id TEXT    NOT NULL,
    size     INTEGER NOT NULL,
    witness  TEXT    NOT NULL,
    line     TEXT    NOT NULL,
    PRIMARY KEY (chain_id, size, witness)
) WITHOUT ROWID;
