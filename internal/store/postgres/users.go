package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const userColumns = `id, username, password_hash, roles, disabled, credential_version, created_at, updated_at`

func scanUser(row pgx.Row) (store.User, error) {
	var u store.User
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.Roles, &u.Disabled,
		&u.CredentialVersion, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return store.User{}, formatError(err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// roles is the roles argument: a nil slice would be NULL, and the column
// is NOT NULL with '{}' for none.
func roles(r []string) []string {
	if r == nil {
		return []string{}
	}
	return r
}

// CreateUser inserts u. Returns ErrConflict if the id or username is taken.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
		u.ID, u.Username, u.PasswordHash, roles(u.Roles), u.Disabled, u.CredentialVersion,
		ts(u.CreatedAt), ts(u.UpdatedAt))
	return formatError(err)
}

// UserByUsername returns the user with the normalised username, or ErrNotFound.
func (db *DB) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = $1`, username))
}

// UserByID returns the user with the id, or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id string) (store.User, error) {
	return scanUser(db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// ListUsers returns the users matching q, ordered by username. The column
// is COLLATE "C", so the order and the After cursor are bytewise whatever
// the database's locale, as store.UserQuery asks. The search is strpos,
// not LIKE, so that %, _ and \ in it are matched literally.
func (db *DB) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+userColumns+` FROM users
		WHERE ($1 = '' OR strpos(username, $1) > 0) AND username > $2
		ORDER BY username LIMIT $3`, q.Search, q.After, limit(q.Limit))
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, scanUser)
}

// collect scans every row with scan; no rows is a nil slice.
func collect[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, formatError(rows.Err())
}

// DeleteUser removes the user with every session and refresh token of it
// (ON DELETE CASCADE) and appends ev, in one transaction, with a feed
// entry revoked at at for each of its sessions not already revoked: their
// access tokens are still valid at resource servers. The armed logout
// notices of its sessions are marked ended (user_deleted) and stay. Audit
// events about the user stay. Returns ErrNotFound for an unknown id.
//
// The user row is locked first: a login creating a session for the user
// holds a key-share lock on it until it commits, so the sessions read for
// the feed (and their notices) are every session the delete will cascade
// to, none created after the read.
func (db *DB) DeleteUser(ctx context.Context, id string, at time.Time, ev store.AuditEvent) error {
	return db.feedTx(ctx, func(tx pgx.Tx) error {
		var found bool
		if err := tx.QueryRow(ctx, `SELECT true FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&found); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("user %s: %w", id, store.ErrNotFound)
			}
			return err
		}
		if _, err := appendFeed(ctx, tx, `INSERT INTO revocations (session_id, revoked_at)
			SELECT id, $1 FROM sessions WHERE user_id = $2 AND revoked_at IS NULL ORDER BY id
			RETURNING seq`, at, id); err != nil {
			return err
		}
		// The notices outlive the sessions: what was owed to their
		// clients is still owed.
		if _, err := tx.Exec(ctx, `UPDATE logout_notices SET ended_at = $1, reason = 'user_deleted', due_at = $1
			WHERE user_id = $2 AND ended_at IS NULL AND done_at IS NULL`, at, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, formatError(err)
}

// UpdateUser reads the user with the id FOR UPDATE, lets fn change it and
// writes it back, all in one transaction: a concurrent update waits for
// the row, so neither loses the other's change. The id is the key, not a
// field: a change fn makes to u.ID is ignored. Returns ErrNotFound,
// ErrConflict for a taken username, or fn's error unchanged; on any error
// nothing is written. fn may be called again if the transaction is
// retried (see tx).
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	var u store.User
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return &passThrough{err}
		}
		u.ID = id
		_, err = tx.Exec(ctx, `UPDATE users SET username = $1, password_hash = $2, roles = $3, disabled = $4,
			credential_version = $5, updated_at = $6 WHERE id = $7`,
			u.Username, u.PasswordHash, roles(u.Roles), u.Disabled, u.CredentialVersion, ts(u.UpdatedAt), u.ID)
		return err
	})
	return u, err
}
