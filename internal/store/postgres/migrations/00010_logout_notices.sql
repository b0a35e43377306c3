-- OpenID Connect back-channel logout (Back-Channel Logout 1.0), the
-- PostgreSQL form of the SQLite table of the same version: one notice per
-- session of a client registered with a backchannel_logout_uri, created
-- with the session, owed to the client once the session ends for whatever
-- reason (a revocation, the user's deletion, the idle or the absolute
-- deadline passing). Times are timestamptz.
--
-- due_at is when the notice is next looked at: while it is armed
-- (ended_at NULL), the session's next deadline as last seen; once the
-- session has ended, the next delivery attempt. lease and lease_until are
-- the claim of the one sender (of any node) that holds it, taken by a
-- conditional UPDATE; done_at and outcome ('sent', 'failed', 'dropped')
-- say it is settled.
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
    session_id  text COLLATE "C" PRIMARY KEY,
    client_id   text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    due_at      timestamptz NOT NULL,
    ended_at    timestamptz,
    reason      text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    lease       text,
    lease_until timestamptz,
    done_at     timestamptz,
    outcome     text NOT NULL DEFAULT ''
);
CREATE INDEX logout_notices_due ON logout_notices(due_at) WHERE done_at IS NULL;
CREATE INDEX logout_notices_armed ON logout_notices(user_id) WHERE ended_at IS NULL;
CREATE INDEX logout_notices_done ON logout_notices(done_at) WHERE done_at IS NOT NULL;

INSERT INTO logout_notices (session_id, client_id, user_id, due_at)
SELECT s.id, s.client_id, s.user_id, s.last_used_at
FROM sessions s JOIN clients c ON c.id = s.client_id
WHERE c.backchannel_logout_uri <> '' AND s.revoked_at IS NULL;

-- +goose Down
DROP TABLE logout_notices;
