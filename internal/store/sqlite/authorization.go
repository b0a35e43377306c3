package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const codeColumns = `hash, client_id, user_id, session_id, redirect_uri, scope, audience,
	code_challenge, nonce, auth_time, created_at, expires_at, redeemed_at, grant_blob`

func scanCode(row scanner) (store.AuthCode, error) {
	var (
		c                                    store.AuthCode
		audience                             string
		authTime, created, expires, redeemed sql.NullInt64
	)
	if err := row.Scan(&c.Hash, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI, &c.Scope, &audience,
		&c.CodeChallenge, &c.Nonce, &authTime, &created, &expires, &redeemed, &c.Grant); err != nil {
		return store.AuthCode{}, formatError(err)
	}
	if err := json.Unmarshal([]byte(audience), &c.Audience); err != nil {
		return store.AuthCode{}, fmt.Errorf("sqlite: authorization code audience: %w", err)
	}
	c.AuthTime, c.CreatedAt, c.ExpiresAt, c.RedeemedAt = fromTS(authTime), fromTS(created), fromTS(expires), fromTS(redeemed)
	return c, nil
}

// CreateCode inserts c. Returns ErrConflict if the hash is taken.
func (db *DB) CreateCode(ctx context.Context, c store.AuthCode) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO auth_codes (`+codeColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.Hash, c.ClientID, c.UserID, c.SessionID, c.RedirectURI, c.Scope, listJSON(c.Audience),
		c.CodeChallenge, c.Nonce, ts(c.AuthTime), ts(c.CreatedAt), ts(c.ExpiresAt), ts(c.RedeemedAt), c.Grant)
	return formatError(err)
}

// RedeemCode marks the code with the hash redeemed at now, clears its
// grant and returns it as it was. The read and the UPDATE run in one write
// transaction (one writer at a time), and the UPDATE only touches a code
// not yet redeemed, so of concurrent calls exactly one changes the row and
// gets the grant; the others find it redeemed and get it, without the
// grant, with ErrAlreadySpent. Returns ErrNotFound for an unknown hash.
func (db *DB) RedeemCode(ctx context.Context, hash []byte, now time.Time) (store.AuthCode, error) {
	if now.IsZero() {
		// It would be stored as NULL, "not redeemed", and redeemable again.
		return store.AuthCode{}, errors.New("authorization code: redeemed at the zero time")
	}
	var c store.AuthCode
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanCode(tx.QueryRowContext(ctx, `SELECT `+codeColumns+` FROM auth_codes WHERE hash = ?`, hash))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("authorization code: %w", store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if !c.RedeemedAt.IsZero() {
			return fmt.Errorf("authorization code: %w", store.ErrAlreadySpent)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE auth_codes SET redeemed_at = ?, grant_blob = NULL WHERE hash = ?`,
			ts(now), hash); err != nil {
			return formatError(err)
		}
		c.RedeemedAt = now
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrAlreadySpent) {
		return store.AuthCode{}, err
	}
	return c, err
}

// PruneCodes deletes the codes that expired before t, redeemed or not.
func (db *DB) PruneCodes(ctx context.Context, t time.Time) (int, error) {
	return db.prune(ctx, `DELETE FROM auth_codes WHERE expires_at < ?`, t)
}

// prune runs a DELETE with one time argument and reports how many rows it
// deleted.
func (db *DB) prune(ctx context.Context, query string, t time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, query, ts(t))
	if err != nil {
		return 0, formatError(err)
	}
	n, err := res.RowsAffected()
	return int(n), formatError(err)
}

const pushedColumns = `hash, client_id, params, created_at, expires_at`

// CreatePushedRequest inserts p. Returns ErrConflict if the hash is taken.
func (db *DB) CreatePushedRequest(ctx context.Context, p store.PushedRequest) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO pushed_requests (`+pushedColumns+`) VALUES (?,?,?,?,?)`,
		p.Hash, p.ClientID, p.Params, ts(p.CreatedAt), ts(p.ExpiresAt))
	return formatError(err)
}

// TakePushedRequest deletes the request with the hash and returns it, in
// one DELETE ... RETURNING: of concurrent takes, one gets the row and the
// others find none. Returns ErrNotFound for an unknown hash.
func (db *DB) TakePushedRequest(ctx context.Context, hash []byte) (store.PushedRequest, error) {
	var p store.PushedRequest
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var created, expires sql.NullInt64
		err := tx.QueryRowContext(ctx, `DELETE FROM pushed_requests WHERE hash = ? RETURNING `+pushedColumns, hash).
			Scan(&p.Hash, &p.ClientID, &p.Params, &created, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("pushed authorization request: %w", store.ErrNotFound)
		}
		if err != nil {
			return formatError(err)
		}
		p.CreatedAt, p.ExpiresAt = fromTS(created), fromTS(expires)
		return nil
	})
	if err != nil {
		return store.PushedRequest{}, err
	}
	return p, nil
}

// PrunePushedRequests deletes the requests that expired before t.
func (db *DB) PrunePushedRequests(ctx context.Context, t time.Time) (int, error) {
	return db.prune(ctx, `DELETE FROM pushed_requests WHERE expires_at < ?`, t)
}

const consentColumns = `user_id, client_id, scopes, granted_at`

func scanConsent(row scanner) (store.Consent, error) {
	var (
		c       store.Consent
		scopes  string
		granted sql.NullInt64
	)
	if err := row.Scan(&c.UserID, &c.ClientID, &scopes, &granted); err != nil {
		return store.Consent{}, formatError(err)
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return store.Consent{}, fmt.Errorf("sqlite: consent of %s for %s scopes: %w", c.UserID, c.ClientID, err)
	}
	c.GrantedAt = fromTS(granted)
	return c, nil
}

// PutConsent records c, replacing the user's consent for the client.
func (db *DB) PutConsent(ctx context.Context, c store.Consent) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO consents (`+consentColumns+`) VALUES (?,?,?,?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.UserID, c.ClientID, listJSON(c.Scopes), ts(c.GrantedAt))
	return formatError(err)
}

// Consent returns the user's consent for the client, or ErrNotFound.
func (db *DB) Consent(ctx context.Context, userID, clientID string) (store.Consent, error) {
	return scanConsent(db.r.QueryRowContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ? AND client_id = ?`,
		userID, clientID))
}

// Consents returns the user's consents, ordered by client id (BINARY
// collation: bytewise).
func (db *DB) Consents(ctx context.Context, userID string) ([]store.Consent, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+consentColumns+` FROM consents WHERE user_id = ? ORDER BY client_id`, userID)
	return collect(rows, err, scanConsent)
}

// DeleteConsent removes the user's consent for the client. Returns
// ErrNotFound if there is none.
func (db *DB) DeleteConsent(ctx context.Context, userID, clientID string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM consents WHERE user_id = ? AND client_id = ?`, userID, clientID)
	return deletedOne(res, err, "consent of "+userID+" for "+clientID)
}
