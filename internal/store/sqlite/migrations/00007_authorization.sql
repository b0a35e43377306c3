-- The OAuth authorization server's short-lived state and remembered
-- consents: authorization codes (RFC 6749 §4.1.2) and pushed authorization
-- requests (RFC 9126), each kept only under the SHA-256 of the code or of
-- the request_uri, and each user's consent to each client. Times are Unix
-- nanoseconds; a code's redeemed_at is NULL until it is exchanged. The
-- list-valued columns (a code's audience, a consent's scopes) are JSON
-- arrays of strings, as users' roles are.
--
-- Foreign keys follow what the schema does for sessions and refresh
-- tokens: rows that only mean something through another row go with it. A
-- code belongs to a session, so it is deleted with the session (and so
-- with its user); a consent is deleted with its user. Clients are not
-- referenced: a deleted client's codes and pushed requests simply fail
-- when used, there being no client to use them for, until they are
-- pruned; and since client ids are random and never reissued, a deleted
-- client's consents cannot apply to another client.

-- +goose Up
CREATE TABLE auth_codes (
    hash           BLOB PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    session_id     TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL DEFAULT '',
    scope          TEXT NOT NULL DEFAULT '',
    audience       TEXT NOT NULL DEFAULT '[]',
    code_challenge TEXT NOT NULL DEFAULT '',
    nonce          TEXT NOT NULL DEFAULT '',
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    redeemed_at    INTEGER
);
CREATE INDEX auth_codes_session ON auth_codes(session_id);
CREATE INDEX auth_codes_expires ON auth_codes(expires_at);

CREATE TABLE pushed_requests (
    hash       BLOB PRIMARY KEY,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX pushed_requests_expires ON pushed_requests(expires_at);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scopes     TEXT NOT NULL DEFAULT '[]',
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- +goose Down
DROP TABLE consents;
DROP INDEX pushed_requests_expires;
DROP TABLE pushed_requests;
DROP INDEX auth_codes_expires;
DROP INDEX auth_codes_session;
DROP TABLE auth_codes;
