-- The session registry and admin API: who acted in an audit event, and
-- indexes for the queries the admin API and the pruning job run.

-- +goose Up
ALTER TABLE audit_events ADD COLUMN actor_id text NOT NULL DEFAULT '';
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX sessions_created ON sessions(created_at, id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- +goose Down
DROP INDEX sessions_expires;
DROP INDEX sessions_created;
DROP INDEX audit_events_at;
ALTER TABLE audit_events DROP COLUMN actor_id;
