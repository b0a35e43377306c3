package authapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// The arena an attack runs in: one Gatehouse built by the composition
// root, a guard in front of a trivial handler and one following the feed,
// the attacker's own server (which must never hear a request), and the
// victims and attackers the rows need.

// arena is one Gatehouse under attack: the server, the two guards, an
// attacker's web server that counts every request it receives, the real
// signing key (to forge tokens the server itself could have signed) and
// an attacker's key, and three accounts: the victim alice, the attacker
// mallory and the admin root.
type arena struct {
	*gh
	guardURL, feedURL string
	feedSet           *guard.Revocations
	evilURL           string
	attackerHits      atomic.Int64
	key               *ecdsa.PrivateKey // the server's own signing key
	kid               string
	evil              *ecdsa.PrivateKey // the attacker's key
	admin             string            // Authorization of a live admin session
	victim            tokens            // a live bearer session of alice
	claims            map[string]any    // the claims of victim.AccessToken
	jwks              []byte            // the JWKS exactly as served
	seq               atomic.Int64
}

func newArena(t *testing.T, opts ...option) *arena {
	t.Helper()
	ctx := t.Context()
	a := &arena{gh: newGH(t, opts...)}
	withAdmin(t, a.gh)
	if _, err := a.Engine.AddUser(ctx, session.CLI, attackerUser, attackerPassword, nil); err != nil {
		t.Fatal(err)
	}

	// The real signing key, read from the store as any process with the
	// database could.
	keys, err := a.DB.SigningKeys(ctx)
	if err != nil || len(keys) != 1 || keys[0].Alg != token.ES256 {
		t.Fatalf("signing keys: %v %+v", err, keys)
	}
	priv, err := x509.ParsePKCS8PrivateKey(keys[0].Private)
	if err != nil {
		t.Fatal(err)
	}
	a.key, a.kid = priv.(*ecdsa.PrivateKey), keys[0].KID
	if a.evil, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}

	// The attacker's server: it would serve the attacker's key set to
	// anyone who fetched a jku or x5u. Nobody may.
	evilJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &a.evil.PublicKey, KeyID: "attacker-1", Algorithm: "ES256", Use: "sig"}}})
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.attackerHits.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(evilJWKS)
	}))
	t.Cleanup(evil.Close)
	a.evilURL = evil.URL

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "let through\n")
	})
	gs := httptest.NewServer(a.Guard.Middleware(ok))
	t.Cleanup(gs.Close)
	a.guardURL = gs.URL

	// The guard following the hub, as serve wires its own.
	a.feedSet = guard.NewRevocations()
	followCtx, stop := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() { defer close(followed); a.Hub.Follow(followCtx, revset.Of(a.feedSet)) }()
	t.Cleanup(func() { stop(); <-followed })
	fg, err := guard.New(guard.Config{Issuer: a.URL, Audience: a.URL, Leeway: sessiontest.Leeway,
		Keys: guardkeys.FromKeyring(a.Keys), Revocations: a.feedSet, Now: a.Clock.Now, Log: a.Log})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); a.feedSet.LastContact().IsZero(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the guard's revocation feed never reached the hub")
		}
	}
	fs := httptest.NewServer(fg.Middleware(ok))
	t.Cleanup(fs.Close)
	a.feedURL = fs.URL

	a.admin = "Bearer " + a.bearerLogin(t, adminUser, adminPassword).AccessToken
	a.victim = a.bearerLogin(t, testUser, testPassword)
	a.claims = claimsOf(t, a.victim.AccessToken)
	r := doWith(t, http.DefaultClient, a.URL, "GET", "/.well-known/jwks.json", nil)
	if r.StatusCode != 200 {
		t.Fatalf("jwks: %d", r.StatusCode)
	}
	a.jwks = r.Body
	return a
}

// noRedirects is a client that shows a redirect instead of following it.
var noRedirects = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send sends q to the target.
func (a *arena) send(t *testing.T, tg target, q request) resp {
	t.Helper()
	base := map[target]string{onServer: a.URL, onGuard: a.guardURL, onFeedGuard: a.feedURL}[tg]
	rd, ct := encodeBody(t, q.body)
	req, err := http.NewRequest(q.method, base+q.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(q.headers); i += 2 {
		if http.CanonicalHeaderKey(q.headers[i]) == "Content-Type" {
			req.Header.Set(q.headers[i], q.headers[i+1])
		} else {
			req.Header.Add(q.headers[i], q.headers[i+1])
		}
	}
	if q.host != "" {
		req.Host = q.host
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %.80s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{Response: res, Body: data}
}

func (a *arena) bearerLogin(t *testing.T, user, pw string) tokens {
	t.Helper()
	r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/login", map[string]string{"username": user, "password": pw, "mode": "bearer"})
	if r.StatusCode != 200 {
		t.Fatalf("bearer login as %s: %d %s", user, r.StatusCode, r.Body)
	}
	var tk tokens
	r.json(t, &tk)
	return tk
}

// browserSession is a cookie-mode session: its three cookies and its id.
type browserSession struct{ at, rt, xsrf, sid string }

func (a *arena) cookieLogin(t *testing.T, user, pw string) browserSession {
	t.Helper()
	r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/login", map[string]string{"username": user, "password": pw}, "Origin", a.Origin)
	if r.StatusCode != 200 {
		t.Fatalf("cookie login as %s: %d %s", user, r.StatusCode, r.Body)
	}
	var s browserSession
	for _, c := range r.Cookies() {
		switch c.Name {
		case credential.CookieAccess:
			s.at = c.Value
		case credential.CookieRefresh:
			s.rt = c.Value
		case credential.CookieCSRF:
			s.xsrf = c.Value
		}
	}
	s.sid = claimsOf(t, s.at)["sid"].(string)
	return s
}

// cookies is the Cookie header of the session, with extra name=value
// pairs after its own.
func (s browserSession) cookies(extra ...string) string {
	return strings.Join(append([]string{credential.CookieAccess + "=" + s.at, credential.CookieRefresh + "=" + s.rt,
		credential.CookieCSRF + "=" + s.xsrf}, extra...), "; ")
}

// sameOrigin are the headers a browser adds to the page's own unsafe
// request: the cross-origin layer lets it through, so what refuses a row
// is the layer the row is about.
func (a *arena) sameOrigin(h ...string) []string {
	return append([]string{"Sec-Fetch-Site", "same-origin", "Origin", a.Origin}, h...)
}

// stored is the session's row in the store.
func (a *arena) stored(t *testing.T, sid string) store.Session {
	t.Helper()
	s, err := a.DB.SessionByID(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// untouched returns a check that the sessions are live and were neither
// rotated nor used since it was called: the attack changed nothing.
func (a *arena) untouched(t *testing.T, sids ...string) func(*testing.T) {
	t.Helper()
	before := make([]store.Session, len(sids))
	for i, sid := range sids {
		before[i] = a.stored(t, sid)
	}
	return func(t *testing.T) {
		t.Helper()
		for _, b := range before {
			s := a.stored(t, b.ID)
			if s.Revoked() || s.LastJTI != b.LastJTI || !s.LastUsedAt.Equal(b.LastUsedAt) || !bytes.Equal(s.CSRFHash, b.CSRFHash) {
				t.Errorf("session %s changed: revoked %v, jti %s -> %s", b.ID, s.Revoked(), b.LastJTI, s.LastJTI)
			}
		}
	}
}

// awaitRevoked waits until the feed-following guard knows sid has ended.
func (a *arena) awaitRevoked(t *testing.T, sid string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !a.feedSet.Revoked(sid); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("session %s never reached the guard's revocation set", sid)
		}
	}
}

func (a *arena) userIDs(t *testing.T) []string {
	t.Helper()
	users, err := a.DB.ListUsers(t.Context(), store.UserQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return ids
}

// newUser adds a user of the row's own, with testPassword, and returns
// the username.
func (a *arena) newUser(t *testing.T, prefix string, roles []string) string {
	t.Helper()
	name := prefix + strconv.FormatInt(a.seq.Add(1), 10)
	if _, err := a.Engine.AddUser(t.Context(), session.CLI, name, testPassword, roles); err != nil {
		t.Fatal(err)
	}
	return name
}

func (a *arena) userID(t *testing.T, name string) string {
	t.Helper()
	u, err := a.DB.UserByUsername(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// Token forging.
