-- The PostgreSQL form of the SQLite schema of the same version: the same
-- tables and columns, in PostgreSQL's own types. Times are timestamptz
-- (microseconds); NULL means "not yet" (not spent, not revoked, not
-- retired). Secrets are stored only as hashes, except the signing keys and
-- server secrets: the database is the thing to back up and protect.
--
-- Identifiers and usernames are COLLATE "C": the store contract orders and
-- pages them byte by byte, as Go compares strings and SQLite's BINARY
-- collation does, whatever locale the database was created with (a
-- linguistic collation ignores punctuation and would skip or repeat users
-- between pages).

-- +goose Up
CREATE TABLE users (
    id                 text COLLATE "C" PRIMARY KEY,
    username           text COLLATE "C" NOT NULL UNIQUE,
    password_hash      text NOT NULL,
    roles              text[] NOT NULL DEFAULT '{}',
    disabled           boolean NOT NULL DEFAULT false,
    credential_version bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE TABLE sessions (
    id                 text COLLATE "C" PRIMARY KEY,
    user_id            text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id          text NOT NULL,
    auth_time          timestamptz NOT NULL,
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    created_ip         text NOT NULL DEFAULT '',
    created_user_agent text NOT NULL DEFAULT '',
    last_ip            text NOT NULL DEFAULT '',
    last_user_agent    text NOT NULL DEFAULT '',
    device             text NOT NULL DEFAULT '',
    csrf_hash          bytea,
    last_jti           text NOT NULL DEFAULT '',
    credential_version bigint NOT NULL,
    revoked_at         timestamptz,
    revoke_reason      text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
    hash           bytea PRIMARY KEY,
    session_id     text COLLATE "C" NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL,
    spent_at       timestamptz,
    successor_hash bytea,
    grace_blob     bytea
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE audit_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL,
    type       text NOT NULL,
    user_id    text NOT NULL DEFAULT '',
    session_id text NOT NULL DEFAULT '',
    ip         text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT '',
    outcome    text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_user ON audit_events(user_id, at);
CREATE INDEX audit_events_type ON audit_events(type, at);

CREATE TABLE signing_keys (
    kid          text COLLATE "C" PRIMARY KEY,
    alg          text NOT NULL,
    private_key  bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    activates_at timestamptz NOT NULL,
    retires_at   timestamptz,
    expires_at   timestamptz
);

CREATE TABLE secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE signing_keys;
DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
