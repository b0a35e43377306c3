package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// UseClientAssertion records the client's assertion id (the SHA-256 of
// its jti) until expires; store.ErrAlreadySpent if it was used before.
// The INSERT is one statement under SQLite's single writer, so of
// concurrent uses exactly one succeeds.
func (db *DB) UseClientAssertion(ctx context.Context, clientID string, jtiHash []byte, expires time.Time) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO client_assertions (client_id, jti_hash, expires_at) VALUES (?,?,?)`,
		clientID, jtiHash, ts(expires))
	if err = formatError(err); errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("client assertion: %w", store.ErrAlreadySpent)
	}
	return err
}

// PruneClientAssertions deletes the assertion ids that expired before t.
func (db *DB) PruneClientAssertions(ctx context.Context, t time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM client_assertions WHERE expires_at < ?`, ts(t))
	if err != nil {
		return 0, formatError(err)
	}
	n, err := res.RowsAffected()
	return int(n), formatError(err)
}
