-- Each session records who its tokens are issued to beyond the client:
-- the audience (the resource servers, space-separated URIs) and the scope
-- granted at login, so that every refresh issues them again unchanged.
-- Empty, as every session from before this version has them, means the
-- first-party defaults (audience, access_token_scope).

-- +goose Up
ALTER TABLE sessions ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN scope TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE sessions DROP COLUMN scope;
ALTER TABLE sessions DROP COLUMN audience;
