package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/bff"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// BFFSessions is what the backend-for-frontend needs of the database:
// both backends implement it, held to the conformance suite.
type BFFSessions interface {
	CreateBFFSession(ctx context.Context, s store.BFFSession) error
	BFFSession(ctx context.Context, hash []byte) (store.BFFSession, error)
	TouchBFFSession(ctx context.Context, hash []byte, at time.Time) error
	LeaseBFFRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (store.BFFSession, bool, error)
	UpdateBFFTokens(ctx context.Context, hash []byte, holder string, tokens []byte, accessExpiresAt, expiresAt time.Time) (store.BFFSession, error)
	ReleaseBFFRefresh(ctx context.Context, hash []byte, holder string) error
	DeleteBFFSession(ctx context.Context, hash []byte) error
	DeleteBFFSessionsBySID(ctx context.Context, issuer, sid string) (int, error)
	DeleteBFFSessionsBySubject(ctx context.Context, issuer, subject string) (int, error)
	PruneBFFSessions(ctx context.Context, before time.Time) (int, error)
}

// bffStore presents the database to the bff package, whose Store speaks
// its own record type (the package is public and knows nothing of the
// server's store).
type bffStore struct{ db BFFSessions }

func toBFF(s store.BFFSession) bff.Session {
	return bff.Session{Hash: s.Hash, Issuer: s.Issuer, Subject: s.Subject, SID: s.SID, Tokens: s.Tokens,
		AccessExpiresAt: s.AccessExpiresAt, Version: s.Version, LeaseHolder: s.LeaseHolder, LeaseUntil: s.LeaseUntil,
		CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt}
}

func fromBFF(s bff.Session) store.BFFSession {
	return store.BFFSession{Hash: s.Hash, Issuer: s.Issuer, Subject: s.Subject, SID: s.SID, Tokens: s.Tokens,
		AccessExpiresAt: s.AccessExpiresAt, Version: s.Version, LeaseHolder: s.LeaseHolder, LeaseUntil: s.LeaseUntil,
		CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt}
}

// bffErr maps the store's sentinels to the bff package's.
func bffErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %v", bff.ErrNotFound, err)
	case errors.Is(err, store.ErrLeaseLost):
		return fmt.Errorf("%w: %v", bff.ErrLeaseLost, err)
	}
	return err
}

func (b bffStore) CreateSession(ctx context.Context, s bff.Session) error {
	return bffErr(b.db.CreateBFFSession(ctx, fromBFF(s)))
}

func (b bffStore) Session(ctx context.Context, hash []byte) (bff.Session, error) {
	s, err := b.db.BFFSession(ctx, hash)
	return toBFF(s), bffErr(err)
}

func (b bffStore) TouchSession(ctx context.Context, hash []byte, at time.Time) error {
	return bffErr(b.db.TouchBFFSession(ctx, hash, at))
}

func (b bffStore) LeaseRefresh(ctx context.Context, hash []byte, holder string, now, until time.Time) (bff.Session, bool, error) {
	s, ok, err := b.db.LeaseBFFRefresh(ctx, hash, holder, now, until)
	return toBFF(s), ok, bffErr(err)
}

func (b bffStore) UpdateTokens(ctx context.Context, hash []byte, holder string, tokens []byte, accessExpiresAt, expiresAt time.Time) (bff.Session, error) {
	s, err := b.db.UpdateBFFTokens(ctx, hash, holder, tokens, accessExpiresAt, expiresAt)
	return toBFF(s), bffErr(err)
}

func (b bffStore) ReleaseRefresh(ctx context.Context, hash []byte, holder string) error {
	return bffErr(b.db.ReleaseBFFRefresh(ctx, hash, holder))
}

func (b bffStore) DeleteSession(ctx context.Context, hash []byte) error {
	return bffErr(b.db.DeleteBFFSession(ctx, hash))
}

func (b bffStore) DeleteSessionsBySID(ctx context.Context, issuer, sid string) (int, error) {
	n, err := b.db.DeleteBFFSessionsBySID(ctx, issuer, sid)
	return n, bffErr(err)
}

func (b bffStore) DeleteSessionsBySubject(ctx context.Context, issuer, subject string) (int, error) {
	n, err := b.db.DeleteBFFSessionsBySubject(ctx, issuer, subject)
	return n, bffErr(err)
}

// BFF is the backend-for-frontend built from one configuration: its
// sessions in the configuration's database.
type BFF struct {
	DB  Database
	BFF *bff.BFF
	log *slog.Logger
}

// OpenBFF builds `gatehouse bff`: the database (migrated), the BFF's key
// from a stored secret every node shares (derived under the
// key-encryption key when one is set, as the CSRF key is), and the BFF,
// which reads the provider's discovery document now.
func OpenBFF(ctx context.Context, cfg config.Resolved, o Options) (*BFF, error) {
	o = o.withDefaults()
	c := cfg.BFF
	secret, err := bffClientSecret(c)
	if err != nil {
		return nil, err
	}
	pub, err := url.Parse(c.PublicURL)
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		return nil, fmt.Errorf("bff: public_url %q is not an absolute URL", c.PublicURL)
	}
	routes, err := parseRoutes(c.Routes)
	if err != nil {
		return nil, err
	}
	db, err := OpenDatabase(ctx, cfg.Config, true)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*BFF, error) {
		_ = db.Close() // err is what went wrong
		return nil, err
	}
	key, err := db.Secret(ctx, "bff", 32)
	if err != nil {
		return fail(err)
	}
	if cfg.KEK != nil {
		key = sealed.Key(cfg.KEK, "gatehouse bff key v1\x00"+string(key))
	}
	b, err := bff.New(ctx, bff.Config{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret, PublicURL: pub,
		Prefix: c.Prefix, Routes: routes, PostLogoutRedirect: c.PostLogoutRedirectURI, Key: key, Store: bffStore{db},
		IdleTimeout: c.IdleTimeout, Lifetime: c.Lifetime, Log: o.Log, Now: o.Clock.Now})
	if err != nil {
		return fail(err)
	}
	return &BFF{DB: db, BFF: b, log: o.Log}, nil
}

// Close closes the database.
func (b *BFF) Close() error { return b.DB.Close() }

// RunPruner deletes the BFF sessions past their absolute end, every
// interval until ctx ends.
func (b *BFF) RunPruner(ctx context.Context, interval time.Duration, now func() time.Time) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := b.DB.PruneBFFSessions(ctx, now()); err != nil && ctx.Err() == nil {
			b.log.Warn("pruning BFF sessions failed", "err", err)
		} else if n > 0 {
			b.log.Info("pruned BFF sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bffClientSecret is the client secret: from the environment or the
// configuration file (ClientSecret), or read from ClientSecretFile.
func bffClientSecret(c config.BFF) (string, error) {
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile) // #nosec G304 -- the operator names the file
		if err != nil {
			return "", fmt.Errorf("bff: client secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if c.ClientSecret == "" {
		return "", errors.New("bff: no client secret: set GATEHOUSE_BFF_CLIENT_SECRET or bff.client_secret_file")
	}
	return c.ClientSecret, nil
}

// parseRoutes reads "PREFIX=UPSTREAM" pairs.
func parseRoutes(rs []string) ([]bff.Route, error) {
	var out []bff.Route
	for _, r := range rs {
		prefix, upstream, ok := strings.Cut(r, "=")
		u, err := url.Parse(upstream)
		if !ok || err != nil {
			return nil, fmt.Errorf("bff: route %q is not PREFIX=UPSTREAM", r)
		}
		out = append(out, bff.Route{Prefix: prefix, Upstream: u})
	}
	return out, nil
}
