package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const sessionColumns = `id, user_id, client_id, auth_time, created_at, last_used_at, expires_at,
	created_ip, created_user_agent, last_ip, last_user_agent, device, csrf_hash, last_jti,
	credential_version, revoked_at, revoke_reason, audience, scope, access_ttl`

func scanSession(row pgx.Row) (store.Session, error) {
	var (
		s        store.Session
		revoked  pgtype.Timestamptz
		audience string
	)
	if err := row.Scan(&s.ID, &s.UserID, &s.ClientID, &s.AuthTime, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt,
		&s.CreatedIP, &s.CreatedUserAgent, &s.LastIP, &s.LastUserAgent, &s.Device, &s.CSRFHash,
		&s.LastJTI, &s.CredentialVersion, &revoked, &s.RevokeReason, &audience, &s.Scope, &s.AccessTTL); err != nil {
		return store.Session{}, formatError(err)
	}
	s.AuthTime, s.CreatedAt, s.LastUsedAt = s.AuthTime.UTC(), s.CreatedAt.UTC(), s.LastUsedAt.UTC()
	s.ExpiresAt, s.RevokedAt = s.ExpiresAt.UTC(), fromTS(revoked)
	s.Audience = strings.Fields(audience)
	return s, nil
}

// CreateSession inserts a session and its first refresh token, and the
// session's logout notice when its client has a back-channel logout URI,
// in one transaction.
func (db *DB) CreateSession(ctx context.Context, s store.Session, rt store.RefreshToken) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20)`,
			s.ID, s.UserID, s.ClientID, ts(s.AuthTime), ts(s.CreatedAt), ts(s.LastUsedAt), ts(s.ExpiresAt),
			s.CreatedIP, s.CreatedUserAgent, s.LastIP, s.LastUserAgent, s.Device, s.CSRFHash, s.LastJTI,
			s.CredentialVersion, ts(s.RevokedAt), s.RevokeReason, strings.Join(s.Audience, " "), s.Scope, int64(s.AccessTTL)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1,$2,$3)`,
			rt.Hash, s.ID, ts(rt.CreatedAt)); err != nil {
			return err
		}
		return armNotice(ctx, tx, s)
	})
}

// SessionByID returns the session, revoked or not, or ErrNotFound.
func (db *DB) SessionByID(ctx context.Context, id string) (store.Session, error) {
	return scanSession(db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
}

// ListSessions returns the sessions matching q, newest first (ids are
// COLLATE "C", so ties order bytewise as in SQLite).
func (db *DB) ListSessions(ctx context.Context, q store.SessionQuery) ([]store.Session, error) {
	var liveAt, idleAfter any
	if !q.LiveAt.IsZero() {
		liveAt, idleAfter = q.LiveAt, q.LiveAt.Add(-q.IdleTimeout)
	}
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE ($1 = '' OR user_id = $1)
		AND ($2::timestamptz IS NULL OR (revoked_at IS NULL AND expires_at > $2 AND last_used_at > $3))
		AND ($4 = '' OR (created_at, id) < (SELECT created_at, id FROM sessions WHERE id = $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`,
		q.UserID, liveAt, idleAfter, q.After, limit(q.Limit))
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, scanSession)
}

// PruneSessions deletes sessions (with their refresh tokens) that ended
// before endedBefore: revoked then, past their absolute end then, or idle
// for idle by then. It returns how many it deleted. A session refreshed
// while the DELETE waits for its row is re-checked as refreshed, and kept.
func (db *DB) PruneSessions(ctx context.Context, endedBefore time.Time, idle time.Duration) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE revoked_at < $1 OR expires_at < $1 OR last_used_at < $2`,
		endedBefore, endedBefore.Add(-idle))
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}

// RefreshToken returns the stored refresh token with the hash, or ErrNotFound.
func (db *DB) RefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	var (
		t     store.RefreshToken
		spent pgtype.Timestamptz
	)
	err := db.pool.QueryRow(ctx, `SELECT hash, session_id, created_at, spent_at, successor_hash, grace_blob
		FROM refresh_tokens WHERE hash = $1`, hash).Scan(&t.Hash, &t.SessionID, &t.CreatedAt, &spent, &t.SuccessorHash, &t.GraceBlob)
	if err != nil {
		return store.RefreshToken{}, formatError(err)
	}
	t.CreatedAt, t.SpentAt = t.CreatedAt.UTC(), fromTS(spent)
	return t, nil
}

// RotateRefreshToken spends r.OldHash, stores r.Next as the session's
// current token and records the session's last use, in one transaction.
//
// The session row is locked first, and only while the session is live: a
// revocation in flight is waited for and then seen, so no token is minted
// for a session revoked before the rotation commits. The spend is then a
// conditional UPDATE (only an unspent token matches): of two concurrent
// rotations of one token, the second waits for the first's row lock,
// re-checks spent_at against the committed row, matches nothing and gets
// ErrAlreadySpent; nothing is written.
func (db *DB) RotateRefreshToken(ctx context.Context, r store.Rotation) error {
	return db.tx(ctx, func(tx pgx.Tx) error {
		var live bool
		err := tx.QueryRow(ctx, `SELECT true FROM sessions WHERE id = $1 AND revoked_at IS NULL FOR NO KEY UPDATE`,
			r.Next.SessionID).Scan(&live)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w", store.ErrAlreadySpent)
		} else if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET spent_at = $1, successor_hash = $2, grace_blob = $3
			WHERE hash = $4 AND session_id = $5 AND spent_at IS NULL`,
			r.Now, r.Next.Hash, r.GraceBlob, r.OldHash, r.Next.SessionID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%w", store.ErrAlreadySpent)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1,$2,$3)`,
			r.Next.Hash, r.Next.SessionID, r.Now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET last_used_at = $1, last_ip = $2, last_user_agent = $3,
			last_jti = $4, csrf_hash = $5 WHERE id = $6`,
			r.Now, r.IP, r.UserAgent, r.JTI, r.CSRFHash, r.Next.SessionID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, r.Audit)
	})
}

// RevokeSession ends the session and, in the same transaction, appends ev
// (when its Type is set) and the session's entry in the revocation feed.
// Revoking an already revoked session changes nothing (no feed entry) and
// is not an error; an unknown id is ErrNotFound. The statement that ends
// the session also marks its armed logout notice ended. The UPDATE's
// revoked_at IS NULL is what makes two concurrent revocations append one
// entry: the second waits for the first's row lock and then matches
// nothing.
func (db *DB) RevokeSession(ctx context.Context, id, reason string, at time.Time, ev store.AuditEvent) error {
	return db.feedTx(ctx, func(tx pgx.Tx) error { return revokeSession(ctx, tx, id, reason, at, ev) })
}

// revokeSession is RevokeSession's transaction, run inside feedTx.
func revokeSession(ctx context.Context, tx pgx.Tx, id, reason string, at time.Time, ev store.AuditEvent) error {
	if _, err := appendFeed(ctx, tx, `WITH ended AS (
				UPDATE sessions SET revoked_at = $1, revoke_reason = $2
				WHERE id = $3 AND revoked_at IS NULL RETURNING id),
			`+endedNotices+`
			INSERT INTO revocations (session_id, revoked_at) SELECT id, $1 FROM ended
			RETURNING seq`, at, reason, id); err != nil {
		return err
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`, id).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("session %s: %w", id, store.ErrNotFound)
	}
	return appendAudit(ctx, tx, ev)
}

// RevokeUserSessions ends every live session of the user except the one
// with id except (which may be empty), appends ev and one feed entry per
// session it ends in the same transaction, and returns how many sessions
// it ended. The feed entries, and the logout notices marked ended, are
// exactly the rows the UPDATE changed (RETURNING), not a second read that
// could see a different set.
func (db *DB) RevokeUserSessions(ctx context.Context, userID, except, reason string, at time.Time, ev store.AuditEvent) (int, error) {
	var n int
	err := db.feedTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = appendFeed(ctx, tx, `WITH ended AS (
				UPDATE sessions SET revoked_at = $1, revoke_reason = $2
				WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL RETURNING id),
			`+endedNotices+`
			INSERT INTO revocations (session_id, revoked_at) SELECT id, $1 FROM ended ORDER BY id
			RETURNING seq`, at, reason, userID, except)
		if err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
	return n, err
}

// Revocations returns up to limit feed entries with seq after after, in
// ascending seq order. Appends are serialised by feedLock and commit in
// seq order, so a reader that saw seq N has seen every entry below it.
func (db *DB) Revocations(ctx context.Context, after int64, lim int) ([]store.Revocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT seq, session_id, revoked_at FROM revocations
		WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit(lim))
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, func(row pgx.Row) (store.Revocation, error) {
		var r store.Revocation
		if err := row.Scan(&r.Seq, &r.SessionID, &r.RevokedAt); err != nil {
			return r, formatError(err)
		}
		r.RevokedAt = r.RevokedAt.UTC()
		return r, nil
	})
}

// RevocationHead returns the highest seq committed (0 if none). It is read
// from revocation_head, which every append moves under feedLock, not from
// the identity sequence (which runs ahead of commits) nor max(seq) (which
// pruning moves back): a reader that starts after the head misses nothing
// committed later, and a guard whose cursor is above the head knows the
// store was replaced, not merely pruned.
func (db *DB) RevocationHead(ctx context.Context) (int64, error) {
	var head int64
	err := db.pool.QueryRow(ctx, `SELECT seq FROM revocation_head`).Scan(&head)
	return head, formatError(err)
}

// PruneRevocations deletes the feed entries revoked before before and
// returns how many it deleted. It needs no feedLock: it takes no seq and
// leaves the head where it is.
func (db *DB) PruneRevocations(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM revocations WHERE revoked_at < $1`, before)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}
