package bff_test

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/bff"
	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

// stack is Gatehouse as the provider, an upstream API behind the guard,
// and the BFF in front of both, each over real HTTP on loopback, on one
// fake clock that starts at the real time (go-oidc checks ID tokens
// against it).
type stack struct {
	t         testing.TB
	clock     *clock.Fake
	gatehouse *app.App
	gURL      string
	bffURL    string
	api       *httptest.Server
	refreshes atomic.Int32 // refresh_token grants the BFF asked for
	upstream  chan http.Header
}

// countingTransport counts the BFF's refresh_token grants.
type countingTransport struct{ s *stack }

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, provider.PathToken) && r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		if strings.Contains(string(b), "grant_type=refresh_token") {
			c.s.refreshes.Add(1)
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// stackOption changes a newStack default.
type stackOption func(*stackOptions)

// stackOptions are newStack's options; the zero value is the default.
type stackOptions struct {
	// front, when set, is given the BFF's handler and returns what the
	// BFF's server serves: a test wraps it to serve its SPA's page beside
	// the BFF's endpoints, on the BFF's origin.
	front func(http.Handler) http.Handler
	// routes are further upstreams; upstreamTimeout the BFF's bound on
	// their answer headers (0: its default).
	routes          []bff.Route
	upstreamTimeout time.Duration
}

// withRoutes adds upstreams beside /api/, and bounds their answer.
func withRoutes(timeout time.Duration, rs ...bff.Route) stackOption {
	return func(o *stackOptions) { o.routes, o.upstreamTimeout = rs, timeout }
}

// withFront makes the BFF's server serve front(the BFF's handler).
func withFront(front func(http.Handler) http.Handler) stackOption {
	return func(o *stackOptions) { o.front = front }
}

func newStack(t testing.TB, opts ...stackOption) *stack {
	t.Helper()
	var o stackOptions
	for _, opt := range opts {
		opt(&o)
	}
	ctx := context.Background()
	s := &stack{t: t, clock: clock.NewFake(time.Now()), upstream: make(chan http.Header, 100)}

	gsrv := served.Reserve(t)
	s.gURL = gsrv.URL
	a := gsrv.Start(t, apptest.Config(t, s.gURL), app.Options{Clock: s.clock, Log: slog.New(slog.DiscardHandler),
		Create: true, Limiter: apptest.NoLimits{}})
	s.gatehouse = a
	if _, err := a.Engine.AddUser(ctx, session.CLI, testUser, testPassword, nil); err != nil {
		t.Fatal(err)
	}

	// The upstream API: the guard with Gatehouse's remote JWKS.
	g, err := guard.New(guard.Config{Issuer: s.gURL, Audience: s.gURL, Keys: guard.RemoteJWKS(s.gURL+"/.well-known/jwks.json", guard.RemoteOptions{}),
		Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	s.api = httptest.NewServer(g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.upstream <- r.Header.Clone()
		p, _ := guard.PrincipalFrom(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"sub": p.Subject, "method": r.Method, "path": r.URL.Path})
	})))
	t.Cleanup(s.api.Close)

	bsrv := httptest.NewUnstartedServer(nil)
	s.bffURL = "http://" + bsrv.Listener.Addr().String()
	c, secret, err := a.Clients.Add(ctx, session.CLI, provider.Spec{Name: "SPA", RedirectURIs: []string{s.bffURL + "/bff/callback"},
		PostLogoutRedirectURIs: []string{s.bffURL + "/"}, BackchannelLogoutURI: s.bffURL + "/bff/backchannel", FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := url.Parse(s.bffURL)
	upstream, _ := url.Parse(s.api.URL)
	b, err := bff.New(ctx, bff.Config{Issuer: s.gURL, ClientID: c.ID, ClientSecret: secret, PublicURL: pub,
		Routes: append([]bff.Route{{Prefix: "/api/", Upstream: upstream}}, o.routes...), Key: bytes.Repeat([]byte{9}, 32),
		Store: newMemStore(), UpstreamTimeout: o.upstreamTimeout,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: countingTransport{s}}, Now: s.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = b.Handler()
	if o.front != nil {
		h = o.front(h)
	}
	bsrv.Config.Handler = h
	bsrv.Start()
	t.Cleanup(bsrv.Close)
	return s
}

// browser is a cookie jar that follows redirects.
type browser struct {
	t   testing.TB
	s   *stack
	c   *http.Client
	jar *cookiejar.Jar
}

func (s *stack) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: s.t, s: s, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *browser) do(method, u string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	req, _ := http.NewRequest(method, u, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// login signs in through the BFF and the provider's login page.
func (b *browser) login() {
	b.t.Helper()
	resp, page := b.do(http.MethodGet, b.s.bffURL+"/bff/login?returnTo=/app", nil, nil)
	form := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(string(page))
	req := regexp.MustCompile(`name="request" value="([^"]*)"`).FindStringSubmatch(string(page))
	if form == nil || req == nil {
		b.t.Fatalf("not the login page: %d %s", resp.StatusCode, page)
	}
	v := url.Values{"username": {testUser}, "password": {testPassword}, "request": {html.UnescapeString(req[1])}}
	resp, body := b.do(http.MethodPost, b.s.gURL+html.UnescapeString(form[1]), strings.NewReader(v.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": b.s.gURL, "Sec-Fetch-Site": "same-origin"})
	// The redirect chain ends at the SPA's page, /app, which the BFF does
	// not serve: a 404 there is the end of the sign-in.
	if resp.Request.URL.String() != b.s.bffURL+"/app" {
		b.t.Fatalf("sign-in ended at %s (%d): %s", resp.Request.URL, resp.StatusCode, body)
	}
}

func (b *browser) csrf() string {
	u, _ := url.Parse(b.s.bffURL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == bff.CookieCSRF {
			return c.Value
		}
	}
	return ""
}

// TestEndToEnd: the provider, the BFF and an upstream behind the guard,
// through the provider's login form: the SPA holds only cookies; API calls
// reach the upstream with the Bearer token and without the browser's
// cookies; unsafe calls need the CSRF header; the access token is
// refreshed once when five calls find it expired; logout revokes the
// refresh token at the provider and ends the session; an admin's revoke
// at Gatehouse ends the BFF session through back-channel logout.
func TestEndToEnd(t *testing.T) {
	s := newStack(t)
	b := s.browser()
	if resp, _ := b.do(http.MethodGet, s.bffURL+"/bff/user", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/bff/user before sign-in: %d", resp.StatusCode)
	}
	b.login()

	resp, body := b.do(http.MethodGet, s.bffURL+"/bff/user", nil, nil)
	var user struct {
		Claims    map[string]any `json:"claims"`
		LogoutURL string         `json:"logout_url"`
		ExpiresIn int            `json:"expires_in"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &user) != nil || user.Claims["preferred_username"] != testUser ||
		user.LogoutURL != "/bff/logout" || user.ExpiresIn <= 0 {
		t.Fatalf("/bff/user: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "eyJ") {
		t.Fatalf("/bff/user shows a token: %s", body)
	}

	resp, body = b.do(http.MethodGet, s.bffURL+"/api/hello", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"method":"GET"`) {
		t.Fatalf("GET through the BFF: %d %s", resp.StatusCode, body)
	}
	h := <-s.upstream
	if !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("Cookie") != "" {
		t.Fatalf("the upstream got Authorization %q and Cookie %q", h.Get("Authorization"), h.Get("Cookie"))
	}
	first := h.Get("Authorization")

	if resp, _ := b.do(http.MethodPost, s.bffURL+"/api/hello", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without the CSRF header: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, s.bffURL+"/api/hello", nil, map[string]string{bff.HeaderCSRF: b.csrf(),
		"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST from another origin: %d, want 403", resp.StatusCode)
	}
	resp, _ = b.do(http.MethodPost, s.bffURL+"/api/hello", nil, map[string]string{bff.HeaderCSRF: b.csrf()})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the CSRF header: %d", resp.StatusCode)
	}
	if h := <-s.upstream; h.Get(bff.HeaderCSRF) != "" {
		t.Fatal("the CSRF header reached the upstream")
	}

	// The access token expires: five calls at once, one refresh.
	s.clock.Advance(5 * time.Minute)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range 5 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, s.bffURL+"/api/hello", nil)
			resp, err := b.c.Do(req)
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("call %d at expiry: %d", i, c)
		}
	}
	if n := s.refreshes.Load(); n != 1 {
		t.Fatalf("%d refreshes for five calls at expiry, want 1", n)
	}
	for range 5 {
		if h := <-s.upstream; h.Get("Authorization") == first {
			t.Fatal("a call at expiry went with the expired token")
		}
	}

	// Logout: the refresh token is revoked at the provider, the session ends.
	resp, body = b.do(http.MethodPost, s.bffURL+"/bff/logout", nil, map[string]string{bff.HeaderCSRF: b.csrf(),
		"Accept": "application/json"})
	var out struct {
		LogoutURL string `json:"logout_url"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.LogoutURL != "/bff/end-session" ||
		strings.Contains(string(body), "eyJ") {
		t.Fatalf("logout: %d %s, want the BFF's end-session URL and no token", resp.StatusCode, body)
	}
	// The BFF's end-session sends the browser on to the provider's, with
	// the ID token as the hint, and the provider back to the SPA.
	noFollow := &http.Client{Jar: b.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	end, err := noFollow.Get(s.bffURL + out.LogoutURL)
	if err != nil {
		t.Fatal(err)
	}
	end.Body.Close()
	if loc := end.Header.Get("Location"); end.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, s.gURL+provider.PathEndSession) ||
		!strings.Contains(loc, "id_token_hint=eyJ") {
		t.Fatalf("/bff/end-session: %d to %q", end.StatusCode, loc)
	}
	if resp, _ := b.do(http.MethodGet, s.bffURL+out.LogoutURL, nil, nil); resp.Request.URL.String() != s.bffURL+"/" {
		t.Fatalf("the logout ended at %s", resp.Request.URL)
	}
	if resp, _ := b.do(http.MethodGet, s.bffURL+"/bff/user", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/bff/user after logout: %d", resp.StatusCode)
	}
	if live := s.liveSessions(); live != 0 {
		t.Fatalf("%d provider sessions still live after logout", live)
	}

	// An admin ends the session at Gatehouse: back-channel logout ends the
	// BFF's.
	b2 := s.browser()
	b2.login()
	for _, sess := range s.sessions() {
		if !sess.Revoked() {
			if _, err := s.gatehouse.Engine.RevokeSession(context.Background(), session.CLI, sess.ID, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, _ := b2.do(http.MethodGet, s.bffURL+"/bff/user?slide=false", nil, nil)
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the BFF session outlived the admin's revoke")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *stack) sessions() []session.Session {
	ss, err := s.gatehouse.Engine.Sessions(context.Background(), session.SessionQuery{}, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return ss
}

func (s *stack) liveSessions() int {
	n := 0
	for _, x := range s.sessions() {
		if !x.Revoked() {
			n++
		}
	}
	return n
}

// TestLoginRefusals: the BFF is no open redirector, and a callback that
// is not the answer to this browser's sign-in is refused.
func TestLoginRefusals(t *testing.T) {
	s := newStack(t)
	b := s.browser()
	for _, rt := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		if resp, _ := b.do(http.MethodGet, s.bffURL+"/bff/login?returnTo="+url.QueryEscape(rt), nil, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("returnTo %q: %d, want 400", rt, resp.StatusCode)
		}
	}
	if resp, _ := b.do(http.MethodGet, s.bffURL+"/bff/callback?code=x&state=y", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback without a sign-in: %d, want 400", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, s.bffURL+"/bff/backchannel", strings.NewReader("logout_token=eyJhbGciOiJub25lIn0.e30."),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a forged logout token: %d, want 400", resp.StatusCode)
	}
}
