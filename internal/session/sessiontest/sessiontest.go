// Package sessiontest builds a complete session engine over a real SQLite
// file and a fake clock, for the tests of the engine and of every layer
// above it.
package sessiontest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Cheap argon2id parameters keep suites fast; the production floor is
// enforced by the configuration layer, not the hasher.
var Cheap = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// Defaults of a Fixture.
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
	DB     *sqlite.DB
	Clock  *clock.Fake
	Keys   *token.Keyring
	Issuer *token.Issuer
	// Guard verifies the fixture's access tokens as the server does: the
	// public guard over the keyring, without a revocation set.
	Guard   *guard.Guard
	Engine  *session.Engine
	CSRFKey []byte
	Log     *slog.Logger
	opts    Options
}

// New opens a fresh database in t's temporary directory and wires an
// engine over it. The database is closed when the test ends.
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	if o.Issuer == "" {
		o.Issuer = Issuer
	}
	if o.Grace == 0 && !o.NoGrace {
		o.Grace = Grace
	}
	if o.Params == (password.Params{}) {
		o.Params = Cheap
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Alg == "" {
		o.Alg = token.ES256
	}
	if o.Idle == 0 {
		o.Idle = Idle
	}
	if o.Lifetime == 0 {
		o.Lifetime = Lifetime
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	clk := clock.NewFake(Start)
	keys := token.NewKeyring(db, clk, AccessTTL+Leeway, 10*time.Second)
	if err := keys.Ensure(ctx, o.Alg); err != nil {
		t.Fatal(err)
	}
	key, err := db.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fixture{DB: db, Clock: clk, Keys: keys, CSRFKey: key, Log: o.Log, opts: o,
		Issuer: token.NewIssuer(keys, clk, o.Issuer, []string{o.Issuer}, AccessTTL)}
	f.Guard, err = guard.New(guard.Config{Issuer: o.Issuer, Audience: o.Issuer, Leeway: Leeway,
		Keys: guardkeys.FromKeyring(keys), Log: o.Log, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.Engine = f.NewEngine(o.Params)
	return f
}

// NewEngine returns another engine over the same database, keys and clock
// with other hashing parameters (as after a configuration change, or as
// the command line in another process would run).
func (f *Fixture) NewEngine(p password.Params) *session.Engine {
	return session.New(session.Deps{Store: f.DB, Hasher: password.NewHasher(p), Tokens: f.Issuer, CSRF: csrf.New(f.CSRFKey),
		Clock: f.Clock, Log: f.Log, Limiter: f.opts.Limiter, Admission: f.opts.Admission, Notify: f.opts.Notify},
		session.Config{Grace: f.opts.Grace * boolInt(!f.opts.NoGrace), IdleTimeout: f.opts.Idle, Lifetime: f.opts.Lifetime,
			Scope: f.opts.Scope, RevocationWindow: AccessTTL + Leeway})
}

// OtherProcess returns another engine over the same database as a
// separate process (the command line) would run it: without the Notify
// hook, so the revocation feed learns of its revocations only by polling.
func (f *Fixture) OtherProcess() *session.Engine {
	o := f.opts
	o.Notify = nil
	other := &Fixture{DB: f.DB, Clock: f.Clock, Keys: f.Keys, Issuer: f.Issuer, Guard: f.Guard, CSRFKey: f.CSRFKey,
		Log: f.Log, opts: o}
	return other.NewEngine(o.Params)
}

func boolInt(b bool) time.Duration {
	if b {
		return 1
	}
	return 0
}
