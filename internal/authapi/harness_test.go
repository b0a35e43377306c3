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
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
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

// gh is one running Gatehouse: the real HTTP server on a loopback port,
// a real SQLite file, and a fake clock the test moves.
type gh struct {
	t      *testing.T
	URL    string
	Origin string
	Clock  *clock.Fake
	DB     *sqlite.DB
	Engine *session.Engine
	Keys   *token.Keyring
	Logs   *syncBuffer
	srv    *httptest.Server
	// Fixture makes further engines over the same database (as the CLI
	// in another process); Server and Hub are what serve wires.
	Fixture *sessiontest.Fixture
	Server  *authapi.Server
	Hub     *revocation.Hub
	stopHub func() // serve stops the hub at shutdown
}

type option func(*sessiontest.Options, *authapi.Config)

func newGH(t *testing.T, opts ...option) *gh {
	t.Helper()
	logs := &syncBuffer{}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	pub, _ := url.Parse(base)

	so := sessiontest.Options{Issuer: base, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	hcfg := authapi.Config{PublicURL: pub, AllowedOrigins: []string{"http://spa.example.test"}}
	// The engine nudges the revocation feed, as serve wires it.
	var hubp atomic.Pointer[revocation.Hub]
	so.Notify = func() {
		if h := hubp.Load(); h != nil {
			h.Notify()
		}
	}
	for _, o := range opts {
		o(&so, &hcfg)
	}
	f := sessiontest.New(t, so)
	hub := revocation.New(f.DB, revocation.Config{Window: sessiontest.AccessTTL + sessiontest.Leeway, Clock: f.Clock, Log: f.Log})
	hubp.Store(hub)
	hcfg.Revocations = hub
	s, err := authapi.NewServer(f.Engine, f.Guard, f.Keys, f.Log, f.Clock, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	hubCtx, stopHub := context.WithCancel(context.Background())
	go hub.Run(hubCtx)
	stop := func() { stopHub(); <-hub.Done() }
	t.Cleanup(stop) // before srv.Close: streams end first

	if _, err := f.Engine.AddUser(context.Background(), session.CLI, testUser, testPassword, []string{"reader"}); err != nil {
		t.Fatal(err)
	}
	return &gh{t: t, URL: base, Origin: base, Clock: f.Clock, DB: f.DB, Engine: f.Engine, Keys: f.Keys, Logs: logs, srv: srv,
		Fixture: f, Server: s, Hub: hub, stopHub: stop}
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
