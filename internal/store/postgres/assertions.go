package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// UseClientAssertion records the client's assertion id (the SHA-256 of
// its jti) until expires; store.ErrAlreadySpent if it was used before, on
// any node: the primary key lets exactly one of concurrent INSERTs in.
func (db *DB) UseClientAssertion(ctx context.Context, clientID string, jtiHash []byte, expires time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO client_assertions (client_id, jti_hash, expires_at) VALUES ($1,$2,$3)`,
		clientID, jtiHash, ts(expires))
	if err = formatError(err); errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("client assertion: %w", store.ErrAlreadySpent)
	}
	return err
}

// PruneClientAssertions deletes the assertion ids that expired before t.
func (db *DB) PruneClientAssertions(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM client_assertions WHERE expires_at < $1`, t)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}
