-- The backend for frontend's browser sessions, the PostgreSQL form of the
-- SQLite table of the same version: each kept under the SHA-256 of its
-- cookie's secret (never the cookie itself), with the OpenID provider's
-- tokens sealed by the BFF (the store cannot open them), the issuer,
-- subject and sid a back-channel logout names sessions by, and the
-- refresh lease: lease_holder and lease_until name the one request, of
-- any node, that may refresh the tokens, taken by a conditional UPDATE,
-- both NULL when none may. version counts the token updates, from 1.
-- Times are timestamptz; access_expires_at is NULL when the provider gave
-- the access token no lifetime. expires_at is the absolute end, when the
-- row is pruned.
--
-- No foreign key: the subject is the provider's, not a local user.

-- +goose Up
CREATE TABLE bff_sessions (
    hash              bytea PRIMARY KEY,
    issuer            text COLLATE "C" NOT NULL,
    subject           text COLLATE "C" NOT NULL,
    sid               text COLLATE "C" NOT NULL DEFAULT '',
    tokens            bytea NOT NULL,
    access_expires_at timestamptz,
    version           bigint NOT NULL,
    lease_holder      text COLLATE "C",
    lease_until       timestamptz,
    created_at        timestamptz NOT NULL,
    last_used_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL
);
CREATE INDEX bff_sessions_sid ON bff_sessions(issuer, sid);
CREATE INDEX bff_sessions_subject ON bff_sessions(issuer, subject);
CREATE INDEX bff_sessions_expires ON bff_sessions(expires_at);

-- +goose Down
DROP TABLE bff_sessions;
