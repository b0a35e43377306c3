-- Times are Unix nanoseconds (INTEGER); NULL means "not yet" (not spent,
-- not revoked, not retired). Secrets are stored only as hashes, except the
-- signing keys and server secrets, which live in this file so that the
-- data directory is the single thing to back up and protect (mode 0600).

-- +goose Up
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL UNIQUE,
    password_hash      TEXT NOT NULL,
    roles              TEXT NOT NULL DEFAULT '[]',
    disabled           INTEGER NOT NULL DEFAULT 0,
    credential_version INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id          TEXT NOT NULL,
    auth_time          INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    created_ip         TEXT NOT NULL DEFAULT '',
    created_user_agent TEXT NOT NULL DEFAULT '',
    last_ip            TEXT NOT NULL DEFAULT '',
    last_user_agent    TEXT NOT NULL DEFAULT '',
    device             TEXT NOT NULL DEFAULT '',
    csrf_hash          BLOB,
    last_jti           TEXT NOT NULL DEFAULT '',
    credential_version INTEGER NOT NULL,
    revoked_at         INTEGER,
    revoke_reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
    hash           BLOB PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    spent_at       INTEGER,
    successor_hash BLOB,
    grace_blob     BLOB
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    session_id TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_user ON audit_events(user_id, at);
CREATE INDEX audit_events_type ON audit_events(type, at);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER,
    expires_at   INTEGER
);

CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE secrets;
DROP TABLE signing_keys;
DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
