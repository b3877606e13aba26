-- A released call's arguments hash (the client's history must carry the
-- same call) and the hash of the first result reported for it (a later
-- request may not change it). Rows released before have '' and never
-- match: a conversation spanning the upgrade is refused, not trusted.
ALTER TABLE released_calls ADD COLUMN args_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE released_calls ADD COLUMN result_sha256 TEXT NOT NULL DEFAULT '';
