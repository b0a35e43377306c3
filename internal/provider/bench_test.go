package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// benchOP is newOP for a benchmark, on SQLite or PostgreSQL.
func benchOP(b *testing.B, backend string) *op {
	b.Helper()
	srv := served.Reserve(b)
	base := srv.URL
	cfg := apptest.Config(b, base)
	if backend == "postgres" {
		cfg.Database = pgtest.Schema(b)
		cfg.KEK = bytes.Repeat([]byte{7}, 32)
	}
	a := srv.Start(b, cfg, app.Options{Clock: clock.System{}, Log: slog.New(slog.DiscardHandler), Create: true,
		Limiter: apptest.NoLimits{}})
	return &op{URL: base, App: a}
}

// latencies collects request times from parallel goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) { l.mu.Lock(); l.d = append(l.d, d...); l.mu.Unlock() }

func (l *latencies) report(b *testing.B, unit string) {
	slices.Sort(l.d)
	if len(l.d) > 0 {
		b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// BenchmarkProvider measures the provider's grants and introspection over
// real HTTP on loopback, against the server as serve wires it, on each
// backend, with 8 client goroutines per core (the figures and the
// comparison with Ory Hydra are in docs/benchmarks.md):
//
//   - RefreshGrant: refresh_token grants, each goroutine rotating its own
//     session's token (client_secret_basic);
//   - ClientCredentials: client_credentials grants;
//   - Introspect: RFC 7662 introspection of one live access token.
func BenchmarkProvider(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			o := benchOP(b, backend)
			ctx := context.Background()
			c, secret, err := o.App.Clients.Add(ctx, session.CLI, provider.Spec{Name: "bench", RedirectURIs: []string{rpCallback},
				GrantTypes: []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken, provider.GrantClientCredentials},
				Scopes:     []string{"openid", "offline_access", "api"}})
			if err != nil {
				b.Fatal(err)
			}
			u, err := o.App.Engine.AddUser(ctx, session.CLI, testUser, testPassword, nil)
			if err != nil {
				b.Fatal(err)
			}
			hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			post := func(form url.Values) (int, []byte) {
				req, _ := http.NewRequest(http.MethodPost, o.URL+provider.PathToken, strings.NewReader(form.Encode()))
				if form.Has("token") {
					req.URL.Path = provider.PathIntrospect
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, secret)
				res, err := hc.Do(req)
				if err != nil {
					return 0, nil
				}
				defer res.Body.Close()
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(res.Body)
				return res.StatusCode, buf.Bytes()
			}
			grant := func() string {
				g, err := o.App.Engine.Start(ctx, session.Grantee{ClientID: c.ID, Scope: "openid offline_access"}, u, time.Now(), session.Client{})
				if err != nil {
					b.Fatal(err)
				}
				return g.RefreshToken
			}
			const perCore = 8
			n := perCore * runtime.GOMAXPROCS(0)

			b.Run("RefreshGrant", func(b *testing.B) {
				tokens := make(chan string, n)
				for range n {
					tokens <- grant()
				}
				var lat latencies
				b.SetParallelism(perCore)
				b.ResetTimer()
				b.RunParallel(func(p *testing.PB) {
					rt := <-tokens
					var mine []time.Duration
					for p.Next() {
						start := time.Now()
						status, body := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
						mine = append(mine, time.Since(start))
						var out struct {
							RefreshToken string `json:"refresh_token"`
						}
						if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
							b.Errorf("refresh: %d %s", status, body)
							return
						}
						rt = out.RefreshToken
					}
					lat.add(mine)
				})
				lat.report(b, "grants/s")
			})

			b.Run("ClientCredentials", func(b *testing.B) {
				var lat latencies
				b.SetParallelism(perCore)
				b.ResetTimer()
				b.RunParallel(func(p *testing.PB) {
					var mine []time.Duration
					for p.Next() {
						start := time.Now()
						status, body := post(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}})
						mine = append(mine, time.Since(start))
						if status != http.StatusOK {
							b.Errorf("client_credentials: %d %s", status, body)
							return
						}
					}
					lat.add(mine)
				})
				lat.report(b, "grants/s")
			})

			b.Run("Introspect", func(b *testing.B) {
				g, err := o.App.Engine.Start(ctx, session.Grantee{ClientID: c.ID, Scope: "openid"}, u, time.Now(), session.Client{})
				if err != nil {
					b.Fatal(err)
				}
				var lat latencies
				b.SetParallelism(perCore)
				b.ResetTimer()
				b.RunParallel(func(p *testing.PB) {
					var mine []time.Duration
					for p.Next() {
						start := time.Now()
						status, body := post(url.Values{"token": {g.AccessToken}})
						mine = append(mine, time.Since(start))
						if status != http.StatusOK || !bytes.Contains(body, []byte(`"active":true`)) {
							b.Errorf("introspection: %d %s", status, body)
							return
						}
					}
					lat.add(mine)
				})
				lat.report(b, "req/s")
			})
		})
	}
}
