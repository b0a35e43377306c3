package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const noticeColumns = `session_id, client_id, user_id, due_at, ended_at, reason, attempts, lease, lease_until,
	done_at, outcome`

func scanNotice(row pgx.Row) (store.LogoutNotice, error) {
	var (
		n                  store.LogoutNotice
		ended, until, done pgtype.Timestamptz
		lease              pgtype.Text
	)
	if err := row.Scan(&n.SessionID, &n.ClientID, &n.UserID, &n.DueAt, &ended, &n.Reason, &n.Attempts, &lease, &until,
		&done, &n.Outcome); err != nil {
		return store.LogoutNotice{}, formatError(err)
	}
	n.DueAt, n.EndedAt, n.LeaseUntil, n.DoneAt = n.DueAt.UTC(), fromTS(ended), fromTS(until), fromTS(done)
	n.Lease = lease.String
	return n, nil
}

// armNotice creates the logout notice of a new session when its client
// has a back-channel logout URI, inside CreateSession's transaction. It
// is due at once: the next claim, which knows the idle timeout, moves it
// to the session's deadline.
func armNotice(ctx context.Context, tx pgx.Tx, s store.Session) error {
	_, err := tx.Exec(ctx, `INSERT INTO logout_notices (session_id, client_id, user_id, due_at)
		SELECT $1, id, $2, $3 FROM clients WHERE id = $4 AND backchannel_logout_uri <> ''`,
		s.ID, s.UserID, ts(s.LastUsedAt), s.ClientID)
	return err
}

// endedNotices is a data-modifying WITH item for the statements that end
// sessions (RevokeSession, RevokeUserSessions): it marks ended, at $1 for
// reason $2, the armed notices of the sessions the item "ended" returns,
// in the same statement, so exactly the sessions it ended.
const endedNotices = `noticed AS (
				UPDATE logout_notices n SET ended_at = $1, reason = $2, due_at = $1 FROM ended
				WHERE n.session_id = ended.id AND n.ended_at IS NULL AND n.done_at IS NULL)`

// ClaimLogoutNotices ends the armed notices due at c.Now whose session is
// no longer live, moves the other armed due ones to their session's next
// deadline, and claims up to c.Limit ended ones, in one transaction.
//
// The claim is a SELECT ... FOR UPDATE SKIP LOCKED of free notices and an
// UPDATE of exactly those: a notice another claim has locked is skipped,
// and one that another claim took and committed after this statement's
// snapshot is re-checked against the committed row (READ COMMITTED), found
// leased, and left out; the UPDATE checks the lease again, so that the
// WHERE re-checked is the lease's own. Of concurrent claims on any number of nodes, no
// two get the same notice while its lease holds. The two armed-notice
// updates only touch rows still armed, re-checked the same way, so a
// session revoked meanwhile (whose revocation marks its notice ended) is
// not moved back to armed.
func (db *DB) ClaimLogoutNotices(ctx context.Context, c store.NoticeClaim) ([]store.LogoutNotice, error) {
	if c.Now.IsZero() || c.Lease == "" || !c.LeaseUntil.After(c.Now) {
		return nil, errors.New("postgres: logout notices: a claim needs a time, a lease and a lease end after it")
	}
	cut := c.Now.Add(-c.IdleTimeout)
	var out []store.LogoutNotice
	err := db.tx(ctx, func(tx pgx.Tx) error {
		// The session is live as store.SessionQuery.LiveAt has it;
		// otherwise it ended, and why is read from what is left of it.
		if _, err := tx.Exec(ctx, `UPDATE logout_notices n SET ended_at = $1, due_at = $1,
				reason = coalesce((SELECT CASE
					WHEN s.revoked_at IS NOT NULL THEN s.revoke_reason
					WHEN s.expires_at <= $1 THEN 'lifetime_exceeded'
					ELSE 'idle_timeout' END
				FROM sessions s WHERE s.id = n.session_id), 'session_gone')
			WHERE n.ended_at IS NULL AND n.done_at IS NULL AND n.due_at <= $1
			AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = n.session_id
				AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.last_used_at > $2)`, c.Now, cut); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE logout_notices n SET due_at = least(s.expires_at, s.last_used_at + $3::interval)
			FROM sessions s
			WHERE s.id = n.session_id AND n.ended_at IS NULL AND n.done_at IS NULL AND n.due_at <= $1
			AND s.revoked_at IS NULL AND s.expires_at > $1 AND s.last_used_at > $2`, c.Now, cut, c.IdleTimeout); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `WITH free AS (
				SELECT session_id FROM logout_notices
				WHERE ended_at IS NOT NULL AND done_at IS NULL AND due_at <= $3
				AND (lease_until IS NULL OR lease_until <= $3)
				ORDER BY due_at, session_id LIMIT $4
				FOR UPDATE SKIP LOCKED)
			UPDATE logout_notices n SET lease = $1, lease_until = $2 FROM free
			WHERE n.session_id = free.session_id AND n.done_at IS NULL AND (n.lease_until IS NULL OR n.lease_until <= $3)
			RETURNING `+qualified("n", noticeColumns), c.Lease, c.LeaseUntil, c.Now, limit(c.Limit))
		if err != nil {
			return err
		}
		out, err = collect(rows, scanNotice)
		return err
	})
	if err != nil {
		return nil, formatError(err)
	}
	slices.SortFunc(out, func(a, b store.LogoutNotice) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	return out, nil
}

// qualified prefixes every column of a column list with the table alias.
func qualified(alias, columns string) string {
	fields := strings.Split(columns, ",")
	for i, f := range fields {
		fields[i] = alias + "." + strings.TrimSpace(f)
	}
	return strings.Join(fields, ", ")
}

// SettleLogoutNotice records r and releases the claim, provided r.Lease
// still holds the notice; ErrNotFound otherwise, writing nothing.
func (db *DB) SettleLogoutNotice(ctx context.Context, r store.NoticeResult) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("postgres: logout notice %s: %w", r.SessionID, err)
	}
	// A retry leaves the notice undone, whatever DoneAt and Outcome say.
	done, outcome := ts(r.DoneAt), r.Outcome
	if !r.RetryAt.IsZero() {
		done, outcome = nil, ""
	}
	tag, err := db.pool.Exec(ctx, `UPDATE logout_notices SET attempts = $1, due_at = coalesce($2, due_at),
			done_at = $3, outcome = $4, lease = NULL, lease_until = NULL
		WHERE session_id = $5 AND lease = $6 AND done_at IS NULL`,
		r.Attempts, ts(r.RetryAt), done, outcome, r.SessionID, r.Lease)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("logout notice %s under this lease: %w", r.SessionID, store.ErrNotFound)
	}
	return nil
}

// LogoutNotice returns the session's notice, or ErrNotFound.
func (db *DB) LogoutNotice(ctx context.Context, sessionID string) (store.LogoutNotice, error) {
	return scanNotice(db.pool.QueryRow(ctx, `SELECT `+noticeColumns+` FROM logout_notices WHERE session_id = $1`, sessionID))
}

// PruneLogoutNotices deletes the notices done before before.
func (db *DB) PruneLogoutNotices(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM logout_notices WHERE done_at < $1`, before)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}
