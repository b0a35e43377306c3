-- Login limits shared by every node (internal/limiter; docs/security/
-- lockout.md). Two tables, because the two rules forget differently:
--
-- login_pairs is one row per (account, client IP) with failures in its
-- current run: the back-off and the lock. A failure is an upsert on it
-- (concurrent failures of one pair queue on its row, so the count is
-- exact); a success deletes the row; a run idle longer than lock_for +
-- backoff_max + 1 hour restarts at the next failure, and the hourly
-- pruner deletes such rows.
--
-- login_failures is one row per failure, for the account-wide ceiling
-- over any rolling hour. A success does not touch it (logging into an
-- account of one's own must not reset the ceiling), and rows older than
-- the hour are pruned.
--
-- Only failed logins write here. No foreign key: the account is the
-- normalised username whether or not such a user exists.

-- +goose Up
CREATE TABLE login_pairs (
    account      text COLLATE "C" NOT NULL,
    ip           text COLLATE "C" NOT NULL,
    failures     integer NOT NULL,
    last_failure timestamptz NOT NULL,
    PRIMARY KEY (account, ip)
);

CREATE TABLE login_failures (
    account text COLLATE "C" NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX login_failures_account_at ON login_failures(account, at);

-- +goose Down
DROP INDEX login_failures_account_at;
DROP TABLE login_failures;
DROP TABLE login_pairs;
