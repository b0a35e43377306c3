package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const userColumns = `id, username, password_hash, roles, disabled, credential_version, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(row scanner) (store.User, error) {
	var (
		u       store.User
		roles   string
		created sql.NullInt64
		updated sql.NullInt64
	)
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &roles, &u.Disabled,
		&u.CredentialVersion, &created, &updated); err != nil {
		return store.User{}, formatError(err)
	}
	if err := json.Unmarshal([]byte(roles), &u.Roles); err != nil {
		return store.User{}, fmt.Errorf("sqlite: user %s roles: %w", u.ID, err)
	}
	u.CreatedAt, u.UpdatedAt = fromTS(created), fromTS(updated)
	return u, nil
}

// CreateUser inserts u. Returns ErrConflict if the username is taken.
func (db *DB) CreateUser(ctx context.Context, u store.User) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?,?,?,?,?,?,?,?)`,
		u.ID, u.Username, u.PasswordHash, listJSON(u.Roles), u.Disabled, u.CredentialVersion,
		ts(u.CreatedAt), ts(u.UpdatedAt))
	return formatError(err)
}

// UserByUsername returns the user with the normalised username, or ErrNotFound.
func (db *DB) UserByUsername(ctx context.Context, username string) (store.User, error) {
	return scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
}

// UserByID returns the user with the id, or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id string) (store.User, error) {
	return scanUser(db.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// ListUsers returns the users matching q, ordered by username (BINARY
// collation: bytewise, as store.UserQuery asks). The search is instr, not
// LIKE, so that %, _ and \ in it are matched literally.
func (db *DB) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE (? = '' OR instr(username, ?) > 0) AND username > ?
		ORDER BY username LIMIT ?`, q.Search, q.Search, q.After, limit(q.Limit))
	return collect(rows, err, scanUser)
}

// DeleteUser removes the user with every session and refresh token of it
// (ON DELETE CASCADE) and appends ev, in one transaction, with a feed
// entry revoked at at for each of its sessions not already revoked: their
// access tokens are still valid at resource servers. The armed logout
// notices of its sessions are marked ended (user_deleted) and stay. Audit
// events about the user stay. Returns ErrNotFound for an unknown id.
func (db *DB) DeleteUser(ctx context.Context, id string, at time.Time, ev store.AuditEvent) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO revocations (session_id, revoked_at)
			SELECT id, ? FROM sessions WHERE user_id = ? AND revoked_at IS NULL ORDER BY id`, ts(at), id); err != nil {
			return formatError(err)
		}
		// The notices outlive the sessions: what was owed to their
		// clients is still owed.
		if _, err := tx.ExecContext(ctx, endNotices+`user_id = ?3`, ts(at), "user_deleted", id); err != nil {
			return formatError(err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err := deletedOne(res, err, "user "+id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, ev)
	})
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, formatError(err)
}

// UpdateUser reads the user with the id, lets fn change it and writes it
// back, all in one transaction: two concurrent updates cannot lose each
// other's change. The id is the key, not a field: a change fn makes to
// u.ID is ignored. Returns ErrNotFound, ErrConflict for a taken username,
// or fn's error unchanged; on any error nothing is written.
func (db *DB) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	var u store.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if err := fn(&u); err != nil {
			return err
		}
		u.ID = id
		_, err = tx.ExecContext(ctx, `UPDATE users SET username = ?, password_hash = ?, roles = ?, disabled = ?,
			credential_version = ?, updated_at = ? WHERE id = ?`,
			u.Username, u.PasswordHash, listJSON(u.Roles), u.Disabled, u.CredentialVersion, ts(u.UpdatedAt), u.ID)
		return formatError(err)
	})
	return u, err
}
