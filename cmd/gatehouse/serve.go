package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/httpserve"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// memoryOverheadMiB is what the server needs besides password hashing:
// the runtime, SQLite's caches, connections and request buffers. The soft
// memory limit is the hashing budget plus this, so under a login flood the
// garbage collector collects spent hash buffers instead of letting the heap
// double; measured: peak RSS ~140 MiB at a 64 MiB budget, against ~200 MiB
// with 128 here (docs/benchmarks.md).
const memoryOverheadMiB = 64

func newServeCmd(e *env) *cobra.Command {
	var f config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Gatehouse server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := e.load(cmd)
			if err != nil {
				return err
			}
			// Flags override the file and the environment, but only
			// when given.
			for name, apply := range map[string]func(){
				"listen":         func() { cfg.Listen = f.Listen },
				"public-url":     func() { cfg.PublicURL = f.PublicURL },
				"allowed-origin": func() { cfg.AllowedOrigins = f.AllowedOrigins },
				"tls-cert":       func() { cfg.TLSCert = f.TLSCert },
				"tls-key":        func() { cfg.TLSKey = f.TLSKey },
				"trusted-proxy":  func() { cfg.TrustedProxies = f.TrustedProxies },
				"log-level":      func() { cfg.LogLevel = f.LogLevel },
			} {
				if cmd.Flags().Changed(name) {
					apply()
				}
			}
			return e.serve(cmd.Context(), cfg)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Listen, "listen", "", "address to listen on, HOST:PORT (env GATEHOUSE_LISTEN, default localhost:8080)")
	fl.StringVar(&f.PublicURL, "public-url", "", "URL browsers use to reach Gatehouse; the token issuer (env GATEHOUSE_PUBLIC_URL)")
	fl.StringArrayVar(&f.AllowedOrigins, "allowed-origin", nil, "another origin allowed to log in and call the API (repeatable)")
	fl.StringVar(&f.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	fl.StringVar(&f.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fl.StringArrayVar(&f.TrustedProxies, "trusted-proxy", nil, "address or CIDR of a trusted TLS-terminating proxy (repeatable)")
	fl.StringVar(&f.LogLevel, "log-level", "", "debug, info, warn or error")
	fl.BoolVar(&e.demo, "demo", false, "also serve the demo app at / and its API under /demo/api/")
	return cmd
}

func (e *env) serve(ctx context.Context, c config.Config) error {
	// Validate before binding, so a refused configuration never listens,
	// not even for a moment. Port 0 is resolved again once bound.
	if _, err := c.Resolve(c.Listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	cfg, err := c.Resolve(ln.Addr().String())
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg.Config)
	// The OpenID provider's protocol library (zitadel/oidc's op) logs
	// through Go's default logger: its lines take serve's format and
	// level, marked as its own. It logs errors and descriptions, never
	// tokens or secrets.
	slog.SetDefault(log.With("component", "oidc"))

	a, err := app.Open(ctx, cfg, app.Options{Clock: e.clock, Log: log, Create: true})
	if err != nil {
		return err
	}
	defer a.Close()
	if !a.Keys.Encrypted() {
		log.Warn("signing keys are stored unencrypted in the database; set key_encryption_key (openssl rand -base64 32) to encrypt them at rest")
	}
	if err := a.EnsureKeys(ctx); err != nil {
		return err
	}
	if err := e.bootstrapAdmin(ctx, a); err != nil {
		return err
	}
	// Password hashing is the one large, bursty allocation; with its
	// budget bounded, a soft memory limit of budget plus a fixed overhead
	// keeps the garbage collector from letting the heap run to twice the
	// live size under a login flood. GOMEMLIMIT, when set, wins.
	if e.getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.HashMemoryBudgetMiB+memoryOverheadMiB) << 20)
	}
	// The background jobs stop with the server; so does the revocation
	// feed, whose open streams end then, so that a graceful shutdown does
	// not wait on them.
	jobs, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	a.Run(jobs)
	// serve --demo without a revocation_feed_secret gets one for this
	// run, so that a guard in another process can follow the feed; it is
	// printed once below, as the admin password is.
	feedSecret, generated := cfg.RevocationFeedSecret, false
	if e.demo && feedSecret == "" {
		feedSecret, generated = demoFeedSecret(), true
	}
	if err := a.Serve(ctx, app.ServeOptions{FeedSecret: feedSecret}); err != nil {
		return err
	}
	if e.demo {
		// The demo is a surface beside the API, behind the same edge;
		// with inline_refresh its guard refreshes through the API.
		demoGuard := a.Guard()
		if cfg.InlineRefresh {
			if demoGuard, err = a.InlineGuard(ctx); err != nil {
				return err
			}
		}
		demoApp, err := demoHandler(demoGuard, cfg, log)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		a.Mount("/", demoApp)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		// The hard limit; the handler answers anything over
		// max_header_bytes with a problem body first.
		MaxHeaderBytes: 256 << 10,
	}
	srv.RegisterOnShutdown(stopJobs)
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	// Every request passes the framing check against request smuggling
	// (RFC 9112 §6.1); with TLS, the returned listener does the handshake
	// itself and serves HTTP/1.1 only.
	ln = httpserve.Wrap(srv, ln)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL.String(), "data", cfg.Data)
	if generated {
		printDemoFeedSecret(e.stdout, feedSecret, cfg.PublicURL)
	}
	fmt.Fprintf(e.stdout, "Gatehouse is listening on %s (public URL %s)\n", ln.Addr(), cfg.PublicURL)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bootstrapAdmin creates the first user on an empty database and prints
// its password once; it is stored nowhere but as a hash.
func (e *env) bootstrapAdmin(ctx context.Context, a *app.App) error {
	has, err := a.Engine.HasUsers(ctx)
	if err != nil || has {
		return err
	}
	pw := rand.Text()
	if _, err := a.Engine.AddUser(ctx, session.Actor{ID: "bootstrap"}, "admin", pw, []string{"admin"}); err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	fmt.Fprintf(e.stdout, "Created user \"admin\" with password %s\nThis password is shown only now; change it with: gatehouse user passwd admin --password-stdin\n", pw)
	return nil
}
