package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const bffColumns = `hash, issuer, subject, sid, tokens, access_expires_at, version, lease_holder, lease_until,
	created_at, last_used_at, expires_at`

func scanBFFSession(row scanner) (store.BFFSession, error) {
	var (
		s                                       store.BFFSession
		accessExpires, until, created, used, ex sql.NullInt64
		holder                                  sql.NullString
	)
	if err := row.Scan(&s.Hash, &s.Issuer, &s.Subject, &s.SID, &s.Tokens, &accessExpires, &s.Version, &holder, &until,
		&created, &used, &ex); err != nil {
		return store.BFFSession{}, formatError(err)
	}
	s.AccessExpiresAt, s.LeaseUntil = fromTS(accessExpires), fromTS(until)
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = fromTS(created), fromTS(used), fromTS(ex)
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

// blob is b, or the empty blob for nil, which database/sql would send as
// NULL.
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
	_, err := db.w.ExecContext(ctx, `INSERT INTO bff_sessions (`+bffColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
		s.Hash, s.Issuer, s.Subject, s.SID, blob(s.Tokens), ts(s.AccessExpiresAt), s.Version, nullText(s.LeaseHolder), ts(s.LeaseUntil),
		ts(s.CreatedAt), ts(s.LastUsedAt), ts(s.ExpiresAt))
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
		return errors.New("sqlite: BFF session: needs a hash, a creation, a last use and an expiry time")
	case (s.LeaseHolder == "") != s.LeaseUntil.IsZero():
		return errors.New("sqlite: BFF session: a lease is a holder and an end, or neither")
	}
	return nil
}

// BFFSession returns the session with the hash, or ErrNotFound.
func (db *DB) BFFSession(ctx context.Context, hash []byte) (store.BFFSession, error) {
	s, err := scanBFFSession(db.r.QueryRowContext(ctx, `SELECT `+bffColumns+` FROM bff_sessions WHERE hash = ?`, hash))
	if errors.Is(err, store.ErrNotFound) {
		return store.BFFSession{}, fmt.Errorf("BFF session: %w", store.ErrNotFound)
	}
	return s, err
}

// TouchBFFSession sets the session's last use to at; ErrNotFound if
// there is none.
func (db *DB) TouchBFFSession(ctx context.Context, hash []byte, at time.Time) error {
	if at.IsZero() {
		return errors.New("sqlite: BFF session: touched at the zero time")
	}
	res, err := db.w.ExecContext(ctx, `UPDATE bff_sessions SET last_used_at = ? WHERE hash = ?`, ts(at), hash)
	return deletedOne(res, err, "BFF session")
}

// LeaseBFFRefresh takes the session's refresh lease for holder until
// until if no lease lasts past now, and returns the session as stored
// afterwards with true; otherwise it returns the session unchanged with
// false. The conditional UPDATE and the read run in one write
// transaction, and SQLite has one writer at a time, so of concurrent
// callers exactly one finds the lease free. ErrNotFound if there is no
// session.
func (db *DB) LeaseBFFRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (store.BFFSession, bool, error) {
	if holder == "" || now.IsZero() || !until.After(now) {
		return store.BFFSession{}, false, errors.New("sqlite: BFF session: a lease needs a holder, a time and an end after it")
	}
	var (
		s     store.BFFSession
		taken bool
	)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scanBFFSession(tx.QueryRowContext(ctx, `UPDATE bff_sessions SET lease_holder = ?, lease_until = ?
			WHERE hash = ? AND (lease_until IS NULL OR lease_until <= ?)
			RETURNING `+bffColumns, holder, ts(until), hash, ts(now)))
		if err == nil {
			taken = true
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		s, err = scanBFFSession(tx.QueryRowContext(ctx, `SELECT `+bffColumns+` FROM bff_sessions WHERE hash = ?`, hash))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("BFF session: %w", store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return store.BFFSession{}, false, err
	}
	return s, taken, nil
}

// UpdateBFFTokens stores the tokens and expiries a refresh under holder's
// lease obtained, adds one to the version and clears the lease, in one
// UPDATE that only applies while holder holds the lease, and returns the
// session so updated. ErrLeaseLost, writing nothing, if holder does not
// hold it; ErrNotFound if there is no session.
func (db *DB) UpdateBFFTokens(ctx context.Context, hash []byte, holder string, tokens []byte,
	accessExpiresAt, expiresAt time.Time) (store.BFFSession, error) {
	if expiresAt.IsZero() {
		return store.BFFSession{}, errors.New("sqlite: BFF session: updated without an expiry time")
	}
	var s store.BFFSession
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = scanBFFSession(tx.QueryRowContext(ctx, `UPDATE bff_sessions SET tokens = ?, access_expires_at = ?,
				expires_at = ?, version = version + 1, lease_holder = NULL, lease_until = NULL
			WHERE hash = ? AND lease_holder = ?
			RETURNING `+bffColumns, blob(tokens), ts(accessExpiresAt), ts(expiresAt), hash, holder))
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return leaseLost(tx.QueryRowContext(ctx, `SELECT 1 FROM bff_sessions WHERE hash = ?`, hash))
	})
	if err != nil {
		return store.BFFSession{}, err
	}
	return s, nil
}

// leaseLost is the error of a lease holder's write that changed no row:
// ErrLeaseLost if row, the session's, exists, ErrNotFound if it does not.
func leaseLost(row scanner) error {
	var one int
	err := row.Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("BFF session: %w", store.ErrNotFound)
	case err != nil:
		return formatError(err)
	}
	return fmt.Errorf("BFF session refresh: %w", store.ErrLeaseLost)
}

// ReleaseBFFRefresh clears the session's refresh lease if holder holds
// it, and does nothing otherwise.
func (db *DB) ReleaseBFFRefresh(ctx context.Context, hash []byte, holder string) error {
	_, err := db.w.ExecContext(ctx, `UPDATE bff_sessions SET lease_holder = NULL, lease_until = NULL
		WHERE hash = ? AND lease_holder = ?`, hash, holder)
	return formatError(err)
}

// DeleteBFFSession deletes the session with the hash, if there is one.
func (db *DB) DeleteBFFSession(ctx context.Context, hash []byte) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM bff_sessions WHERE hash = ?`, hash)
	return formatError(err)
}

// DeleteBFFSessionsBySID deletes the issuer's sessions with the sid and
// reports how many; an empty sid deletes nothing.
func (db *DB) DeleteBFFSessionsBySID(ctx context.Context, issuer, sid string) (int, error) {
	if sid == "" {
		return 0, nil
	}
	return rowsAffected(db.w.ExecContext(ctx, `DELETE FROM bff_sessions WHERE issuer = ? AND sid = ?`, issuer, sid))
}

// DeleteBFFSessionsBySubject deletes the issuer's sessions of the subject
// and reports how many; an empty subject deletes nothing.
func (db *DB) DeleteBFFSessionsBySubject(ctx context.Context, issuer, subject string) (int, error) {
	if subject == "" {
		return 0, nil
	}
	return rowsAffected(db.w.ExecContext(ctx, `DELETE FROM bff_sessions WHERE issuer = ? AND subject = ?`, issuer, subject))
}

// PruneBFFSessions deletes the sessions that expired before before.
func (db *DB) PruneBFFSessions(ctx context.Context, before time.Time) (int, error) {
	return db.prune(ctx, `DELETE FROM bff_sessions WHERE expires_at < ?`, before)
}

// rowsAffected reports how many rows a statement changed.
func rowsAffected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, formatError(err)
	}
	n, err := res.RowsAffected()
	return int(n), formatError(err)
}
