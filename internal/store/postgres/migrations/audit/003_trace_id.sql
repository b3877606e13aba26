-- The W3C trace id of the request an event belongs to (also in body, which
-- the hash covers; this column is what a search by trace reads). NULL for
-- events from before tracing, and for events recorded outside any trace.
ALTER TABLE audit_events ADD COLUMN trace_id TEXT;
