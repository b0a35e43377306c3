package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// BenchmarkBFFProxy measures an API call through `gatehouse bff` as the
// composition root builds it (the session read from the store, the
// tokens unsealed, the Bearer header, the reverse proxy) against the same
// call made straight to the upstream with the token, over real HTTP on
// loopback, on each backend; docs/benchmarks.md has the ratio.
func BenchmarkBFFProxy(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			clk := clock.NewFake(time.Now())
			gsrv := served.Reserve(b)
			gURL := gsrv.URL
			g := gsrv.Start(b, apptest.Config(b, gURL), app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler), Create: true,
				Limiter: apptest.NoLimits{}})
			if _, err := g.Engine.AddUser(ctx, session.CLI, "alice", "correct horse battery staple", nil); err != nil {
				b.Fatal(err)
			}
			var last string
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				last = r.Header.Get("Authorization")
				_, _ = io.WriteString(w, `{"ok":true}`)
			}))
			b.Cleanup(api.Close)
			srv := httptest.NewUnstartedServer(nil)
			public := "http://" + srv.Listener.Addr().String()
			c, secret, err := g.Clients.Add(ctx, session.CLI, provider.Spec{Name: "SPA", RedirectURIs: []string{public + "/bff/callback"}, FirstParty: true})
			if err != nil {
				b.Fatal(err)
			}
			bcfg := apptest.Config(b, gURL)
			if backend == "postgres" {
				bcfg.Database = pgtest.Schema(b)
				bcfg.KEK = bytes.Repeat([]byte{5}, 32)
			}
			bcfg.BFF = config.BFF{Issuer: gURL, ClientID: c.ID, ClientSecret: secret, PublicURL: public, Routes: []string{"/api/=" + api.URL}}
			bf, err := app.OpenBFF(ctx, bcfg, app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = bf.Close() })
			srv.Config.Handler = bf.BFF.Handler()
			srv.Start()
			b.Cleanup(srv.Close)
			hc := signInThroughBFF(b, public, gURL)
			get := func(b *testing.B, c *http.Client, u, authz string) {
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				if authz != "" {
					req.Header.Set("Authorization", authz)
				}
				resp, err := c.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%v %v", resp, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get(b, hc, public+"/api/hello", "")
			token := last
			b.Run("ThroughBFF", func(b *testing.B) {
				for b.Loop() {
					get(b, hc, public+"/api/hello", "")
				}
			})
			b.Run("Direct", func(b *testing.B) {
				direct := &http.Client{}
				for b.Loop() {
					get(b, direct, api.URL+"/api/hello", token)
				}
			})
		})
	}
}
