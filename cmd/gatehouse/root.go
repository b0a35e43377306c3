package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// env carries what every command needs from the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// clock is the system clock; tests of the whole program may swap it.
	clock clock.Clock

	configPath string
	data       string
	// demo: serve --demo, the demo app beside the API.
	demo bool
}

func newRootCmd(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr, clock: clock.System{}}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Authentication and session server: login, rotating refresh tokens, CSRF-safe cookies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetIn(stdin)
	root.PersistentFlags().StringVar(&e.configPath, "config", "", "YAML configuration file (env GATEHOUSE_CONFIG)")
	root.PersistentFlags().StringVar(&e.data, "data", "", "data directory: SQLite database and keys (env GATEHOUSE_DATA, default ./data)")
	root.AddCommand(newServeCmd(e), newUserCmd(e), newSessionsCmd(e), newKeysCmd(e), newMigrateCmd(e))
	return root
}

// load reads the configuration: defaults < file < environment < flags.
// Command-specific flags are applied by the command afterwards.
func (e *env) load(cmd *cobra.Command) (config.Config, error) {
	path := e.configPath
	if !cmd.Flags().Changed("config") {
		path = e.getenv("GATEHOUSE_CONFIG")
	}
	c, err := config.Load(path, e.getenv)
	if err != nil {
		return c, err
	}
	if cmd.Flags().Changed("data") {
		c.Data = e.data
	}
	return c, nil
}

// database is what the commands need of a store backend: the union of
// the interfaces its consumers declare, the server secrets, and Close.
// Both backends satisfy it; this package is the only one that knows both.
type database interface {
	session.Store
	token.KeyStore
	revocation.Store
	Secret(ctx context.Context, name string, size int) ([]byte, error)
	SchemaVersion(ctx context.Context) (int64, error)
	Close() error
}

var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// openDatabase opens the store cfg.Database selects: PostgreSQL for a
// postgres:// URL (config.Resolve has refused anything else), SQLite in
// the data directory when it is empty. migrate applies pending
// PostgreSQL migrations; SQLite, one file owned by one node, always
// migrates on open. It sets up a database that is not there yet, as
// serve and migrate do.
func openDatabase(ctx context.Context, cfg config.Config, migrate bool) (database, error) {
	db, _, err := openStore(ctx, cfg, migrate, true)
	return db, err
}

// openStore is openDatabase, and with create false it is for the commands
// that only use a database (user, sessions, keys): run from the wrong
// directory, they would otherwise create an empty one in ./data and report
// on that, or rotate its keys. It then refuses an SQLite file that does
// not exist and a PostgreSQL schema that was never migrated.
//
// limits is where the login limiter's account rules count (see
// newLimiter): the PostgreSQL database, which several nodes share; nil
// for SQLite, one node's, whose limiter counts in memory.
func openStore(ctx context.Context, cfg config.Config, migrate, create bool) (db database, limits limiter.Store, err error) {
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

// app is the wired-together core shared by the server and the CLI.
type app struct {
	db     database
	keys   *token.Keyring
	issuer *token.Issuer
	engine *session.Engine
	// hub publishes the revocation feed; only serve runs it, and the
	// command line's revocations reach it through the database.
	hub *revocation.Hub
	// limiter is the engine's login limiter; serve prunes it.
	limiter *limiter.Limiter
	log     *slog.Logger
}

// openApp opens the database and builds the engine. cfg must be resolved.
// create lets it set up a database that is not there yet (serve); without
// it a missing one is an error (openStore).
func (e *env) openApp(ctx context.Context, cfg config.Resolved, log *slog.Logger, create bool) (*app, error) {
	db, limits, err := openStore(ctx, cfg.Config, cfg.MigrateOnStart, create)
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
	keys, err := token.NewEncryptedKeyring(db, e.clock, cfg.AccessTokenTTL+cfg.ClockLeeway, token.DefaultReload,
		token.Encryption{Key: cfg.KEK, Previous: cfg.PreviousKEK, Required: config.IsPostgres(cfg.Database)})
	if err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	}
	// Before anything signs: a wrong key_encryption_key stops here, and
	// keys stored in the clear (or under the previous key) are sealed.
	if n, err := keys.Prepare(ctx); err != nil {
		_ = db.Close() // err is what went wrong; a close error would hide it
		return nil, err
	} else if n > 0 {
		log.Info("signing keys encrypted under key_encryption_key", "keys", n)
	}
	issuer := token.NewIssuer(keys, e.clock, issuerURL, []string{cfg.Audience}, cfg.AccessTokenTTL)
	// A revoked session's access token passes a verifier until its exp
	// plus the leeway: that long its revocation must be published.
	revocationWindow := cfg.AccessTokenTTL + cfg.ClockLeeway
	hubCfg := revocation.Config{PollInterval: cfg.RevocationPollInterval, Window: revocationWindow,
		Clock: e.clock, Log: log}
	// On PostgreSQL other nodes revoke too: LISTEN/NOTIFY brings their
	// revocations at once, and the poll becomes the safety net. The
	// listening connection opens only when serve runs the hub.
	if w, ok := db.(revocation.Waker); ok {
		hubCfg.Waker = w
	}
	hub := revocation.New(db, hubCfg)
	lim := newLimiter(cfg.LoginLimits, limits)
	argon2 := password.Params(cfg.Argon2) // field for field; config validated it as password does
	engine := session.New(session.Deps{
		Store:  db,
		Hasher: password.NewHasher(argon2),
		Tokens: issuer,
		CSRF:   newCSRF(csrfKey, cfg),
		Clock:  e.clock,
		Log:    log,
		Admission: password.NewAdmission(argon2, int64(cfg.HashMemoryBudgetMiB)<<20,
			cfg.HashQueue, cfg.HashQueueWait),
		Limiter: lim,
		Notify:  hub.Notify,
	}, session.Config{
		Scope:       cfg.AccessTokenScope,
		Grace:       cfg.RefreshGrace,
		IdleTimeout: cfg.SessionIdleTimeout,
		Lifetime:    cfg.SessionLifetime,
		Retention:   cfg.SessionRetention,

		RevocationWindow: revocationWindow,
	})
	return &app{db: db, keys: keys, issuer: issuer, engine: engine, hub: hub, limiter: lim, log: log}, nil
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

// newGuard builds the one guard that verifies access tokens in this
// process, for the server's own endpoints and the demo app alike: the
// same code a separate resource server runs, so the two cannot disagree
// about a token. Its keys come straight from the keyring, and its
// revocations from this process's revocation hub (the in-process form of
// the feed), so a logout reaches it at once. ctx bounds the feed; serve
// must run the hub, or the guard fails closed once FeedMaxLag has passed.
//
// refresher, when not nil, turns on in-line refresh (inline_refresh): the
// demo's guard gets the server's, the server's own guard none, since the
// server only verifies tokens with it.
func (e *env) newGuard(ctx context.Context, a *app, cfg config.Resolved, log *slog.Logger, refresher guard.Refresher) (*guard.Guard, error) {
	revoked := guard.NewRevocations()
	go a.hub.Follow(ctx, revoked)
	// The hub drops a revocation after access_token_ttl + clock_leeway;
	// the guard must not accept a token longer than that, so it gets the
	// same leeway. Zero would mean the guard's default, hence the least
	// positive duration instead.
	leeway := max(cfg.ClockLeeway, time.Nanosecond)
	g, err := guard.New(guard.Config{
		Issuer:         cfg.PublicURL.String(),
		Audience:       cfg.Audience,
		Leeway:         leeway,
		Keys:           guardkeys.FromKeyring(a.keys),
		Revocations:    revoked,
		FeedMaxLag:     feedMaxLag(cfg.RevocationPollInterval),
		AllowedOrigins: cfg.AllowedOrigins,
		Refresher:      refresher,
		Log:            log,
		Now:            e.clock.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	return g, nil
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
	return max(guard.DefaultFeedMaxLag, 3*poll)
}

func (a *app) Close() error { return a.db.Close() }

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var lvl slog.Level
	// Validate has checked log_level; one it would refuse leaves Info.
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// oneLine folds an error into one line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
