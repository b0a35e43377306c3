-- The revocation feed: one row per session ended explicitly, appended in
-- the transaction that ends it. Resource servers' guards read it in seq
-- order from a cursor (GET /auth/revocations). AUTOINCREMENT, not a plain
-- rowid: a seq is never reused, even after the newest rows are pruned, so
-- a guard's cursor can never skip a later revocation that took an old
-- number, and sqlite_sequence keeps the head across pruning. No foreign
-- key: a deleted user's sessions are gone but their revocations must stay
-- until every access token of those sessions has expired.

-- +goose Up
CREATE TABLE revocations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
);
CREATE INDEX revocations_at ON revocations(revoked_at);

-- +goose Down
DROP INDEX revocations_at;
DROP TABLE revocations;
