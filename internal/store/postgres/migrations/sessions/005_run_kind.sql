-- A paused run's kind (agent | passthrough | mcp) is a column of its own;
-- pass-through turns were marked by a "model:" prefix on agent before.
ALTER TABLE paused_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
UPDATE paused_runs SET kind = 'passthrough', agent = substr(agent, 7) WHERE agent LIKE 'model:%';
