-- A session remembers the access-token lifetime its client registered,
-- in nanoseconds (0: the server's access_token_ttl), so that every
-- refresh issues tokens that live as long as the first.

-- +goose Up
ALTER TABLE sessions ADD COLUMN access_ttl bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sessions DROP COLUMN access_ttl;
