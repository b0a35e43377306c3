-- The OAuth client registry (the provider's clients, RFC 6749 §2): one row
-- per registered client, the PostgreSQL form of the SQLite table of the
-- same version. The secret is kept only as its SHA-256 hash, and is NULL
-- for a public client. The list-valued metadata (redirect URIs,
-- post-logout redirect URIs, grant types, scopes, audiences) are text[],
-- as users' roles are (SQLite keeps them as JSON arrays); the token
-- lifetimes are nanoseconds, 0 meaning the server's own. The id is
-- COLLATE "C", so clients are listed in bytewise id order as in SQLite.

-- +goose Up
CREATE TABLE clients (
    id                         text COLLATE "C" PRIMARY KEY,
    name                       text NOT NULL DEFAULT '',
    secret_hash                bytea,
    public                     boolean NOT NULL DEFAULT false,
    first_party                boolean NOT NULL DEFAULT false,
    token_endpoint_auth_method text NOT NULL DEFAULT '',
    redirect_uris              text[] NOT NULL DEFAULT '{}',
    post_logout_redirect_uris  text[] NOT NULL DEFAULT '{}',
    grant_types                text[] NOT NULL DEFAULT '{}',
    scopes                     text[] NOT NULL DEFAULT '{}',
    audiences                  text[] NOT NULL DEFAULT '{}',
    backchannel_logout_uri     text NOT NULL DEFAULT '',
    require_par                boolean NOT NULL DEFAULT false,
    access_token_ttl           bigint NOT NULL DEFAULT 0,
    refresh_token_ttl          bigint NOT NULL DEFAULT 0,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);

-- +goose Down
DROP TABLE clients;
