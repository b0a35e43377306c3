package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const clientColumns = `id, name, secret_hash, public, first_party, token_endpoint_auth_method,
	redirect_uris, post_logout_redirect_uris, grant_types, scopes, audiences,
	backchannel_logout_uri, require_par, access_token_ttl, refresh_token_ttl, created_at, updated_at, jwks`

func scanClient(row scanner) (store.Client, error) {
	var (
		c                                                store.Client
		redirects, postLogout, grants, scopes, audiences string
		accessTTL, refreshTTL                            int64
		created, updated                                 sql.NullInt64
	)
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.FirstParty, &c.TokenEndpointAuthMethod,
		&redirects, &postLogout, &grants, &scopes, &audiences,
		&c.BackchannelLogoutURI, &c.RequirePAR, &accessTTL, &refreshTTL, &created, &updated, &c.JWKS); err != nil {
		return store.Client{}, formatError(err)
	}
	for _, l := range []struct {
		name string
		text string
		dst  *[]string
	}{
		{"redirect_uris", redirects, &c.RedirectURIs},
		{"post_logout_redirect_uris", postLogout, &c.PostLogoutRedirectURIs},
		{"grant_types", grants, &c.GrantTypes},
		{"scopes", scopes, &c.Scopes},
		{"audiences", audiences, &c.Audiences},
	} {
		if err := json.Unmarshal([]byte(l.text), l.dst); err != nil {
			return store.Client{}, fmt.Errorf("sqlite: client %s %s: %w", c.ID, l.name, err)
		}
	}
	c.AccessTokenTTL, c.RefreshTokenTTL = time.Duration(accessTTL), time.Duration(refreshTTL)
	c.CreatedAt, c.UpdatedAt = fromTS(created), fromTS(updated)
	return c, nil
}

// listJSON is a list-valued column: a JSON array of strings, as roles
// are, and [] for none.
func listJSON(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// secretHash is the secret_hash argument: NULL for a public client (no
// hash), rather than an empty blob.
func secretHash(h []byte) any {
	if len(h) == 0 {
		return nil
	}
	return h
}

// CreateClient inserts c. Returns ErrConflict if the id is taken.
func (db *DB) CreateClient(ctx context.Context, c store.Client) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO clients (`+clientColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		c.ID, c.Name, secretHash(c.SecretHash), c.Public, c.FirstParty, c.TokenEndpointAuthMethod,
		listJSON(c.RedirectURIs), listJSON(c.PostLogoutRedirectURIs), listJSON(c.GrantTypes),
		listJSON(c.Scopes), listJSON(c.Audiences),
		c.BackchannelLogoutURI, c.RequirePAR, int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
		ts(c.CreatedAt), ts(c.UpdatedAt), c.JWKS)
	return formatError(err)
}

// ClientByID returns the client with the id, or ErrNotFound.
func (db *DB) ClientByID(ctx context.Context, id string) (store.Client, error) {
	return scanClient(db.r.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
}

// ListClients returns every client, ordered by id (BINARY collation:
// bytewise).
func (db *DB) ListClients(ctx context.Context) ([]store.Client, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+clientColumns+` FROM clients ORDER BY id`)
	return collect(rows, err, scanClient)
}

// UpdateClient reads the client with the id, lets fn change it and writes
// it back, all in one write transaction: two concurrent updates cannot
// lose each other's change. The id and CreatedAt are the record's, not
// fn's: changes fn makes to them are undone before the write; UpdatedAt
// is written as fn leaves it (the registry sets it). Returns ErrNotFound,
// or fn's error unchanged; on any error nothing is written.
func (db *DB) UpdateClient(ctx context.Context, id string, fn func(*store.Client) error) (store.Client, error) {
	var c store.Client
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanClient(tx.QueryRowContext(ctx, `SELECT `+clientColumns+` FROM clients WHERE id = ?`, id))
		if err != nil {
			return err
		}
		created := c.CreatedAt
		if err := fn(&c); err != nil {
			return err
		}
		c.ID, c.CreatedAt = id, created
		_, err = tx.ExecContext(ctx, `UPDATE clients SET name = ?, secret_hash = ?, public = ?, first_party = ?,
			token_endpoint_auth_method = ?, redirect_uris = ?, post_logout_redirect_uris = ?, grant_types = ?,
			scopes = ?, audiences = ?, backchannel_logout_uri = ?, require_par = ?, access_token_ttl = ?,
			refresh_token_ttl = ?, updated_at = ?, jwks = ? WHERE id = ?`,
			c.Name, secretHash(c.SecretHash), c.Public, c.FirstParty, c.TokenEndpointAuthMethod,
			listJSON(c.RedirectURIs), listJSON(c.PostLogoutRedirectURIs), listJSON(c.GrantTypes),
			listJSON(c.Scopes), listJSON(c.Audiences),
			c.BackchannelLogoutURI, c.RequirePAR, int64(c.AccessTokenTTL), int64(c.RefreshTokenTTL),
			ts(c.UpdatedAt), c.JWKS, c.ID)
		return formatError(err)
	})
	if err != nil {
		return store.Client{}, err
	}
	return c, nil
}

// DeleteClient removes the client with the id. Returns ErrNotFound for an
// unknown id.
func (db *DB) DeleteClient(ctx context.Context, id string) error {
	res, err := db.w.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
	return deletedOne(res, err, "client "+id)
}
