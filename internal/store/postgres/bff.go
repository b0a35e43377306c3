package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const bffColumns = `hash, issuer, subject, sid, tokens, access_expires_at, version, lease_holder, lease_until,
	created_at, last_used_at, expires_at`

func scanBFFSession(row pgx.Row) (store.BFFSession, error) {
	var (
		s                    store.BFFSession
		accessExpires, until pgtype.Timestamptz
		holder               pgtype.Text
	)
	if err := row.Scan(&s.Hash, &s.Issuer, &s.Subject, &s.SID, &s.Tokens, &accessExpires, &s.Version, &holder, &until,
		&s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt); err != nil {
		return store.BFFSession{}, formatError(err)
	}
	s.AccessExpiresAt, s.LeaseUntil = fromTS(accessExpires), fromTS(until)
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC()
	s.LeaseHolder = holder.String
	return s, nil
}

// nullText is s, or NULL when it is empty.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// blob is b, or the empty bytea for nil, which pgx would send as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreateBFFSession inserts s. Returns ErrConflict if the hash is taken.
func (db *DB) CreateBFFSession(ctx context.Context, s store.BFFSession) error {
	if err := checkBFFSession(s); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO bff_sessions (`+bffColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
		s.Hash, s.Issuer, s.Subject, s.SID, blob(s.Tokens), ts(s.AccessExpiresAt), s.Version,
		nullText(s.LeaseHolder), ts(s.LeaseUntil), ts(s.CreatedAt), ts(s.LastUsedAt), ts(s.ExpiresAt))
	if err = formatError(err); errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("BFF session: %w", store.ErrConflict)
	}
	return err
}

// checkBFFSession refuses a session without its key or its times, which
// would be stored as NULL, or with half a lease.
func checkBFFSession(s store.BFFSession) error {
	switch {
	case len(s.Hash) == 0 || s.CreatedAt.IsZero() || s.LastUsedAt.IsZero() || s.ExpiresAt.IsZero():
		return errors.New("postgres: BFF session: needs a hash, a creation, a last use and an expiry time")
	case (s.LeaseHolder == "") != s.LeaseUntil.IsZero():
		return errors.New("postgres: BFF session: a lease is a holder and an end, or neither")
	}
	return nil
}

// BFFSession returns the session with the hash, or ErrNotFound.
func (db *DB) BFFSession(ctx context.Context, hash []byte) (store.BFFSession, error) {
	s, err := scanBFFSession(db.pool.QueryRow(ctx, `SELECT `+bffColumns+` FROM bff_sessions WHERE hash = $1`, hash))
	if errors.Is(err, store.ErrNotFound) {
		return store.BFFSession{}, fmt.Errorf("BFF session: %w", store.ErrNotFound)
	}
	return s, err
}

// TouchBFFSession sets the session's last use to at; ErrNotFound if
// there is none.
func (db *DB) TouchBFFSession(ctx context.Context, hash []byte, at time.Time) error {
	if at.IsZero() {
		return errors.New("postgres: BFF session: touched at the zero time")
	}
	tag, err := db.pool.Exec(ctx, `UPDATE bff_sessions SET last_used_at = $1 WHERE hash = $2`, at, hash)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("BFF session: %w", store.ErrNotFound)
	}
	return nil
}

// LeaseBFFRefresh takes the session's refresh lease for holder until
// until if no lease lasts past now, and returns the session as stored
// afterwards with true; otherwise it returns the session unchanged with
// false. ErrNotFound if there is no session.
//
// The lease is taken by one conditional UPDATE: of concurrent callers, on
// any node, the first locks the row; the others wait for it and, at READ
// COMMITTED, re-check the WHERE against the row it committed, find the
// lease taken and update nothing. A caller that took nothing reads the
// row in a statement of its own, whose snapshot holds the lease it lost
// to (or what became of it since).
func (db *DB) LeaseBFFRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (store.BFFSession, bool, error) {
	if holder == "" || now.IsZero() || !until.After(now) {
		return store.BFFSession{}, false, errors.New("postgres: BFF session: a lease needs a holder, a time and an end after it")
	}
	s, err := scanBFFSession(db.pool.QueryRow(ctx, `UPDATE bff_sessions SET lease_holder = $1, lease_until = $2
		WHERE hash = $3 AND (lease_until IS NULL OR lease_until <= $4)
		RETURNING `+bffColumns, holder, until, hash, now))
	if err == nil {
		return s, true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return store.BFFSession{}, false, err
	}
	s, err = db.BFFSession(ctx, hash)
	if err != nil {
		return store.BFFSession{}, false, err
	}
	return s, false, nil
}

// UpdateBFFTokens stores the tokens and expiries a refresh under holder's
// lease obtained, adds one to the version and clears the lease, in one
// UPDATE that only applies while holder holds the lease (re-checked, as
// in LeaseBFFRefresh, against a row another transaction changed
// meanwhile), and returns the session so updated. ErrLeaseLost, writing
// nothing, if holder does not hold it; ErrNotFound if there is no
// session.
func (db *DB) UpdateBFFTokens(ctx context.Context, hash []byte, holder string, tokens []byte,
	accessExpiresAt, expiresAt time.Time) (store.BFFSession, error) {
	if expiresAt.IsZero() {
		return store.BFFSession{}, errors.New("postgres: BFF session: updated without an expiry time")
	}
	s, err := scanBFFSession(db.pool.QueryRow(ctx, `UPDATE bff_sessions SET tokens = $1, access_expires_at = $2,
			expires_at = $3, version = version + 1, lease_holder = NULL, lease_until = NULL
		WHERE hash = $4 AND lease_holder = $5
		RETURNING `+bffColumns, blob(tokens), ts(accessExpiresAt), expiresAt, hash, holder))
	if !errors.Is(err, store.ErrNotFound) {
		return s, err
	}
	var exists bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bff_sessions WHERE hash = $1)`, hash).Scan(&exists); err != nil {
		return store.BFFSession{}, formatError(err)
	}
	if !exists {
		return store.BFFSession{}, fmt.Errorf("BFF session: %w", store.ErrNotFound)
	}
	return store.BFFSession{}, fmt.Errorf("BFF session refresh: %w", store.ErrLeaseLost)
}

// ReleaseBFFRefresh clears the session's refresh lease if holder holds
// it, and does nothing otherwise.
func (db *DB) ReleaseBFFRefresh(ctx context.Context, hash []byte, holder string) error {
	_, err := db.pool.Exec(ctx, `UPDATE bff_sessions SET lease_holder = NULL, lease_until = NULL
		WHERE hash = $1 AND lease_holder = $2`, hash, holder)
	return formatError(err)
}

// DeleteBFFSession deletes the session with the hash, if there is one.
func (db *DB) DeleteBFFSession(ctx context.Context, hash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM bff_sessions WHERE hash = $1`, hash)
	return formatError(err)
}

// DeleteBFFSessionsBySID deletes the issuer's sessions with the sid and
// reports how many; an empty sid deletes nothing.
func (db *DB) DeleteBFFSessionsBySID(ctx context.Context, issuer, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	return db.execCount(ctx, `DELETE FROM bff_sessions WHERE issuer = $1 AND sid = $2`, issuer, sid)
}

// DeleteBFFSessionsBySubject deletes the issuer's sessions of the subject
// and reports how many; an empty subject deletes nothing.
func (db *DB) DeleteBFFSessionsBySubject(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	return db.execCount(ctx, `DELETE FROM bff_sessions WHERE issuer = $1 AND subject = $2`, issuer, subject)
}

// PruneBFFSessions deletes the sessions that expired before before.
func (db *DB) PruneBFFSessions(ctx context.Context, before time.Time) (int, error) {
	return db.execCount(ctx, `DELETE FROM bff_sessions WHERE expires_at < $1`, before)
}

// execCount runs a statement and reports how many rows it changed.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int, error) {
	tag, err := db.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}
