-- A client that authenticates with private_key_jwt (RFC 7523 §2.2,
-- OpenID Connect Core §9) registers its public keys (RFC 7591 §2 jwks),
-- and each assertion it signs is used once: its jti is remembered, under
-- its SHA-256, until the assertion expires.

-- +goose Up
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';

CREATE TABLE client_assertions (
    client_id  TEXT NOT NULL,
    jti_hash   BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertions_expires ON client_assertions(expires_at);

-- +goose Down
DROP INDEX client_assertions_expires;
DROP TABLE client_assertions;
ALTER TABLE clients DROP COLUMN jwks;
