-- The OAuth client registry (the provider's clients, RFC 6749 §2): one row
-- per registered client. The secret is kept only as its SHA-256 hash, and
-- is NULL for a public client. The list-valued metadata (redirect URIs,
-- post-logout redirect URIs, grant types, scopes, audiences) are JSON
-- arrays of strings, as users' roles are; the token lifetimes are
-- nanoseconds, 0 meaning the server's own.

-- +goose Up
CREATE TABLE clients (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL DEFAULT '',
    secret_hash                BLOB,
    public                     INTEGER NOT NULL DEFAULT 0,
    first_party                INTEGER NOT NULL DEFAULT 0,
    token_endpoint_auth_method TEXT NOT NULL DEFAULT '',
    redirect_uris              TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris  TEXT NOT NULL DEFAULT '[]',
    grant_types                TEXT NOT NULL DEFAULT '[]',
    scopes                     TEXT NOT NULL DEFAULT '[]',
    audiences                  TEXT NOT NULL DEFAULT '[]',
    backchannel_logout_uri     TEXT NOT NULL DEFAULT '',
    require_par                INTEGER NOT NULL DEFAULT 0,
    access_token_ttl           INTEGER NOT NULL DEFAULT 0,
    refresh_token_ttl          INTEGER NOT NULL DEFAULT 0,
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

-- +goose Down
DROP TABLE clients;
