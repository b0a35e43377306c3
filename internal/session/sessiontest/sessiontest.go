// Package sessiontest builds a complete session engine for the tests of
// the engine and of every layer above it: through the composition root
// (internal/app), as serve builds it, over a real SQLite file and a fake
// clock.
package sessiontest

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Cheap argon2id parameters keep suites fast; the production floor is
// enforced by the configuration layer, not the hasher.
var Cheap = password.Params(apptest.Cheap)

// Defaults of a Fixture: the configuration's defaults.
const (
	Issuer    = "https://gatehouse.test"
	AccessTTL = 5 * time.Minute
	Leeway    = 30 * time.Second
	Grace     = 10 * time.Second
	Idle      = 7 * 24 * time.Hour
	Lifetime  = 30 * 24 * time.Hour
)

// Start is the fake clock's starting time.
var Start = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// Options adjust a Fixture; zero fields keep the defaults.
type Options struct {
	Issuer   string // also the audience
	Grace    time.Duration
	NoGrace  bool
	Params   password.Params
	Log      *slog.Logger
	Alg      string
	Scope    string // default session.DefaultScope
	Idle     time.Duration
	Lifetime time.Duration
	// Limiter and Admission are off unless given.
	Limiter   session.Limiter
	Admission *password.Admission
	// Notify is the engine's revocation hook (session.Deps.Notify).
	Notify func()
}

// Fixture is one wired engine.
type Fixture struct {
	DB     app.Database
	Clock  *clock.Fake
	Keys   *token.Keyring
	Issuer *token.Issuer
	// Guard verifies the fixture's access tokens as the server does: the
	// public guard over the keyring, without a revocation set.
	Guard   *guard.Guard
	Engine  *session.Engine
	CSRFKey []byte
	Log     *slog.Logger
	cfg     config.Resolved
	opts    Options
	t       testing.TB
}

// New opens a fresh database in t's temporary directory and wires an
// engine over it with the composition root. The database is closed when
// the test ends.
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = Issuer
	}
	if o.Params == (password.Params{}) {
		o.Params = Cheap
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := apptest.Config(t, o.Issuer)
	if o.Alg != "" {
		cfg.SigningAlg = o.Alg
	}
	switch {
	case o.NoGrace:
		cfg.RefreshGrace = 0
	case o.Grace != 0:
		cfg.RefreshGrace = o.Grace
	}
	if o.Idle != 0 {
		cfg.SessionIdleTimeout = o.Idle
	}
	if o.Lifetime != 0 {
		cfg.SessionLifetime = o.Lifetime
	}
	if o.Scope != "" {
		cfg.AccessTokenScope = o.Scope
	}
	cfg.Argon2 = config.Argon2(o.Params)
	f := &Fixture{Clock: clock.NewFake(Start), Log: o.Log, cfg: cfg, opts: o, t: t}
	a := f.open(t, o.Params, o.Notify, true)
	ctx := context.Background()
	if err := a.Keys.Ensure(ctx, cfg.SigningAlg); err != nil {
		t.Fatal(err)
	}
	key, err := a.DB.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(o.Issuer)
	f.DB, f.Keys, f.Issuer, f.Engine, f.CSRFKey = a.DB, a.Keys, a.Issuer, a.Engine, key
	f.Guard, err = guard.New(guard.Config{Issuer: pub.String(), Audience: o.Issuer, Leeway: cfg.ClockLeeway,
		Keys: guardkeys.FromKeyring(a.Keys), Log: o.Log, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// open builds an App over the fixture's database with hashing parameters
// p and revocation hook notify; the first one creates the database.
func (f *Fixture) open(t testing.TB, p password.Params, notify func(), create bool) *app.App {
	t.Helper()
	cfg := f.cfg
	cfg.Argon2 = config.Argon2(p)
	o := app.Options{Clock: f.Clock, Log: f.Log, Create: create, Notify: notify,
		Limiter: f.opts.Limiter, Admission: f.opts.Admission}
	if o.Limiter == nil {
		o.Limiter = apptest.NoLimits{}
	}
	a, err := app.Open(context.Background(), cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// NewEngine returns another engine over the same database, keys and clock
// with other hashing parameters (as after a configuration change, or as
// the command line in another process would run).
func (f *Fixture) NewEngine(p password.Params) *session.Engine {
	return f.open(f.t, p, f.opts.Notify, false).Engine
}

// OtherProcess returns another engine over the same database as a
// separate process (the command line) would run it: without the Notify
// hook, so the revocation feed learns of its revocations only by polling.
func (f *Fixture) OtherProcess() *session.Engine {
	return f.open(f.t, f.opts.Params, nil, false).Engine
}
