package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// SigningKeys returns every stored signing key, of every purpose, oldest
// activation first.
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.pool.Query(ctx, `SELECT kid, alg, purpose, private_key, created_at, activates_at, retires_at, expires_at
		FROM signing_keys ORDER BY activates_at, created_at, kid`)
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, func(row pgx.Row) (store.SigningKey, error) {
		var (
			k             store.SigningKey
			retires, exps pgtype.Timestamptz
		)
		if err := row.Scan(&k.KID, &k.Alg, &k.Purpose, &k.Private, &k.CreatedAt, &k.ActivatesAt, &retires, &exps); err != nil {
			return k, formatError(err)
		}
		k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt = k.CreatedAt.UTC(), k.ActivatesAt.UTC(), fromTS(retires), fromTS(exps)
		return k, nil
	})
}

// AddSigningKey inserts k, provided the newest key of k's purpose (by
// activates_at, then created_at, then kid bytewise: the column is COLLATE
// "C") is still after ("" meaning no key of that purpose at all), and in
// the same transaction schedules every key of that purpose that has not
// been retired yet to retire when k activates and to be unpublished keep
// after that (long enough for every token it signed to expire); keys of
// the other purpose are left alone. An empty k.Purpose is
// store.PurposeAccess. It returns ErrConflict, writing nothing, on a
// duplicate kid or when another key of its purpose was added since the
// caller looked.
//
// The table lock (SHARE ROW EXCLUSIVE conflicts with itself, not with
// readers) makes the check and the insert one step across nodes: without
// it two nodes could both find the same newest key, READ COMMITTED showing
// neither the other's uncommitted insert, and both add theirs. It is taken
// whatever the purpose: rotations are rare, and one lock is simpler to
// reason about than one per lineage.
func (db *DB) AddSigningKey(ctx context.Context, k store.SigningKey, keep time.Duration, after string) error {
	purpose := k.PurposeOrAccess()
	return db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var newest string
		err := tx.QueryRow(ctx, `SELECT kid FROM signing_keys WHERE purpose = $1
			ORDER BY activates_at DESC, created_at DESC, kid DESC LIMIT 1`, purpose).Scan(&newest)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if newest != after {
			return fmt.Errorf("%w: the newest %s signing key is %q, not %q", store.ErrConflict, purpose, newest, after)
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retires_at = $1, expires_at = $2
			WHERE purpose = $3 AND retires_at IS NULL AND activates_at <= $1`,
			k.ActivatesAt, k.ActivatesAt.Add(keep), purpose); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO signing_keys (kid, alg, purpose, private_key, created_at, activates_at, retires_at, expires_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, k.KID, k.Alg, purpose, k.Private, ts(k.CreatedAt), ts(k.ActivatesAt), ts(k.RetiresAt), ts(k.ExpiresAt))
		return err
	})
}

// ResealSigningKeys replaces the private bytes of each key whose row still
// holds r.Old, all in one transaction, and returns how many rows changed.
// A row that no longer holds Old (another node resealed it first, or it
// was deleted) is left alone: resealing is idempotent. The UPDATE's
// private_key = Old is re-checked after waiting for a concurrent reseal's
// row lock, so two nodes cannot both apply theirs.
func (db *DB) ResealSigningKeys(ctx context.Context, rs []store.KeyReseal) (int, error) {
	n := 0
	err := db.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		for _, r := range rs {
			tag, err := tx.Exec(ctx, `UPDATE signing_keys SET private_key = $1 WHERE kid = $2 AND private_key = $3`,
				r.New, r.KID, r.Old)
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
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
	_, err := db.pool.Exec(ctx, `DELETE FROM signing_keys WHERE expires_at < $1`, now)
	return formatError(err)
}

// Secret returns the named server secret, creating it with size random
// bytes on first use. Concurrent first uses, on this node or another,
// agree on one value: ON CONFLICT DO NOTHING waits for an insert of the
// same name in flight and then keeps it, and the SELECT that follows, a
// statement of its own, sees whichever value committed.
func (db *DB) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	v := make([]byte, size)
	rand.Read(v)
	if _, err := db.pool.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1,$2,$3)
		ON CONFLICT (name) DO NOTHING`, name, v, time.Now()); err != nil {
		return nil, formatError(err)
	}
	var out []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&out)
	return out, formatError(err)
}
