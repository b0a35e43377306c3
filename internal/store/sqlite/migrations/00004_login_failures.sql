-- Intentionally empty. Version 4 of the PostgreSQL schema holds the login
-- limits that nodes sharing one database must share (login_pairs,
-- login_failures). A SQLite file serves exactly one node, whose limiter
-- counts in memory, so SQLite needs no tables for them; the version
-- exists so that both dialects stay one numbered set.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
