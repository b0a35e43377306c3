package provider_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
	// rpCallback is the relying party's redirect URI. Nothing listens
	// there: the browser stops at the redirect and hands the URL over.
	rpCallback = "https://rp.example.test/callback"
)

// op is a whole Gatehouse serving the provider over real HTTP, built by
// the composition root serve uses.
type op struct {
	t      *testing.T
	URL    string
	App    *app.App
	Clock  *clock.Fake
	UserID string
}

type opOption func(*app.Options)

func newOP(t *testing.T, opts ...opOption) *op {
	t.Helper()
	return newOPWith(t, nil, opts...)
}

// newOPWith is newOP with the configuration changed by configure first.
func newOPWith(t *testing.T, configure func(*config.Resolved), opts ...opOption) *op {
	t.Helper()
	ctx := context.Background()
	srv := served.Reserve(t)
	base := srv.URL
	cfg := apptest.Config(t, base)
	if configure != nil {
		configure(&cfg)
	}
	clk := clock.NewFake(sessiontest.Start)
	o := app.Options{Clock: clk, Log: slog.New(slog.DiscardHandler), Create: true, Limiter: apptest.NoLimits{}}
	for _, opt := range opts {
		opt(&o)
	}
	clk, _ = o.Clock.(*clock.Fake) // an option may start it elsewhere (startingNow)
	a := srv.Start(t, cfg, o)
	u, err := a.Engine.AddUser(ctx, session.CLI, testUser, testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &op{t: t, URL: base, App: a, Clock: clk, UserID: u.ID}
}

// register adds a client; the spec's redirect URI defaults to rpCallback.
func (o *op) register(spec provider.Spec) (id, secret string) {
	o.t.Helper()
	if spec.Name == "" {
		spec.Name = "Test RP"
	}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = []string{rpCallback}
	}
	c, secret, err := o.App.Clients.Add(context.Background(), session.CLI, spec)
	if err != nil {
		o.t.Fatal(err)
	}
	return c.ID, secret
}

// browser is one browser profile: a cookie jar, and redirects followed
// only within the provider.
type browser struct {
	t  *testing.T
	op *op
	c  *http.Client
}

func (o *op) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if !strings.HasPrefix(r.URL.String(), o.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{t: o.t, op: o, c: c}
}

// page is a response as the browser saw it.
type page struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(body), Header: resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// submit posts a form of the page as the browser would: to its action on
// the provider, same-origin.
func (b *browser) submit(p page, fields url.Values) page {
	b.t.Helper()
	m := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(p.Body)
	if m == nil {
		b.t.Fatalf("no form on the page (status %d):\n%s", p.Status, p.Body)
	}
	for _, h := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(p.Body, -1) {
		fields.Set(h[1], html.UnescapeString(h[2]))
	}
	req, _ := http.NewRequest(http.MethodPost, b.op.URL+html.UnescapeString(m[1]), strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.op.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

// login signs in on the login page p shows and answers the consent page
// if one comes; it returns the redirect to the client.
func (b *browser) login(p page, consent string) page {
	b.t.Helper()
	if !strings.Contains(p.Body, `autocomplete="current-password"`) {
		b.t.Fatalf("not the login page (status %d):\n%s", p.Status, p.Body)
	}
	p = b.submit(p, url.Values{"username": {testUser}, "password": {testPassword}})
	if p.Status == http.StatusOK && strings.Contains(p.Body, `name="decision"`) {
		if consent == "" {
			b.t.Fatalf("a consent page the test did not expect:\n%s", p.Body)
		}
		p = b.submit(p, url.Values{"decision": {consent}})
	}
	return p
}

// callback parses the authorization response a redirect carries.
func callback(t *testing.T, p page) url.Values {
	t.Helper()
	if p.Status != http.StatusSeeOther || !strings.HasPrefix(p.Location, rpCallback) {
		t.Fatalf("want a redirect to the client, got %d to %q:\n%s", p.Status, p.Location, p.Body)
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// pkce returns a fresh code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL is an authorization request with the given parameters on
// top of a valid code+PKCE one.
func (o *op) authorizeURL(clientID, challenge string, extra url.Values) string {
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {rpCallback},
		"scope": {"openid profile offline_access"}, "state": {"st-1"}, "nonce": {"n-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		if len(v) == 1 && v[0] == "" {
			q.Del(k)
			continue
		}
		q[k] = v
	}
	return o.URL + provider.PathAuthorize + "?" + q.Encode()
}

// postForm posts a form to the provider as a back-end client would, with
// HTTP Basic client authentication when secret is set.
func (o *op) postForm(path string, form url.Values, clientID, secret string) (int, http.Header, []byte) {
	o.t.Helper()
	status, h, body, err := o.post(path, form, clientID, secret)
	if err != nil {
		o.t.Fatal(err)
	}
	return status, h, body
}

// postFormQuiet is postForm for another goroutine than the test's: a
// transport error is a status 0.
func (o *op) postFormQuiet(path string, form url.Values, clientID, secret string) (int, http.Header, []byte) {
	status, h, body, _ := o.post(path, form, clientID, secret)
	return status, h, body
}

func (o *op) post(path string, form url.Values, clientID, secret string) (int, http.Header, []byte, error) {
	req, _ := http.NewRequest(http.MethodPost, o.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	} else if clientID != "" && form.Get("client_id") == "" {
		form.Set("client_id", clientID)
		req, _ = http.NewRequest(http.MethodPost, o.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body, err
}

// code runs the browser half of a code flow for the client and returns
// the code and the verifier that redeems it.
func (o *op) code(clientID string, extra url.Values) (code, verifier string) {
	o.t.Helper()
	verifier, challenge := pkce()
	b := o.browser()
	q := callback(o.t, b.login(b.get(o.authorizeURL(clientID, challenge, extra)), "allow"))
	if q.Get("code") == "" {
		o.t.Fatalf("no code: %v", q)
	}
	return q.Get("code"), verifier
}

var errNoSession = errors.New("no such session")

// session returns the registry's record of a session.
func (o *op) session(sid string) (session.Session, error) {
	s, err := o.App.DB.SessionByID(context.Background(), sid)
	if err != nil {
		return s, fmt.Errorf("%w: %v", errNoSession, err)
	}
	return s, nil
}

// sessions lists the registry's sessions, live or not.
func (o *op) sessions() []session.Session {
	o.t.Helper()
	ss, err := o.App.Engine.Sessions(context.Background(), store.SessionQuery{}, false)
	if err != nil {
		o.t.Fatal(err)
	}
	return ss
}

// wantNoLiveSessions fails unless every session of the client has ended.
func (o *op) wantNoLiveSessions(clientID string) {
	o.t.Helper()
	for _, s := range o.sessions() {
		if s.ClientID == clientID && !s.Revoked() {
			o.t.Fatalf("session %s of %s is live", s.ID, clientID)
		}
	}
}

// introspect reports whether the provider says the token is active.
func (o *op) introspect(token, clientID, secret string) bool {
	o.t.Helper()
	status, _, body := o.postForm(provider.PathIntrospect, url.Values{"token": {token}}, clientID, secret)
	var out struct {
		Active bool `json:"active"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
		o.t.Fatalf("introspection: %d %s", status, body)
	}
	return out.Active
}
