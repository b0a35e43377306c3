package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// clientColumns are the clients table's columns. The token lifetimes are
// bigint nanoseconds, passed and scanned as int64: pgx would send a
// time.Duration as an interval.
const clientColumns = `id, name, secret_hash, public, first_party, token_endpoint_auth_method,
	redirect_uris, post_logout_redirect_uris, grant_types, scopes, audiences,
	backchannel_logout_uri, require_par, access_token_ttl, refresh_token_ttl, created_at, updated_at, jwks`

func scanClient(row pgx.Row) (store.Client, error) {
	var (
		c                     store.Client
		accessTTL, refreshTTL int64
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.FirstParty, &c.TokenEndpointAuthMethod,
		&c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.GrantTypes, &c.Scopes, &c.Audiences,
		&c.BackchannelLogoutURI, &c.RequirePAR, &accessTTL, &refreshTTL, &c.CreatedAt, &c.UpdatedAt, &c.JWKS); err != nil {
		return store.Client{}, formatError(err)
	}
	c.AccessTokenTTL, c.RefreshTokenTTL = time.Duration(accessTTL), time.Duration(refreshTTL)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// secretHash is the secret_hash argument: NULL for a public client (no
// hash), rather than an empty bytea.
func secretHash(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// list is a list-valued argument: a nil slice would be NULL, and the
// columns are NOT NULL with '{}' for none, as users' roles are.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// CreateClient inserts c. Returns ErrConflict if the id is taken.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO clients (`+clientColumns+`)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
		c.ID, c.Name, secretHash(c.SecretHash), c.Public, c.FirstParty, c.TokenEndpointAuthMethod,
		list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes), list(c.Scopes), list(c.Audiences),
		c.BackchannelLogoutURI, c.RequirePAR, int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		ts(c.CreatedAt), ts(c.UpdatedAt), c.JWKS)
	return formatError(err)
}

// ClientByID returns the client with the id, or ErrNotFound.
func (db *DB) ClientByID(ctx context.Context, id string) (store.Client, error) {
	return scanClient(db.pool.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1`, id))
}

// ListClients returns every client, ordered by id (COLLATE "C": bytewise,
// as in SQLite).
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, formatError(err)
	}
	return collect(rows, scanClient)
}

// UpdateClient reads the client with the id FOR UPDATE, lets fn change it
// and writes it back, all in one transaction: a concurrent update waits
// for the row, so neither loses the other's change. The id and CreatedAt
// are the record's, not fn's: changes fn makes to them are undone before
// the write; UpdatedAt is written as fn leaves it (the registry sets it).
// Returns ErrNotFound, or fn's error unchanged; on any error nothing is
// written. fn may be called again if the transaction is retried (see tx).
func (db *DB) UpdateClient(ctx context.Context, id string, fn func(*store.Client) error) (store.Client, error) {
	var c store.Client
	err := db.tx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanClient(tx.QueryRow(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		created := c.CreatedAt
		if err := fn(&c); err != nil {
			return &passThrough{err}
		}
		c.ID, c.CreatedAt = id, created
		_, err = tx.Exec(ctx, `UPDATE clients SET name = $1, secret_hash = $2, public = $3, first_party = $4,
			token_endpoint_auth_method = $5, redirect_uris = $6, post_logout_redirect_uris = $7, grant_types = $8,
			scopes = $9, audiences = $10, backchannel_logout_uri = $11, require_par = $12, access_token_ttl = $13,
			refresh_token_ttl = $14, updated_at = $15, jwks = $16 WHERE id = $17`,
			c.Name, secretHash(c.SecretHash), c.Public, c.FirstParty, c.TokenEndpointAuthMethod,
			list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.GrantTypes), list(c.Scopes), list(c.Audiences),
			c.BackchannelLogoutURI, c.RequirePAR, int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
			ts(c.UpdatedAt), c.JWKS, c.ID)
		return err
	})
	if err != nil {
		return store.Client{}, err
	}
	return c, nil
}

// DeleteClient removes the client with the id. Returns ErrNotFound for an
// unknown id.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	if err != nil {
		return formatError(err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("client %s: %w", id, store.ErrNotFound)
	}
	return nil
}
