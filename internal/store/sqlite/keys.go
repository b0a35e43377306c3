package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// SigningKeys returns every stored signing key, oldest activation first.
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT kid, alg, private_key, created_at, activates_at, retires_at, expires_at
		FROM signing_keys ORDER BY activates_at, created_at`)
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
		if err := rows.Scan(&k.KID, &k.Alg, &k.Private, &created, &activates, &retires, &exps); err != nil {
			return nil, formatError(err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt = fromTS(created), fromTS(activates), fromTS(retires), fromTS(exps)
		out = append(out, k)
	}
	return out, formatError(rows.Err())
}

// AddSigningKey inserts k and, in the same transaction, schedules every
// key that has not been retired yet to retire when k activates and to be
// unpublished keep after that (long enough for every token it signed to expire). Returns ErrConflict on a duplicate kid.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retires_at = ?, expires_at = ?
			WHERE retires_at IS NULL AND activates_at <= ?`,
			ts(k.ActivatesAt), ts(k.ActivatesAt.Add(keep)), ts(k.ActivatesAt)); err != nil {
			return formatError(err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private_key, created_at, activates_at, retires_at, expires_at)
			VALUES (?,?,?,?,?,?,?)`, k.KID, k.Alg, k.Private, ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.ExpiresAt))
		return formatError(err)
	})
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
