-- The revocation feed: one row per session ended explicitly, appended in
-- the transaction that ends it. Resource servers' guards read it in seq
-- order from a cursor (GET /auth/revocations), so a seq must become
-- visible only after every lower one. PostgreSQL hands out identity
-- values when a row is inserted, not when it commits, so every
-- transaction that appends here first takes one transaction-level
-- advisory lock (see the postgres package): appends are serialised and
-- commit in seq order. A seq is never reused (a sequence never goes back,
-- also not after pruning).
--
-- revocation_head holds the highest seq committed, updated under the same
-- lock by every append: the sequence itself runs ahead of commits (and
-- rollbacks burn values), and max(seq) goes back when the newest rows are
-- pruned; a reader starting "after the head" must miss nothing.
--
-- No foreign key: a deleted user's sessions are gone but their
-- revocations must stay until every access token of those sessions has
-- expired.

-- +goose Up
CREATE TABLE revocations (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text COLLATE "C" NOT NULL,
    revoked_at timestamptz NOT NULL
);
CREATE INDEX revocations_at ON revocations(revoked_at);

CREATE TABLE revocation_head (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL
);
INSERT INTO revocation_head (seq) VALUES (0);

-- +goose Down
DROP TABLE revocation_head;
DROP INDEX revocations_at;
DROP TABLE revocations;
