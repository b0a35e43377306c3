-- An authorization code carries its session's first tokens, sealed under
-- a key derived from the code (which is stored only as its SHA-256), from
-- the consent that created the session to the one exchange that takes
-- them. The column is cleared when the code is redeemed.

-- +goose Up
ALTER TABLE auth_codes ADD COLUMN grant_blob bytea;

-- +goose Down
ALTER TABLE auth_codes DROP COLUMN grant_blob;
