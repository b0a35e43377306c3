package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// SigningKeys returns every stored signing key, of every purpose, oldest
// activation first.
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT kid, alg, purpose, private_key, created_at, activates_at, retires_at, expires_at
		FROM signing_keys ORDER BY activates_at, created_at, kid`)
	if err != nil {
		return nil, formatError(err)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		var (
			k                                 store.SigningKey
			created, activates, retires, exps sql.NullInt64
		)
		if err := rows.Scan(&k.KID, &k.Alg, &k.Purpose, &k.Private, &created, &activates, &retires, &exps); err != nil {
			return nil, formatError(err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt = fromTS(created), fromTS(activates), fromTS(retires), fromTS(exps)
		out = append(out, k)
	}
	return out, formatError(rows.Err())
}

// AddSigningKey inserts k, provided the newest key of k's purpose (by
// activates_at, then created_at, then kid) is still after ("" meaning no
// key of that purpose at all), and in the same transaction schedules every
// key of that purpose that has not been retired yet to retire when k
// activates and to be unpublished keep after that (long enough for every
// token it signed to expire); keys of the other purpose are left alone.
// An empty k.Purpose is store.PurposeAccess. It returns
// ErrConflict, writing nothing, on a duplicate kid or when another key was
// added since the caller looked: the check and the insert share one
// IMMEDIATE transaction, which holds SQLite's write lock from its start,
// so two processes cannot both pass the check.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration, after string) error {
	purpose := k.PurposeOrAccess()
	return db.tx(ctx, func(tx *sql.Tx) error {
		var newest string
		err := tx.QueryRowContext(ctx, `SELECT kid FROM signing_keys WHERE purpose = ?
			ORDER BY activates_at DESC, created_at DESC, kid DESC LIMIT 1`, purpose).Scan(&newest)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return formatError(err)
		}
		if newest != after {
			return fmt.Errorf("%w: the newest %s signing key is %q, not %q", store.ErrConflict, purpose, newest, after)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retires_at = ?, expires_at = ?
			WHERE purpose = ? AND retires_at IS NULL AND activates_at <= ?`,
			ts(k.ActivatesAt), ts(k.ActivatesAt.Add(keep)), purpose, ts(k.ActivatesAt)); err != nil {
			return formatError(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, purpose, private_key, created_at, activates_at, retires_at, expires_at)
			VALUES (?,?,?,?,?,?,?,?)`, k.KID, k.Alg, purpose, k.Private, ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.ExpiresAt))
		return formatError(err)
	})
}

// ResealSigningKeys replaces the private bytes of each key whose row still
// holds r.Old, all in one transaction, and returns how many rows changed.
// A row that no longer holds Old (another node resealed it first, or it
// was deleted) is left alone: resealing is idempotent.
func (db *DB) ResealSigningKeys(ctx context.Context, rs []store.KeyReseal) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, r := range rs {
			res, err := tx.ExecContext(ctx, `UPDATE signing_keys SET private_key = ? WHERE kid = ? AND private_key = ?`,
				r.New, r.KID, r.Old)
			if err != nil {
				return formatError(err)
			}
			c, err := res.RowsAffected()
			if err != nil {
				return formatError(err)
			}
			n += int(c)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeleteExpiredSigningKeys removes keys unpublished before now.
func (db *DB) DeleteExpiredSigningKeys(ctx context.Context, now time.Time) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < ?`, ts(now))
	return formatError(err)
}

// Secret returns the named server secret, creating it with size random
// bytes on first use. Concurrent first uses agree on one value.
func (db *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	v := make([]byte, size)
	rand.Read(v)
	if _, err := db.w.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?,?,?)
		ON CONFLICT (name) DO NOTHING`, name, v, time.Now().UnixNano()); err != nil {
		return nil, formatError(err)
	}
	var out []byte
	err := db.w.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&out)
	return out, formatError(err)
}
