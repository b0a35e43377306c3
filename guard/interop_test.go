package guard_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// engineRefresher is an in-line Refresher over Gatehouse's own session
// engine, as the server will provide one.
type engineRefresher struct {
	e   *session.Engine
	csr string // the new CSRF token, for the test to read
}

func (r *engineRefresher) Refresh(w http.ResponseWriter, req *http.Request) (string, error) {
	c, err := req.Cookie(refreshCookie)
	if err != nil {
		return "", err
	}
	g, err := r.e.Refresh(req.Context(), c.Value, session.Client{})
	if err != nil {
		return "", err
	}
	r.csr = g.CSRFToken
	return g.AccessToken, nil
}

// TestGatehouseInterop: tokens issued by Gatehouse's own token.Issuer,
// through a real login, verify through the guard with StaticKeys built
// from the keyring's JWKS, for every algorithm; the csrf_hash claim binds
// the login's XSRF-TOKEN; and in-line refresh works over the real engine.
func TestGatehouseInterop(t *testing.T) {
	for _, alg := range token.Algorithms {
		t.Run(alg, func(t *testing.T) {
			f := sessiontest.New(t, sessiontest.Options{Alg: alg})
			ctx := t.Context()
			const pw = "a long passphrase for the guard"
			u, err := f.Engine.AddUser(ctx, session.CLI, "alice", pw, []string{"editor"})
			if err != nil {
				t.Fatal(err)
			}
			grant, err := f.Engine.Login(ctx, "alice", pw, session.Client{})
			if err != nil {
				t.Fatal(err)
			}
			set, err := f.Keys.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			jwks, err := json.Marshal(set)
			if err != nil {
				t.Fatal(err)
			}
			src, err := guard.StaticKeys(jwks)
			if err != nil {
				t.Fatal(err)
			}
			ref := &engineRefresher{e: f.Engine}
			metrics := newCountingMetrics(t)
			g, err := guard.New(guard.Config{Issuer: sessiontest.Issuer, Audience: sessiontest.Issuer, Keys: src,
				Now: f.Clock.Now, Refresher: ref, Metrics: metrics})
			if err != nil {
				t.Fatal(err)
			}

			p, err := g.Verify(ctx, grant.AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Subject != u.ID || p.SessionID != grant.Session.ID || p.Username != "alice" ||
				!p.HasRole("editor") || p.ClientID == "" || p.TokenID == "" {
				t.Fatalf("principal %+v", p)
			}
			if got := serve(g.Middleware, bearerReq(http.MethodGet, grant.AccessToken)); got.status != 200 {
				t.Fatalf("bearer: %d %s", got.status, got.body)
			}

			at := accessCookie + "=" + grant.AccessToken
			xsrf := csrfCookie + "=" + grant.CSRFToken
			r := cookieReq(http.MethodPost, at, xsrf)
			r.Header.Set(csrfHeader, grant.CSRFToken)
			if got := serve(g.Middleware, r); got.status != 200 {
				t.Fatalf("cookie POST with the login's CSRF token: %d %s (csrf_hash %q)", got.status, got.body, p.CSRFHash)
			}

			// Six minutes on, the access token has expired; the guard
			// refreshes in-line through the engine.
			f.Clock.Advance(sessiontest.AccessTTL + time.Minute)
			r = cookieReq(http.MethodPost, at, xsrf, refreshCookie+"="+grant.RefreshToken)
			r.Header.Set(csrfHeader, grant.CSRFToken)
			got := serve(g.Middleware, r)
			if got.status != 200 || got.principal == nil || got.principal.SessionID != grant.Session.ID ||
				got.principal.TokenID == p.TokenID {
				t.Fatalf("in-line refresh: %d %s %+v", got.status, got.body, got.principal)
			}
			if s := metrics.stats(); s.Refreshes != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}
