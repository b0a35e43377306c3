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

const codeColumns = `hash, client_id, user_id, session_id, redirect_uri, scope, audience,
	code_challenge, nonce, auth_time, created_at, expires_at, redeemed_at, grant_blob`

func scanCode(row pgx.Row) (store.AuthCode, error) {
	var (
		c        store.AuthCode
		redeemed pgtype.Timestamptz
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &c.Scope, &c.Audience,
		&c.CodeChallenge, &c.Nonce, &c.AuthTime, &c.CreatedAt, &c.ExpiresAt, &redeemed, &c.Grant); err != nil {
		return store.AuthCode{}, formatError(err)
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt = c.AuthTime.UTC(), c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	c.RedeemedAt = fromTS(redeemed)
	return c, nil
}

// CreateCode inserts c. Returns ErrConflict if the hash is taken.
func (db *DB) CreateCode(ctx context.Context, c store.AuthCode) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO auth_codes (`+codeColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		c.Hash, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, c.Scope, list(c.Audience),
		c.CodeChallenge, c.Nonce, ts(c.AuthTime), ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.RedeemedAt), c.Grant)
	return formatError(err)
}

// RedeemCode marks the code with the hash redeemed at now, clears its
// grant and returns it as it was. The locking read and the UPDATE only
// touch a code not yet redeemed: of concurrent calls, on any node, the
// first takes the row lock; the others wait for it and, at READ
// COMMITTED, re-check the WHERE against the committed row, find it
// redeemed and update nothing. They then read the code as redeemed (its
// grant cleared) and get it with ErrAlreadySpent. Returns ErrNotFound for
// an unknown hash.
func (db *DB) RedeemCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	if now.IsZero() {
		// It would be stored as NULL, "not redeemed", and redeemable again.
		return store.AuthCode{}, errors.New("authorization code: redeemed at the zero time")
	}
	var c store.AuthCode
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes
			WHERE hash = $1 AND redeemed_at IS NULL FOR UPDATE`, hash))
		if err == nil {
			if _, err := tx.Exec(ctx, `UPDATE auth_codes SET redeemed_at = $1, grant_blob = NULL WHERE hash = $2`,
				ts(now), hash); err != nil {
				return formatError(err)
			}
			c.RedeemedAt = now.UTC()
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c, err = scanCode(tx.QueryRow(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = $1`, hash))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("authorization code: %w", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("authorization code: %w", store.ErrAlreadySpent)
	})
	if err != nil && !errors.Is(err, store.ErrAlreadySpent) {
		return store.AuthCode{}, err
	}
	return c, err
}

// PruneCodes deletes the codes that expired before t, redeemed or not.
func (db *DB) PruneCodes(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM auth_codes WHERE expires_at < $1`, t)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}

const pushedColumns = `hash, client_id, params, created_at, expires_at`

// CreatePushedRequest inserts p. Returns ErrConflict if the hash is taken.
func (db *DB) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO pushed_requests (`+pushedColumns+`) VALUES ($1,$2,$3,$4,$5)`,
		p.Hash, p.ClientID, p.Params, ts(p.CreatedAt), ts(p.ExpiresAt))
	return formatError(err)
}

// TakePushedRequest deletes the request with the hash and returns it, in
// one DELETE ... RETURNING: of concurrent takes, on any node, the first
// locks the row and the others wait for it, then find it gone. Returns
// ErrNotFound for an unknown hash.
func (db *DB) TakePushedRequest(ctx context.Context, hash []byte) (store.PushedRequest, error) {
	var p store.PushedRequest
	err := db.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM pushed_requests WHERE hash = $1 RETURNING `+pushedColumns, hash).
			Scan(&p.Hash, &p.ClientID, &p.Params, &p.CreatedAt, &p.ExpiresAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("pushed authorization request: %w", store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return store.PushedRequest{}, err
	}
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	return p, nil
}

// PrunePushedRequests deletes the requests that expired before t.
func (db *DB) PrunePushedRequests(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM pushed_requests WHERE expires_at < $1`, t)
	if err != nil {
		return 0, formatError(err)
	}
	return int(tag.RowsAffected()), nil
}

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row pgx.Row) (store.Consent, error) {
	var c store.Consent
	if err := row.Scan(&c.UserID, &c.ClientID, &c.Scopes, &c.GrantedAt); err != nil {
		return store.Consent{}, formatError(err)
	}
	c.GrantedAt = c.GrantedAt.UTC()
	return c, nil
}

// PutConsent records c, replacing the user's consent for the client.
func (db *DB) PutConsent(ctx context.Context, c store.Consent) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES ($1,$2,$3,$4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, list(c.Scopes), ts(c.GrantedAt))
	return formatError(err)
}

// Consent returns the user's consent for the client, or ErrNotFound.
func (db *DB) Consent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	return scanConsent(db.pool.QueryRow(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 AND client_id = $2`,
		userID, clientID))
}

// Consents returns the user's consents, ordered by client id (COLLATE
// "C": bytewise, as in SQLite).
func (db *DB) Consents(ctx context.Context, userID string) ([]store.Consent, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = $1 ORDER BY client_id`, userID)
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, scanConsent)
}

// DeleteConsent removes the user's consent for the client. Returns
// ErrNotFound if there is none.
func (db *DB) DeleteConsent(ctx context.Context, userID, clientID string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM consents WHERE user_id = $1 AND client_id = $2`, userID, clientID)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("consent of %s for %s: %w", userID, clientID, store.ErrNotFound)
	}
	return nil
}
