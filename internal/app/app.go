// Package app is Gatehouse's composition root: it builds every part once
// from one resolved configuration (the store, the signing keys and the
// issuer, the login limiter, the revocation hub, the session engine) and,
// for a serving process, the HTTP side (the process's guard, the edge, the
// first-party API) on the one ServeMux every surface is mounted on. serve,
// every command and the end-to-end tests build Gatehouse through it, so
// the parts are wired in one place (Mat Ryer's run, wtf's Main). Adding a
// surface is one constructor and one Mount.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/time/rate"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Database is what Gatehouse needs of a store backend: the union of the
// interfaces its consumers declare, the server secrets, and Close. Both
// backends satisfy it; this package is the only one that knows both.
type Database interface {
	session.Store
	token.KeyStore
	revocation.Store
	provider.Clients
	provider.Codes
	provider.PushedRequests
	provider.Consents
	provider.LogoutNotices
	provider.ClientAssertions
	BFFSessions
	Secret(ctx context.Context, name string, size int) ([]byte, error)
	SchemaVersion(ctx context.Context) (int64, error)
	LatestSchemaVersion() int64
	Close() error
}

var (
	_ Database = (*sqlite.DB)(nil)
	_ Database = (*postgres.DB)(nil)
)

// OpenDatabase opens the store cfg.Database selects: PostgreSQL for a
// postgres:// URL (config.Resolve has refused anything else), SQLite in
// the data directory when it is empty. migrate applies pending
// PostgreSQL migrations; SQLite, one file owned by one node, always
// migrates on open. It sets up a database that is not there yet, as
// serve and migrate do.
func OpenDatabase(ctx context.Context, cfg config.Config, migrate bool) (Database, error) {
	db, _, err := openStore(ctx, cfg, migrate, true)
	return db, err
}

// openStore is OpenDatabase, and with create false it is for the commands
// that only use a database (user, sessions, keys): run from the wrong
// directory, they would otherwise create an empty one in ./data and report
// on that, or rotate its keys. It then refuses an SQLite file that does
// not exist and a PostgreSQL schema that was never migrated.
//
// limits is where the login limiter's account rules count (see
// newLimiter): the PostgreSQL database, which several nodes share; nil
// for SQLite, one node's, whose limiter counts in memory.
func openStore(ctx context.Context, cfg config.Config, migrate, create bool) (db Database, limits limiter.Store, err error) {
	if config.IsPostgres(cfg.Database) {
		pg, err := postgres.Open(ctx, cfg.Database, postgres.Options{MigrateOnStart: migrate, RequireSchema: !create})
		if err != nil {
			return nil, nil, err
		}
		return pg, pg, nil
	}
	path := filepath.Join(cfg.Data, sqlite.FileName)
	if !create {
		if err := sqliteExists(path); err != nil {
			return nil, nil, err
		}
	}
	lite, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return lite, nil, nil
}

// sqliteExists refuses a database file that is not there, naming where
// it was looked for and how to point the command elsewhere. Any other
// error is left to sqlite.Open, which reports it with the path.
func sqliteExists(path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	shown := path
	if abs, err := filepath.Abs(path); err == nil {
		shown = abs
	}
	return fmt.Errorf("no Gatehouse database at %s: only serve and migrate create one; "+
		"point --data or GATEHOUSE_DATA (or the config file's data) at the data directory that holds it", shown)
}

// App is Gatehouse built from one configuration: every part, once.
type App struct {
	DB Database
	// Keys are the access-token signing keys, the only ones the
	// process's guard trusts; IDKeys the OpenID Connect ID tokens' (typ
	// JWT), a rotation lineage of their own in the same store. The JWKS
	// publishes both (token.KeySets).
	Keys   *token.Keyring
	IDKeys *token.Keyring
	Issuer *token.Issuer
	Engine *session.Engine
	// Hub publishes the revocation feed; only a serving process runs it
	// (Run), and the command line's revocations reach it through the
	// database.
	Hub *revocation.Hub
	// Limiter is the login limiter built from the configuration; Run
	// prunes it.
	Limiter *limiter.Limiter
	// Clients is the OAuth 2.0 client registry.
	Clients *provider.Registry
	// Backchannel sends OpenID Connect back-channel logout tokens to the
	// clients of ended sessions; only a serving process runs it (Run),
	// and every node sharing the database may.
	Backchannel *provider.Backchannel

	cfg   config.Resolved
	clock clock.Clock
	log   *slog.Logger
	web   *surfaces // the HTTP side, built by Serve
}

// Options are what the composition root takes besides the configuration.
type Options struct {
	// Clock is the system clock unless a test swaps it.
	Clock clock.Clock
	// Log receives the process's log; nil discards it.
	Log *slog.Logger
	// Create lets Open set up a database that is not there yet (serve,
	// migrate); without it a missing SQLite file or an unmigrated
	// PostgreSQL schema is an error.
	Create bool
	// Limiter and Admission, when set, stand in for the login limiter and
	// the hashing admission the configuration describes (tests of what
	// happens when they refuse).
	Limiter   session.Limiter
	Admission *password.Admission
	// Notify, when set, is called after every committed revocation, after
	// the revocation hub is nudged (session.Deps.Notify). It must not
	// block.
	Notify func()
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Open opens the database and builds the core every command uses: the
// keys, the issuer, the login limiter, the revocation hub and the engine.
// cfg must be resolved. o.Create lets it set up a database that is not
// there yet (serve); without it a missing one is an error (openStore).
func Open(ctx context.Context, cfg config.Resolved, o Options) (*App, error) {
	o = o.withDefaults()
	log := o.Log
	db, limits, err := openStore(ctx, cfg.Config, cfg.MigrateOnStart, o.Create)
	if err != nil {
		return nil, err
	}
	csrfKey, err := db.Secret(ctx, "csrf", 32)
	if err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	}
	issuerURL := cfg.PublicURL.String()
	// A retired key stays published for one token lifetime plus the
	// verifiers' leeway: by then every token it signed has expired.
	// Every node rereads the keys at least every DefaultReload, so all
	// publish the same JWKS within that of a rotation. A backend shared by
	// several nodes (PostgreSQL) must set Required: see token.Encryption.
	//
	// The ID-token keys are the same store's, under the same encryption,
	// with the same reload. They are kept as long: an ID token is never
	// meant to outlive an access token issued with it, and the provider
	// fixes its ID tokens' lifetime within that.
	keep := cfg.AccessTokenTTL + cfg.ClockLeeway
	enc := token.Encryption{Key: cfg.KEK, Previous: cfg.PreviousKEK, Required: config.IsPostgres(cfg.Database)}
	keys, err := token.NewEncryptedKeyring(db, o.Clock, keep, token.DefaultReload, enc)
	if err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	}
	idKeys, err := token.NewEncryptedKeyringFor(token.PurposeID, db, o.Clock, keep, token.DefaultReload, enc)
	if err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	}
	// Before anything signs: a wrong key_encryption_key stops here, and
	// keys stored in the clear (or under the previous key) are sealed,
	// each keyring sealing its own purpose's.
	for _, r := range []*token.Keyring{keys, idKeys} {
		if n, err := r.Prepare(ctx); err != nil {
			_ = db.Close() // err is what went wrong; a close error would hide it
			return nil, err
		} else if n > 0 {
			log.Info("signing keys encrypted under key_encryption_key", "purpose", r.Purpose(), "keys", n)
		}
	}
	issuer := token.NewIssuer(keys, o.Clock, issuerURL, []string{cfg.Audience}, cfg.AccessTokenTTL)
	// A revoked session's access token passes a verifier until its exp
	// plus the leeway: that long its revocation must be published.
	revocationWindow := cfg.AccessTokenTTL + cfg.ClockLeeway
	hubCfg := revocation.Config{PollInterval: cfg.RevocationPollInterval, Window: revocationWindow,
		Clock: o.Clock, Log: log}
	// On PostgreSQL other nodes revoke too: LISTEN/NOTIFY brings their
	// revocations at once, and the poll becomes the safety net. The
	// listening connection opens only when serve runs the hub.
	if w, ok := db.(revocation.Waker); ok {
		hubCfg.Waker = w
	}
	hub := revocation.New(db, hubCfg)
	// The back-channel sender is built after the engine it records
	// through; a revocation wakes it as it does the hub, and nothing
	// revokes before Open returns.
	var backchannel *provider.Backchannel
	notify := func() {
		hub.Notify()
		backchannel.Wake()
		if o.Notify != nil {
			o.Notify()
		}
	}
	lim := newLimiter(cfg.LoginLimits, limits)
	var engineLimiter session.Limiter = lim
	if o.Limiter != nil {
		engineLimiter = o.Limiter
	}
	argon2 := password.Params(cfg.Argon2) // field for field; config validated it as password does
	admission := o.Admission
	if admission == nil {
		admission = password.NewAdmission(argon2, int64(cfg.HashMemoryBudgetMiB)<<20, cfg.HashQueue, cfg.HashQueueWait)
	}
	engine := session.New(session.Deps{
		Store:     db,
		Hasher:    password.NewHasher(argon2),
		Tokens:    issuer,
		CSRF:      newCSRF(csrfKey, cfg),
		Clock:     o.Clock,
		Log:       log,
		Admission: admission,
		Limiter:   engineLimiter,
		Notify:    notify,
	}, session.Config{
		Scope:       cfg.AccessTokenScope,
		Grace:       cfg.RefreshGrace,
		IdleTimeout: cfg.SessionIdleTimeout,
		Lifetime:    cfg.SessionLifetime,
		Retention:   cfg.SessionRetention,

		RevocationWindow: revocationWindow,
	})
	clients := provider.NewRegistry(db, engine, o.Clock)
	backchannel, err = provider.NewBackchannel(provider.BackchannelDeps{Store: db, Clients: clients, IDKeys: idKeys,
		Audit: engine, HTTP: newLogoutClient(), Clock: o.Clock, Log: log},
		provider.BackchannelConfig{Issuer: cfg.PublicURL, IdleTimeout: cfg.SessionIdleTimeout})
	if err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	}
	return &App{DB: db, Keys: keys, IDKeys: idKeys, Issuer: issuer, Engine: engine, Hub: hub, Limiter: lim,
		Clients: clients, Backchannel: backchannel, cfg: cfg, clock: o.Clock, log: log}, nil
}

// logoutTimeout bounds one back-channel logout delivery, from dialling to
// the end of the answer.
const logoutTimeout = 5 * time.Second

// newLogoutClient is the HTTP client that posts logout tokens: bounded
// (a client's endpoint that hangs costs an attempt, not a sender), and
// following no redirect, so a token goes to the registered URI or
// nowhere.
func newLogoutClient() *http.Client {
	return &http.Client{Timeout: logoutTimeout, CheckRedirect: provider.NoRedirects}
}

// EnsureKeys makes sure an access key with signing_alg and an ID-token key
// with id_token_signing_alg are signing, creating those that are missing
// (token.Keyring.Ensure). serve calls it once the App is open, before
// anything signs; the other commands do not, so that listing keys or users
// never creates one.
func (a *App) EnsureKeys(ctx context.Context) error {
	if err := a.Keys.Ensure(ctx, a.cfg.SigningAlg); err != nil {
		return fmt.Errorf("access-token keys: %w", err)
	}
	if err := a.IDKeys.Ensure(ctx, a.cfg.IDTokenSigningAlg); err != nil {
		return fmt.Errorf("ID-token keys: %w", err)
	}
	return nil
}

// newLimiter builds the login limiter over shared, the limits store
// openStore returned. On PostgreSQL, which several nodes share, the
// account limits count in the database, so that they hold across the
// cluster and a lock cannot be dodged by landing on another node; on
// SQLite, one node's, shared is nil and they count in memory. The per-IP
// buckets are each node's own either way (docs/security/lockout.md).
func newLimiter(ll config.LoginLimits, shared limiter.Store) *limiter.Limiter {
	c := limiter.Config{
		IPRate:                 rate.Limit(float64(ll.IPPerMinute) / 60),
		IPBurst:                ll.IPBurst,
		FreeFailures:           ll.FreeFailures,
		BaseDelay:              ll.BackoffBase,
		MaxDelay:               ll.BackoffMax,
		LockAfter:              ll.LockAfter,
		LockFor:                ll.LockFor,
		AccountFailuresPerHour: ll.AccountFailuresPerHour,
	}
	if shared != nil {
		return limiter.NewShared(c, shared)
	}
	return limiter.New(c)
}

// newGuard builds a guard that verifies access tokens in this
// process, for the server's own endpoints and the demo app alike: the
// same code a separate resource server runs, so the two cannot disagree
// about a token. Its keys come straight from the access keyring (never
// the ID-token keys, though the JWKS publishes both), and its
// revocations from this process's revocation hub (the in-process form of
// the feed), so a logout reaches it at once. ctx bounds the feed; serve
// must run the hub, or the guard fails closed once FeedMaxLag has passed.
//
// refresher, when not nil, turns on in-line refresh (inline_refresh): the
// demo's guard gets the server's, the server's own guard none, since the
// server only verifies tokens with it.
func (a *App) newGuard(ctx context.Context, refresher guard.Refresher) (*guard.Guard, *guard.Revocations, error) {
	cfg, log := a.cfg, a.log
	revoked := guard.NewRevocations()
	go a.Hub.Follow(ctx, revset.Of(revoked))
	// The hub drops a revocation after access_token_ttl + clock_leeway;
	// the guard must not accept a token longer than that, so it gets the
	// same leeway. Zero would mean the guard's default, hence the least
	// positive duration instead.
	leeway := max(cfg.ClockLeeway, time.Nanosecond)
	g, err := guard.New(guard.Config{
		Issuer:         cfg.PublicURL.String(),
		Audience:       cfg.Audience,
		Leeway:         leeway,
		Keys:           guardkeys.FromKeyring(a.Keys),
		Revocations:    revoked,
		FeedMaxLag:     feedMaxLag(cfg.RevocationPollInterval),
		AllowedOrigins: cfg.AllowedOrigins,
		Refresher:      refresher,
		Log:            log,
		Now:            a.clock.Now,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("guard: %w", err)
	}
	return g, revoked, nil
}

// newCSRF builds the CSRF token keys from the stored secret. With a
// key-encryption key the HMAC key is derived from the secret under it, so
// a copy of the database alone cannot mint CSRF tokens, just as it cannot
// open the signing keys; during a KEK rotation tokens made under the
// previous KEK stay valid.
func newCSRF(secret []byte, cfg config.Resolved) *csrf.Keyed {
	var previous [][]byte
	if cfg.PreviousKEK != nil {
		previous = append(previous, csrf.DeriveKey(secret, cfg.PreviousKEK))
	}
	return csrf.New(csrf.DeriveKey(secret, cfg.KEK), previous...)
}

// feedMaxLag is how long the in-process guard waits for word from the hub
// before it fails closed. The hub touches the guard's set at every poll of
// the store, and a quiet feed is only those polls, so the limit must cover
// a few of them: with revocation_poll_interval above a third of the
// guard's default, the default would refuse every request in each quiet
// gap between polls.
func feedMaxLag(poll time.Duration) time.Duration {
	return max(revset.DefaultMaxLag, 3*poll)
}

// Close closes the database.
func (a *App) Close() error { return a.DB.Close() }

// Run runs what a serving process runs in the background until ctx ends:
// the revocation hub, the back-channel logout sender, and the hourly
// pruning of ended sessions, of expired authorization codes and pushed
// requests, and of the login limiter's state. It returns at once; the
// hub's and the sender's Done are closed when they have stopped.
func (a *App) Run(ctx context.Context) {
	go a.Engine.RunPruner(ctx, time.Hour)
	go provider.NewPruner(a.DB, a.clock, a.log).Run(ctx, time.Hour)
	go a.Limiter.RunPruner(ctx, time.Hour, a.clock.Now, a.log)
	go a.Hub.Run(ctx)
	go a.Backchannel.Run(ctx)
}
