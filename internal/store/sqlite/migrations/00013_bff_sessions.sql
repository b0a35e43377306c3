-- The backend for frontend's browser sessions: each kept under the SHA-256
-- of its cookie's secret (never the cookie itself), with the OpenID
-- provider's tokens sealed by the BFF (the store cannot open them), the
-- issuer, subject and sid a back-channel logout names sessions by, and
-- the refresh lease: lease_holder and lease_until name the one request,
-- of any node, that may refresh the tokens, both NULL when none may.
-- version counts the token updates, from 1. Times are Unix nanoseconds;
-- access_expires_at is NULL when the provider gave the access token no
-- lifetime. expires_at is the absolute end, when the row is pruned.
--
-- No foreign key: the subject is the provider's, not a local user.

-- +goose Up
CREATE TABLE bff_sessions (
    hash              BLOB PRIMARY KEY,
    issuer            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    sid               TEXT NOT NULL DEFAULT '',
    tokens            BLOB NOT NULL,
    access_expires_at INTEGER,
    version           INTEGER NOT NULL,
    lease_holder      TEXT,
    lease_until       INTEGER,
    created_at        INTEGER NOT NULL,
    last_used_at      INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL
);
CREATE INDEX bff_sessions_sid ON bff_sessions(issuer, sid);
CREATE INDEX bff_sessions_subject ON bff_sessions(issuer, subject);
CREATE INDEX bff_sessions_expires ON bff_sessions(expires_at);

-- +goose Down
DROP INDEX bff_sessions_expires;
DROP INDEX bff_sessions_subject;
DROP INDEX bff_sessions_sid;
DROP TABLE bff_sessions;
