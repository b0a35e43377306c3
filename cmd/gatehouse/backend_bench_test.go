package main

import (
	"encoding/base64"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// BenchmarkBackend measures the server as serve wires it, in-process and
// over real HTTP on loopback, once on each backend, so that one command
// prints both:
//
//   - Refresh: one refresh-token rotation after another on one session
//     (POST /auth/refresh, bearer mode): the latency of a rotation.
//   - RefreshParallel: rotations of many sessions at once, one session
//     per client goroutine (8 per core): throughput. On PostgreSQL
//     rotations of different sessions commit concurrently; SQLite has one
//     writer, so there they queue for it.
//   - LoginFirstRequest: a bearer login with the production argon2id
//     parameters, then the first authenticated GET /auth/session (the
//     guard's cold verification and the session's liveness read);
//     first-get-µs is the second request alone.
//
// The PostgreSQL runs use the test server pgtest names (a schema of the
// run's database), and are skipped, saying so, when it is unreachable.
// The figures are in docs/benchmarks.md.
func BenchmarkBackend(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			env := map[string]string{
				"GATEHOUSE_LOG_LEVEL":                  "warn",
				"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "1000000",
				"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "1000000",
			}
			if backend == "postgres" {
				env["GATEHOUSE_DATABASE"] = pgtest.Schema(b)
				env["GATEHOUSE_KEY_ENCRYPTION_KEY"] = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
			}
			base, pw, stop := startServerEnv(b, env, b.TempDir())
			b.Cleanup(func() { stop() })
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			login := func(b *testing.B) bearerResult {
				r, err := bearerLogin(c, base, "admin", pw)
				if err != nil || r.Status != http.StatusOK {
					b.Fatalf("login: %d %s %v", r.Status, r.Code, err)
				}
				return r
			}

			b.Run("Refresh", func(b *testing.B) {
				rt := login(b).RefreshToken
				b.ResetTimer()
				for b.Loop() {
					r, err := bearerRefresh(c, base, rt)
					if err != nil || r.Status != http.StatusOK {
						b.Fatalf("refresh: %d %s %v", r.Status, r.Code, err)
					}
					rt = r.RefreshToken
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
			})

			b.Run("RefreshParallel", func(b *testing.B) {
				const perCore = 8
				n := perCore * runtime.GOMAXPROCS(0)
				tokens := make(chan string, n)
				for range n {
					tokens <- login(b).RefreshToken
				}
				b.SetParallelism(perCore)
				b.ResetTimer()
				b.RunParallel(func(p *testing.PB) {
					rt := <-tokens
					for p.Next() {
						r, err := bearerRefresh(c, base, rt)
						if err != nil || r.Status != http.StatusOK {
							b.Errorf("refresh: %d %s %v", r.Status, r.Code, err)
							return
						}
						rt = r.RefreshToken
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
			})

			b.Run("LoginFirstRequest", func(b *testing.B) {
				var get time.Duration
				for b.Loop() {
					r := login(b)
					start := time.Now()
					req, _ := http.NewRequest(http.MethodGet, base+"/auth/session", nil)
					req.Header.Set("Authorization", "Bearer "+r.AccessToken)
					res, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Fatalf("first request: %d", res.StatusCode)
					}
					get += time.Since(start)
				}
				b.ReportMetric(float64(get.Microseconds())/float64(b.N), "first-get-µs")
			})
		})
	}
}
