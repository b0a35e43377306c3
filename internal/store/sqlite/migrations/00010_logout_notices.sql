-- OpenID Connect back-channel logout (Back-Channel Logout 1.0): one notice
-- per session of a client registered with a backchannel_logout_uri,
-- created with the session, owed to the client once the session ends for
-- whatever reason (a revocation, the user's deletion, the idle or the
-- absolute deadline passing). Times are Unix nanoseconds.
--
-- due_at is when the notice is next looked at: while it is armed
-- (ended_at NULL), the session's next deadline as last seen; once the
-- session has ended, the next delivery attempt. lease and lease_until are
-- the claim of the one sender (of any node) that holds it; done_at and
-- outcome ('sent', 'failed', 'dropped') say it is settled.
--
-- No foreign key: the notice outlives its session (a deleted user's
-- sessions go with it, and the notice is what is left to send), so it
-- keeps the client and the user itself.
--
-- Sessions already live at this version, of clients that registered a
-- back-channel URI, get an armed notice due at once; the first claim
-- looks at them. Sessions revoked before it are owed nothing.

-- +goose Up
CREATE TABLE logout_notices (
    session_id  TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    due_at      INTEGER NOT NULL,
    ended_at    INTEGER,
    reason      TEXT NOT NULL DEFAULT '',
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease       TEXT,
    lease_until INTEGER,
    done_at     INTEGER,
    outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX logout_notices_due ON logout_notices(due_at) WHERE done_at IS NULL;
CREATE INDEX logout_notices_armed ON logout_notices(user_id) WHERE ended_at IS NULL;
CREATE INDEX logout_notices_done ON logout_notices(done_at) WHERE done_at IS NOT NULL;

INSERT INTO logout_notices (session_id, client_id, user_id, due_at)
SELECT s.id, s.client_id, s.user_id, s.last_used_at
FROM sessions s JOIN clients c ON c.id = s.client_id
WHERE c.backchannel_logout_uri <> '' AND s.revoked_at IS NULL;

-- +goose Down
DROP INDEX logout_notices_done;
DROP INDEX logout_notices_armed;
DROP INDEX logout_notices_due;
DROP TABLE logout_notices;
