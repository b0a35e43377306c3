-- Signing keys have a purpose, each a rotation lineage of its own, the
-- PostgreSQL form of the SQLite column of the same version: 'access' keys
-- sign access tokens (JOSE typ at+jwt), 'id' keys sign the OpenID Connect
-- provider's ID tokens (typ JWT). Adding a key retires only the keys of
-- its purpose, and the compare-and-set that adds it looks at the newest
-- key of its purpose alone. Every key from before this version signed
-- access tokens, hence the default.

-- +goose Up
ALTER TABLE signing_keys ADD COLUMN purpose text NOT NULL DEFAULT 'access';

-- +goose Down
-- Without the column every key would be an access key, and an ID-token
-- key activated last would sign access tokens: the id keys go first.
DELETE FROM signing_keys WHERE purpose <> 'access';
ALTER TABLE signing_keys DROP COLUMN purpose;
