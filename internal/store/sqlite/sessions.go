package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const sessionColumns = `id, user_id, client_id, auth_time, created_at, last_used_at, expires_at,
	created_ip, created_user_agent, last_ip, last_user_agent, device, csrf_hash, last_jti,
	credential_version, revoked_at, revoke_reason, audience, scope, access_ttl`

func scanSession(row scanner) (store.Session, error) {
	var (
		s                                         store.Session
		authTime, created, lastUsed, exp, revoked sql.NullInt64
		audience                                  string
	)
	if err := row.Scan(&s.ID, &s.UserID, &s.ClientID, &authTime, &created, &lastUsed, &exp,
		&s.CreatedIP, &s.CreatedUserAgent, &s.LastIP, &s.LastUserAgent, &s.Device, &s.CSRFHash,
		&s.LastJTI, &s.CredentialVersion, &revoked, &s.RevokeReason, &audience, &s.Scope, &s.AccessTTL); err != nil {
		return store.Session{}, formatError(err)
	}
	s.AuthTime, s.CreatedAt, s.LastUsedAt = fromTS(authTime), fromTS(created), fromTS(lastUsed)
	s.ExpiresAt, s.RevokedAt = fromTS(exp), fromTS(revoked)
	s.Audience = strings.Fields(audience)
	return s, nil
}

// CreateSession inserts a session and its first refresh token, and the
// session's logout notice when its client has a back-channel logout URI,
// in one transaction.
func (db *DB) CreateSession(ctx context.Context, s store.Session, rt store.RefreshToken) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			s.ID, s.UserID, s.ClientID, ts(s.AuthTime), ts(s.CreatedAt), ts(s.LastUsedAt), ts(s.ExpiresAt),
			s.CreatedIP, s.CreatedUserAgent, s.LastIP, s.LastUserAgent, s.Device, s.CSRFHash, s.LastJTI,
			s.CredentialVersion, ts(s.RevokedAt), s.RevokeReason, strings.Join(s.Audience, " "), s.Scope, int64(s.AccessTTL))
		if err != nil {
			return formatError(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?,?,?)`,
			rt.Hash, s.ID, ts(rt.CreatedAt))
		if err != nil {
			return formatError(err)
		}
		return armNotice(ctx, tx, s)
	})
}

// SessionByID returns the session, revoked or not, or ErrNotFound.
func (db *DB) SessionByID(ctx context.Context, id string) (store.Session, error) {
	return scanSession(db.r.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
}

// ListSessions returns the sessions matching q, newest first.
func (db *DB) ListSessions(ctx context.Context, q store.SessionQuery) ([]store.Session, error) {
	live := !q.LiveAt.IsZero()
	rows, err := db.r.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE (? = '' OR user_id = ?)
		AND (? = 0 OR (revoked_at IS NULL AND expires_at > ? AND last_used_at > ?))
		AND (? = '' OR (created_at, id) < (SELECT created_at, id FROM sessions WHERE id = ?))
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		q.UserID, q.UserID, live, ts(q.LiveAt), ts(q.LiveAt.Add(-q.IdleTimeout)), q.After, q.After, limit(q.Limit))
	return collect(rows, err, scanSession)
}

// PruneSessions deletes sessions (with their refresh tokens) that ended
// before endedBefore: revoked then, past their absolute end then, or idle
// for idle by then. It returns how many it deleted.
func (db *DB) PruneSessions(ctx context.Context, endedBefore time.Time, idle time.Duration) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE revoked_at < ? OR expires_at < ? OR last_used_at < ?`,
			ts(endedBefore), ts(endedBefore), ts(endedBefore.Add(-idle)))
		if err != nil {
			return formatError(err)
		}
		n, err = res.RowsAffected()
		return formatError(err)
	})
	return int(n), err
}

// RefreshToken returns the stored refresh token with the hash, or ErrNotFound.
func (db *DB) RefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	var (
		t              store.RefreshToken
		created, spent sql.NullInt64
	)
	err := db.r.QueryRowContext(ctx, `SELECT hash, session_id, created_at, spent_at, successor_hash, grace_blob
		FROM refresh_tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.SessionID, &created, &spent, &t.SuccessorHash, &t.GraceBlob)
	if err != nil {
		return store.RefreshToken{}, formatError(err)
	}
	t.CreatedAt, t.SpentAt = fromTS(created), fromTS(spent)
	return t, nil
}

// RotateRefreshToken spends r.OldHash, stores r.Next as the session's
// current token and records the session's last use, in one transaction.
// The spend is a conditional UPDATE (only an unspent token of a live
// session matches), so of two concurrent rotations of one token exactly one
// succeeds; the other gets ErrAlreadySpent and nothing is written.
func (db *DB) RotateRefreshToken(ctx context.Context, r store.Rotation) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = ?, successor_hash = ?, grace_blob = ?
			WHERE hash = ? AND session_id = ? AND spent_at IS NULL
			AND EXISTS (SELECT 1 FROM sessions WHERE id = ? AND revoked_at IS NULL)`,
			ts(r.Now), r.Next.Hash, r.GraceBlob, r.OldHash, r.Next.SessionID, r.Next.SessionID)
		if err != nil {
			return formatError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return formatError(err)
		} else if n != 1 {
			return fmt.Errorf("%w", store.ErrAlreadySpent)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?,?,?)`,
			r.Next.Hash, r.Next.SessionID, ts(r.Now)); err != nil {
			return formatError(err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = ?, last_ip = ?, last_user_agent = ?,
			last_jti = ?, csrf_hash = ? WHERE id = ?`,
			ts(r.Now), r.IP, r.UserAgent, r.JTI, r.CSRFHash, r.Next.SessionID)
		if err != nil {
			return formatError(err)
		}
		return appendAudit(ctx, tx, r.Audit)
	})
}

// RevokeSession ends the session and, in the same transaction, appends ev
// (when its Type is set) and the session's entry in the revocation feed,
// and marks its armed logout notice ended.
// Revoking an already revoked session changes nothing (no feed entry) and
// is not an error; an unknown id is ErrNotFound.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, at time.Time, ev store.AuditEvent) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, id).Scan(&exists); err != nil {
			return formatError(err)
		}
		if exists == 0 {
			return fmt.Errorf("session %s: %w", id, store.ErrNotFound)
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
			WHERE id = ? AND revoked_at IS NULL`, ts(at), reason, id)
		if err != nil {
			return formatError(err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return formatError(err)
		} else if n == 1 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, revoked_at) VALUES (?,?)`,
				id, ts(at)); err != nil {
				return formatError(err)
			}
			if _, err := tx.ExecContext(ctx, endNotices+`session_id = ?3`, ts(at), reason, id); err != nil {
				return formatError(err)
			}
		}
		return appendAudit(ctx, tx, ev)
	})
}

// RevokeUserSessions ends every live session of the user except the one
// with id except (which may be empty), appends ev and one feed entry per
// session it ends and marks their armed logout notices ended in the same
// transaction, and returns how many sessions it ended.
func (db *DB) RevokeUserSessions(ctx context.Context, userID, except, reason string, at time.Time, ev store.AuditEvent) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The feed entries first, with the very predicate of the UPDATE:
		// inside one write transaction both see the same sessions.
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, revoked_at)
			SELECT id, ? FROM sessions WHERE user_id = ? AND id <> ? AND revoked_at IS NULL ORDER BY id`,
			ts(at), userID, except); err != nil {
			return formatError(err)
		}
		if _, err := tx.ExecContext(ctx, endNotices+`session_id IN (SELECT id FROM sessions
			WHERE user_id = ?3 AND id <> ?4 AND revoked_at IS NULL)`, ts(at), reason, userID, except); err != nil {
			return formatError(err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
			WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`, ts(at), reason, userID, except)
		if err != nil {
			return formatError(err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return formatError(err)
		}
		return appendAudit(ctx, tx, ev)
	})
	return int(n), err
}

// Revocations returns up to limit feed entries with seq after after, in
// ascending seq order. In SQLite a seq is assigned inside the one write
// transaction there can be at a time, so seq order is commit order and a
// reader that saw seq N has seen every entry below it.
func (db *DB) Revocations(ctx context.Context, after int64, limit int) ([]store.Revocation, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := db.r.QueryContext(ctx, `SELECT seq, session_id, revoked_at FROM revocations
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []store.Revocation
	for rows.Next() {
		var (
			r  store.Revocation
			at sql.NullInt64
		)
		if err := rows.Scan(&r.Seq, &r.SessionID, &at); err != nil {
			return nil, formatError(err)
		}
		r.RevokedAt = fromTS(at)
		out = append(out, r)
	}
	return out, formatError(rows.Err())
}

// RevocationHead returns the highest seq ever assigned (0 if none). It is
// read from sqlite_sequence, not max(seq), so pruning every row does not
// move it back: a guard whose cursor is above the head knows the store was
// replaced, not merely pruned.
func (db *DB) RevocationHead(ctx context.Context) (int64, error) {
	var head int64
	err := db.r.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'revocations'`).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return head, formatError(err)
}

// PruneRevocations deletes the feed entries revoked before before and
// returns how many it deleted.
func (db *DB) PruneRevocations(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revocations WHERE revoked_at < ?`, ts(before))
		if err != nil {
			return formatError(err)
		}
		n, err = res.RowsAffected()
		return formatError(err)
	})
	return int(n), err
}
