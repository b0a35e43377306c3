package authapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	accessTTL    = sessiontest.AccessTTL
	grace        = sessiontest.Grace
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gh is one running Gatehouse, built by the composition root as serve
// builds it (internal/app): the real HTTP server on a loopback port, a
// real SQLite file, and a fake clock the test moves.
type gh struct {
	t      *testing.T
	URL    string
	Origin string
	Clock  *clock.Fake
	DB     app.Database
	Engine *session.Engine
	Keys   *token.Keyring
	Logs   *syncBuffer
	srv    *httptest.Server
	// App is the whole of it; Config what it was built from. Server and
	// Hub are its API and revocation feed; Guard verifies its tokens as
	// a resource server without the feed would.
	App    *app.App
	Config config.Resolved
	Server *authapi.Server
	Hub    *revocation.Hub
	Guard  *guard.Guard
	Log    *slog.Logger
	// stopJobs stops the App's background jobs and the revocation feed,
	// as serve does at shutdown.
	stopJobs func()
}

// option adjusts the configuration, or what the composition root takes
// besides it, before the App is built.
type option func(*config.Resolved, *app.Options)

func newGH(t *testing.T, opts ...option) *gh {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	cfg := apptest.Config(t, base)
	cfg.AllowedOrigins = []string{"http://spa.example.test"}
	clk := clock.NewFake(sessiontest.Start)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o := app.Options{Clock: clk, Log: log, Create: true, Limiter: apptest.NoLimits{}}
	for _, opt := range opts {
		opt(&cfg, &o)
	}
	a, err := app.Open(ctx, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := a.Keys.Ensure(ctx, cfg.SigningAlg); err != nil {
		t.Fatal(err)
	}
	jobs, stopJobs := context.WithCancel(ctx)
	a.Run(jobs)
	if err := a.Serve(jobs, app.ServeOptions{}); err != nil {
		t.Fatal(err)
	}
	// After the fake clock jumps, the process's guard would see its feed
	// as silent for the whole jump until the hub's next poll: the hub
	// reads at once, and the test goes on once the guard heard from it.
	clk.OnAdvance(func() {
		a.Hub.Notify()
		for deadline := time.Now().Add(5 * time.Second); a.Revocations().LastContact().Before(clk.Now()) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	})
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	stop := func() { stopJobs(); <-a.Hub.Done() }
	t.Cleanup(stop) // before srv.Close: streams end first

	plain, err := guard.New(guard.Config{Issuer: base, Audience: base, Leeway: cfg.ClockLeeway,
		Keys: guardkeys.FromKeyring(a.Keys), Log: log, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.AddUser(ctx, session.CLI, testUser, testPassword, []string{"reader"}); err != nil {
		t.Fatal(err)
	}
	return &gh{t: t, URL: base, Origin: base, Clock: clk, DB: a.DB, Engine: a.Engine, Keys: a.Keys, Logs: logs, srv: srv,
		App: a, Config: cfg, Server: a.API(), Hub: a.Hub, Guard: plain, Log: log, stopJobs: stop}
}

// otherProcess opens the same database as another process would (the
// command line): an App of its own, whose revocations reach this one's
// feed only through the database.
func (g *gh) otherProcess() *session.Engine {
	g.t.Helper()
	a, err := app.Open(context.Background(), g.Config, app.Options{Clock: g.Clock, Log: g.Log, Limiter: apptest.NoLimits{}})
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { a.Close() })
	return a.Engine
}

// browser is an HTTP client with a cookie jar, standing in for one browser
// profile.
type browser struct {
	t   *testing.T
	g   *gh
	c   *http.Client
	jar *cookiejar.Jar
}

func (g *gh) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: g.t, g: g, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// cookie returns the jar's value of the named cookie for path.
func (b *browser) cookie(path, name string) string {
	u, _ := url.Parse(b.g.URL + path)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

type resp struct {
	*http.Response
	Body []byte
}

// problem decodes a problem+json body, failing the test if it is not one.
func (r resp) problem(t *testing.T) problem.Details {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d: Content-Type %q, want application/problem+json; body %s", r.StatusCode, ct, r.Body)
	}
	var p problem.Details
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body: %v: %s", err, r.Body)
	}
	if p.Status != r.StatusCode || p.Code == "" || p.Type != "urn:gatehouse:problem:"+p.Code {
		t.Fatalf("problem body inconsistent with status %d: %+v", r.StatusCode, p)
	}
	return p
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("status %d body %s: %v", r.StatusCode, r.Body, err)
	}
}

// do sends a request. body may be nil, a string (sent as-is) or any value
// (sent as JSON). headers are name/value pairs.
func (b *browser) do(method, path string, body any, headers ...string) resp {
	b.t.Helper()
	return doWith(b.t, b.c, b.g.URL, method, path, body, headers...)
}

// encodeBody turns a test's request body into a reader: nil is none, a
// string or []byte is sent as-is, anything else as JSON (and then ct is
// application/json).
func encodeBody(t *testing.T, body any) (rd io.Reader, ct string) {
	t.Helper()
	switch v := body.(type) {
	case nil:
		return nil, ""
	case string:
		return strings.NewReader(v), ""
	case []byte:
		return bytes.NewReader(v), ""
	}
	j, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(j), "application/json"
}

func doWith(t *testing.T, c *http.Client, base, method, path string, body any, headers ...string) resp {
	t.Helper()
	rd, ct := encodeBody(t, body)
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{Response: res, Body: data}
}

// login logs the browser in (cookie mode) from the server's own origin.
func (b *browser) login() resp {
	b.t.Helper()
	r := b.do("POST", "/auth/login", map[string]string{"username": testUser, "password": testPassword}, "Origin", b.g.Origin)
	if r.StatusCode != 200 {
		b.t.Fatalf("login: %d %s", r.StatusCode, r.Body)
	}
	return r
}

// post sends an unsafe request with the double-submit header set from the
// jar, as the browser client does.
func (b *browser) post(path string, body any) resp {
	b.t.Helper()
	return b.do("POST", path, body, "X-XSRF-TOKEN", b.cookie("/", "XSRF-TOKEN"), "Origin", b.g.Origin)
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// bearerLogin logs in in bearer mode as a non-browser client.
func (g *gh) bearerLogin() tokens {
	g.t.Helper()
	r := doWith(g.t, http.DefaultClient, g.URL, "POST", "/auth/login",
		map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"})
	if r.StatusCode != 200 {
		g.t.Fatalf("bearer login: %d %s", r.StatusCode, r.Body)
	}
	var tk tokens
	r.json(g.t, &tk)
	return tk
}

func (g *gh) bearerRefresh(rt string) (resp, tokens) {
	g.t.Helper()
	r := doWith(g.t, http.DefaultClient, g.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": rt})
	var tk tokens
	if r.StatusCode == 200 {
		r.json(g.t, &tk)
	}
	return r, tk
}

// apiHandler serves the first-party API alone over the given parts,
// behind an edge of its own: for the tests that stand something in for a
// real part (a verifier, a store in an outage), which the composition
// root does not let them swap.
func apiHandler(t *testing.T, d authapi.Deps, publicURL string) http.Handler {
	t.Helper()
	pub, err := url.Parse(publicURL)
	if err != nil {
		t.Fatal(err)
	}
	e, err := edge.New(edge.Config{PublicURL: pub, Unbounded: authapi.IsFeedStream, NoStore: authapi.PrivatePaths(), Log: d.Log})
	if err != nil {
		t.Fatal(err)
	}
	d.Edge = e
	s, err := authapi.New(d, authapi.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	return e.Handler(mux)
}
