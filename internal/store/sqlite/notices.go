package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const noticeColumns = `session_id, client_id, user_id, due_at, ended_at, reason, attempts, lease, lease_until,
	done_at, outcome`

func scanNotice(row scanner) (store.LogoutNotice, error) {
	var (
		n                       store.LogoutNotice
		due, ended, until, done sql.NullInt64
		lease                   sql.NullString
	)
	if err := row.Scan(&n.SessionID, &n.ClientID, &n.UserID, &due, &ended, &n.Reason, &n.Attempts, &lease, &until,
		&done, &n.Outcome); err != nil {
		return store.LogoutNotice{}, formatError(err)
	}
	n.DueAt, n.EndedAt, n.LeaseUntil, n.DoneAt = fromTS(due), fromTS(ended), fromTS(until), fromTS(done)
	n.Lease = lease.String
	return n, nil
}

// armNotice creates the logout notice of a new session when its client
// has a back-channel logout URI, inside CreateSession's transaction. It
// is due at once: the next claim, which knows the idle timeout, moves it
// to the session's deadline.
func armNotice(ctx context.Context, tx *sql.Tx, s store.Session) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO logout_notices (session_id, client_id, user_id, due_at)
		SELECT ?, id, ?, ? FROM clients WHERE id = ? AND backchannel_logout_uri <> ''`,
		s.ID, s.UserID, ts(s.LastUsedAt), s.ClientID)
	return formatError(err)
}

// endNotices is the start of the UPDATE that marks ended, at ?1 for
// reason ?2, the armed notices a condition that follows it selects,
// inside the transaction that ends their sessions.
const endNotices = `UPDATE logout_notices SET ended_at = ?1, reason = ?2, due_at = ?1
	WHERE ended_at IS NULL AND done_at IS NULL AND `

// ClaimLogoutNotices ends the armed notices due at c.Now whose session is
// no longer live, moves the other armed due ones to their session's next
// deadline, and claims up to c.Limit ended ones, all in one write
// transaction: SQLite has one writer at a time, so two claims never see
// the same notice free.
func (db *DB) ClaimLogoutNotices(ctx context.Context, c store.NoticeClaim) ([]store.LogoutNotice, error) {
	if c.Now.IsZero() || c.Lease == "" || !c.LeaseUntil.After(c.Now) {
		return nil, errors.New("sqlite: logout notices: a claim needs a time, a lease and a lease end after it")
	}
	now, cut := ts(c.Now), ts(c.Now.Add(-c.IdleTimeout))
	var out []store.LogoutNotice
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The session is live as store.SessionQuery.LiveAt has it;
		// otherwise it ended, and why is read from what is left of it.
		if _, err := tx.ExecContext(ctx, `UPDATE logout_notices SET ended_at = ?1, due_at = ?1,
				reason = coalesce((SELECT CASE
					WHEN s.revoked_at IS NOT NULL THEN s.revoke_reason
					WHEN s.expires_at <= ?1 THEN 'lifetime_exceeded'
					ELSE 'idle_timeout' END
				FROM sessions s WHERE s.id = logout_notices.session_id), 'session_gone')
			WHERE ended_at IS NULL AND done_at IS NULL AND due_at <= ?1
			AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = logout_notices.session_id
				AND s.revoked_at IS NULL AND s.expires_at > ?1 AND s.last_used_at > ?2)`, now, cut); err != nil {
			return formatError(err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE logout_notices SET due_at = (SELECT min(s.expires_at, s.last_used_at + ?2)
				FROM sessions s WHERE s.id = logout_notices.session_id)
			WHERE ended_at IS NULL AND done_at IS NULL AND due_at <= ?1
			AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = logout_notices.session_id)`,
			now, int64(c.IdleTimeout)); err != nil {
			return formatError(err)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE logout_notices SET lease = ?1, lease_until = ?2
			WHERE session_id IN (SELECT session_id FROM logout_notices
				WHERE ended_at IS NOT NULL AND done_at IS NULL AND due_at <= ?3
				AND (lease_until IS NULL OR lease_until <= ?3)
				ORDER BY due_at, session_id LIMIT ?4)
			RETURNING `+noticeColumns, c.Lease, ts(c.LeaseUntil), now, limit(c.Limit))
		out, err = collect(rows, err, scanNotice)
		return err
	})
	if err != nil {
		return nil, err
	}
	sortNotices(out)
	return out, nil
}

// sortNotices puts claimed notices in the order they were chosen (oldest
// due first): RETURNING promises no order.
func sortNotices(ns []store.LogoutNotice) {
	slices.SortFunc(ns, func(a, b store.LogoutNotice) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
}

// SettleLogoutNotice records r and releases the claim, provided r.Lease
// still holds the notice; ErrNotFound otherwise, writing nothing.
func (db *DB) SettleLogoutNotice(ctx context.Context, r store.NoticeResult) error {
	if err := r.Check(); err != nil {
		return fmt.Errorf("sqlite: logout notice %s: %w", r.SessionID, err)
	}
	// A retry leaves the notice undone, whatever DoneAt and Outcome say.
	done, outcome, retry := ts(r.DoneAt), r.Outcome, ts(r.RetryAt)
	if !r.RetryAt.IsZero() {
		done, outcome = nil, ""
	}
	res, err := db.w.ExecContext(ctx, `UPDATE logout_notices SET attempts = ?, due_at = coalesce(?, due_at),
			done_at = ?, outcome = ?, lease = NULL, lease_until = NULL
		WHERE session_id = ? AND lease = ? AND done_at IS NULL`,
		r.Attempts, retry, done, outcome, r.SessionID, r.Lease)
	return deletedOne(res, err, "logout notice "+r.SessionID+" under this lease")
}

// LogoutNotice returns the session's notice, or ErrNotFound.
func (db *DB) LogoutNotice(ctx context.Context, sessionID string) (store.LogoutNotice, error) {
	return scanNotice(db.r.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM logout_notices WHERE session_id = ?`, sessionID))
}

// PruneLogoutNotices deletes the notices done before before.
func (db *DB) PruneLogoutNotices(ctx context.Context, before time.Time) (int, error) {
	return db.prune(ctx, `DELETE FROM logout_notices WHERE done_at < ?`, before)
}
