package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/httpserve"
)

// newBFFCmd is `gatehouse bff`: the backend-for-frontend (docs/bff.md).
// The client secret comes from GATEHOUSE_BFF_CLIENT_SECRET or a file,
// never a flag: a flag's value shows in the process list and the shell's
// history.
func newBFFCmd(e *env) *cobra.Command {
	var f config.BFF
	cmd := &cobra.Command{
		Use:   "bff",
		Short: "Run the backend-for-frontend in front of a single-page app and its API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.load(cmd)
			if err != nil {
				return err
			}
			for name, apply := range map[string]func(){
				"issuer":             func() { c.BFF.Issuer = f.Issuer },
				"client-id":          func() { c.BFF.ClientID = f.ClientID },
				"client-secret-file": func() { c.BFF.ClientSecretFile = f.ClientSecretFile },
				"listen":             func() { c.BFF.Listen = f.Listen },
				"public-url":         func() { c.BFF.PublicURL = f.PublicURL },
				"prefix":             func() { c.BFF.Prefix = f.Prefix },
				"route":              func() { c.BFF.Routes = f.Routes },
			} {
				if cmd.Flags().Changed(name) {
					apply()
				}
			}
			return e.runBFF(cmd.Context(), c)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Issuer, "issuer", "", "the OpenID provider's issuer URL (env GATEHOUSE_BFF_ISSUER)")
	fl.StringVar(&f.ClientID, "client-id", "", "the BFF's client id at the provider (env GATEHOUSE_BFF_CLIENT_ID)")
	fl.StringVar(&f.ClientSecretFile, "client-secret-file", "", "a file holding the client secret (else GATEHOUSE_BFF_CLIENT_SECRET)")
	fl.StringVar(&f.Listen, "listen", "", "address to listen on, HOST:PORT (env GATEHOUSE_BFF_LISTEN, default localhost:8090)")
	fl.StringVar(&f.PublicURL, "public-url", "", "where browsers reach the BFF, the SPA's origin (default http://LISTEN)")
	fl.StringVar(&f.Prefix, "prefix", "", "the BFF's endpoints' path prefix (default /bff)")
	fl.StringArrayVar(&f.Routes, "route", nil, "PREFIX=UPSTREAM, an API the SPA calls through the BFF (repeatable)")
	return cmd
}

func (e *env) runBFF(ctx context.Context, c config.Config) error {
	if c.BFF.Listen == "" {
		c.BFF.Listen = "localhost:8090"
	}
	cfg, err := c.Resolve(c.Listen)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.BFF.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	if cfg.BFF.PublicURL == "" {
		cfg.BFF.PublicURL = "http://" + ln.Addr().String()
	}
	log := newLogger(e.stderr, c)
	b, err := app.OpenBFF(ctx, cfg, app.Options{Clock: e.clock, Log: log})
	if err != nil {
		return err
	}
	defer b.Close()
	jobs, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	go b.RunPruner(jobs, time.Hour, e.clock.Now)
	srv := &http.Server{
		Handler:           b.BFF.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		// No WriteTimeout: proxied responses may stream (server-sent
		// events); the upstream's answer headers are bounded instead.
	}
	ln = httpserve.Wrap(srv, ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("gatehouse bff listening", "addr", ln.Addr().String(), "public_url", cfg.BFF.PublicURL, "issuer", cfg.BFF.Issuer)
	fmt.Fprintf(e.stdout, "Gatehouse BFF is listening on %s (public URL %s)\n", ln.Addr(), cfg.BFF.PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
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
