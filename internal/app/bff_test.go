package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/bff"
	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// TestBFFNodes: `gatehouse bff` as OpenBFF builds it, sessions in the
// database: on SQLite one node; on PostgreSQL two nodes behind one public
// URL serve one session (a sign-in on node 1, the calls and the refresh on
// node 2, the logout on node 1).
func TestBFFNodes(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			clk := clock.NewFake(time.Now())
			// The provider.
			gsrv := served.Reserve(t)
			gURL := gsrv.URL
			g := gsrv.Start(t, apptest.Config(t, gURL), app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler), Create: true,
				Limiter: apptest.NoLimits{}})
			if _, err := g.Engine.AddUser(ctx, session.CLI, "alice", "correct horse battery staple", nil); err != nil {
				t.Fatal(err)
			}
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, r.Header.Get("Authorization"))
			}))
			t.Cleanup(api.Close)

			// The BFF nodes, one public URL (node 1's address, standing in
			// for a load balancer's).
			nodes := 1
			bffCfg := apptest.Config(t, gURL)
			if backend == "postgres" {
				nodes = 2
				bffCfg.Database = pgtest.Schema(t)
				bffCfg.KEK = bytes.Repeat([]byte{5}, 32)
			}
			var srvs []*httptest.Server
			for range nodes {
				srvs = append(srvs, httptest.NewUnstartedServer(nil))
			}
			public := "http://" + srvs[0].Listener.Addr().String()
			c, secret, err := g.Clients.Add(ctx, session.CLI, provider.Spec{Name: "SPA", RedirectURIs: []string{public + "/bff/callback"},
				FirstParty: true})
			if err != nil {
				t.Fatal(err)
			}
			bffCfg.BFF = config.BFF{Issuer: gURL, ClientID: c.ID, ClientSecret: secret, PublicURL: public,
				Routes: []string{"/api/=" + api.URL}}
			for _, srv := range srvs {
				b, err := app.OpenBFF(ctx, bffCfg, app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler)})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = b.Close() })
				srv.Config.Handler = b.BFF.Handler()
				srv.Start()
				t.Cleanup(srv.Close)
			}
			node := func(i int) string { return "http://" + srvs[i%nodes].Listener.Addr().String() }

			// Sign in through node 1.
			hc := signInThroughBFF(t, public, gURL)
			jar := hc.Jar
			pub, _ := url.Parse(public)
			cookies := jar.Cookies(pub)

			// The other node serves the same session: the cookies as the
			// load balancer would pass them.
			call := func(i int, method, path string) (int, string) {
				r, _ := http.NewRequest(method, node(i)+path, nil)
				for _, ck := range cookies {
					r.AddCookie(ck)
					if ck.Name == bff.CookieCSRF {
						r.Header.Set(bff.HeaderCSRF, ck.Value)
					}
				}
				r.Header.Set("Accept", "application/json")
				resp, err := http.DefaultClient.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			status, body := call(1, http.MethodGet, "/bff/user")
			var u struct {
				Claims map[string]any `json:"claims"`
			}
			if status != http.StatusOK || json.Unmarshal([]byte(body), &u) != nil || u.Claims["preferred_username"] != "alice" {
				t.Fatalf("/bff/user on the other node: %d %s", status, body)
			}
			status, first := call(1, http.MethodGet, "/api/x")
			if status != http.StatusOK || !strings.HasPrefix(first, "Bearer ") {
				t.Fatalf("the API through the other node: %d %s", status, first)
			}
			clk.Advance(5 * time.Minute) // the access token expires
			status, next := call(1, http.MethodGet, "/api/x")
			if status != http.StatusOK || next == first || !strings.HasPrefix(next, "Bearer ") {
				t.Fatalf("after expiry: %d, the same token %v", status, next == first)
			}
			if status, again := call(0, http.MethodGet, "/api/x"); status != http.StatusOK || again != next {
				t.Fatalf("node 1 after node 2's refresh: %d, its token the refreshed one: %v", status, again == next)
			}
			// Expired again: calls at once on every node, one refresh at
			// the provider (its audit trail counts them).
			refreshes := func() int {
				evs, err := g.Engine.Audit(ctx, store.AuditFilter{Type: "refresh"})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs)
			}
			before := refreshes()
			clk.Advance(5 * time.Minute)
			var wg sync.WaitGroup
			statuses := make([]int, 6)
			for i := range statuses {
				wg.Go(func() { statuses[i], _ = call(i, http.MethodGet, "/api/x") })
			}
			wg.Wait()
			for i, st := range statuses {
				if st != http.StatusOK {
					t.Fatalf("concurrent call %d at expiry: %d", i, st)
				}
			}
			if n := refreshes() - before; n != 1 {
				t.Fatalf("%d refreshes at the provider for %d concurrent calls over %d nodes, want 1", n, len(statuses), nodes)
			}
			if status, body := call(0, http.MethodPost, "/bff/logout"); status != http.StatusOK {
				t.Fatalf("logout: %d %s", status, body)
			}
			if status, _ := call(1, http.MethodGet, "/bff/user"); status != http.StatusUnauthorized {
				t.Fatalf("the other node after logout: %d, want 401", status)
			}
		})
	}
}

// TestBFFGuardFeed: the upstream behind the guard, with the provider's
// remote JWKS and revocation feed, accepts the BFF's calls; when the
// session ends at Gatehouse (an admin's revoke) for a client without
// back-channel logout, the guard refuses the next call at once, and the
// BFF, whose retry's refresh the provider refuses, ends its session.
func TestBFFGuardFeed(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Now())
	gsrv := served.Reserve(t)
	gURL := gsrv.URL
	gcfg := apptest.Config(t, gURL)
	feedSecret := strings.Repeat("f", 40)
	gcfg.RevocationFeedSecret = feedSecret
	g := gsrv.Start(t, gcfg, app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler), Create: true, Limiter: apptest.NoLimits{}})
	if _, err := g.Engine.AddUser(ctx, session.CLI, "alice", "correct horse battery staple", nil); err != nil {
		t.Fatal(err)
	}

	revoked := guard.NewRevocations()
	feedCtx, stopFeed := context.WithCancel(ctx)
	t.Cleanup(stopFeed)
	go func() {
		_ = guard.FollowFeed(feedCtx, gURL+"/auth/revocations", guard.FeedOptions{Secret: feedSecret, Set: revoked})
	}()
	gd, err := guard.New(guard.Config{Issuer: gURL, Audience: gURL, Keys: guard.RemoteJWKS(gURL+"/.well-known/jwks.json", guard.RemoteOptions{}),
		Revocations: revoked})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(gd.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(api.Close)

	srv := httptest.NewUnstartedServer(nil)
	public := "http://" + srv.Listener.Addr().String()
	c, secret, err := g.Clients.Add(ctx, session.CLI, provider.Spec{Name: "SPA", RedirectURIs: []string{public + "/bff/callback"}, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	bcfg := apptest.Config(t, gURL)
	bcfg.BFF = config.BFF{Issuer: gURL, ClientID: c.ID, ClientSecret: secret, PublicURL: public, Routes: []string{"/api/=" + api.URL}}
	b, err := app.OpenBFF(ctx, bcfg, app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	srv.Config.Handler = b.BFF.Handler()
	srv.Start()
	t.Cleanup(srv.Close)

	hc := signInThroughBFF(t, public, gURL)
	call := func() int {
		resp, err := hc.Get(public + "/api/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(5 * time.Second)
	for call() != http.StatusOK { // the guard's feed connects
		if time.Now().After(deadline) {
			t.Fatal("the guarded upstream never accepted the BFF's call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ss, err := g.Engine.Sessions(ctx, session.SessionQuery{}, true)
	if err != nil || len(ss) != 1 {
		t.Fatalf("sessions %v, %v", ss, err)
	}
	if _, err := g.Engine.RevokeSession(ctx, session.CLI, ss[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for call() != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the BFF's calls still pass after the session ended at Gatehouse")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp, err := hc.Get(public + "/bff/user"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/bff/user after the guard refused and the refresh failed: %v %v", resp, err)
	}
}

// signInThroughBFF signs alice in through the BFF at public and the
// provider's login page at gURL, and returns the browser.
func signInThroughBFF(t testing.TB, public, gURL string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.Get(public + "/bff/login?returnTo=/app")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(string(page))
	req := regexp.MustCompile(`name="request" value="([^"]*)"`).FindStringSubmatch(string(page))
	if form == nil || req == nil {
		t.Fatalf("not the login page: %s", page)
	}
	v := url.Values{"username": {"alice"}, "password": {"correct horse battery staple"}, "request": {html.UnescapeString(req[1])}}
	r, _ := http.NewRequest(http.MethodPost, gURL+html.UnescapeString(form[1]), strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", gURL)
	resp, err = hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.String() != public+"/app" {
		t.Fatalf("the sign-in ended at %s", resp.Request.URL)
	}
	return hc
}
