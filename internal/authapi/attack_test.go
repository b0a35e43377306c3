package authapi_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// The attack catalogue: every attack Gatehouse is meant to refuse, one
// row each, with where it comes from and the exact refusal. A row runs
// against the live HTTP server and, where the attack concerns a resource
// server, against a guard in front of a trivial handler, so the two can
// never drift apart on what they refuse. docs/security/attacks.md lists
// the same rows; TestAttackCatalogueDocumented keeps the two in step.

// target is a system an attack row is sent to.
type target uint8

const (
	// onServer is Gatehouse itself: the real handler behind newGH.
	onServer target = 1 << iota
	// onGuard is the fixture's guard (same keys, issuer and audience as
	// the server) in front of a handler that answers 200 to anyone it
	// lets through.
	onGuard
	// onFeedGuard is a guard that also follows the server's revocation
	// hub, as a resource server following the feed would: for the rows
	// about ended sessions, which a guard without revocations cannot know.
	onFeedGuard
)

var targetOrder = []target{onServer, onGuard, onFeedGuard}

func (tg target) String() string {
	switch tg {
	case onServer:
		return "server"
	case onGuard:
		return "guard"
	case onFeedGuard:
		return "guard with feed"
	}
	return "?"
}

// outcome is the exact answer a row expects from one target.
type outcome struct {
	status int
	// code is the problem code; "" for an answer below 400.
	code string
	// challenge is the exact WWW-Authenticate; "" means none at all.
	challenge string
	// location is a prefix the Location header must start with; ""
	// means no Location at all (no redirect, anywhere, to anyone).
	location string
}

// wants are a row's outcomes: one for the server, one for either guard.
type wants struct {
	server, guard outcome
}

// request is what a row sends. headers are name/value pairs, added (so a
// name may repeat); host, when set, replaces the Host header.
type request struct {
	method, path string
	body         any // nil, a string or []byte sent as is, or a value sent as JSON
	headers      []string
	host         string
}

// attack is one row of the catalogue.
type attack struct {
	name    string
	source  string // the RFC section, CVE, or OWASP/ASVS item the attack comes from
	targets target
	// fresh gives the row an arena of its own per target, with opts: for
	// rows that move the clock or need another configuration.
	fresh bool
	opts  []option
	// build prepares the attack (logging in, revoking, forging) and
	// returns the request, and optionally a check of what the request
	// did or did not do, run after the answer's exact assertions.
	build func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp))
	want  wants
}

// Exact WWW-Authenticate values of the server and of the guard.
const (
	srvInvalidCh = `Bearer error="invalid_token", error_description="access token is not valid"`
	srvExpiredCh = `Bearer error="invalid_token", error_description="access token has expired"`
	srvEndedCh   = `Bearer error="invalid_token", error_description="session ended"`

	descSig       = "the access token's signature or key is not valid"
	descMalformed = "the access token is malformed"
	descClaims    = "the access token's claims are not acceptable"
	descExpired   = "the access token expired"
	descNotYet    = "the access token is not valid yet"
	descEnded     = "the session has ended"
)

func guardInvalid(desc string) outcome {
	return outcome{status: 401, code: "invalid_token", challenge: `Bearer error="invalid_token", error_description="` + desc + `"`}
}

func problemOnly(status int, code string) outcome { return outcome{status: status, code: code} }

var (
	srvInvalid = outcome{status: 401, code: "invalid_token", challenge: srvInvalidCh}
	srvExpired = outcome{status: 401, code: "invalid_token", challenge: srvExpiredCh}
	srvEnded   = outcome{status: 401, code: "session_ended", challenge: srvEndedCh}
	guardEnded = outcome{status: 401, code: "session_ended", challenge: `Bearer error="invalid_token", error_description="` + descEnded + `"`}

	wantBadSig    = wants{server: srvInvalid, guard: guardInvalid(descSig)}
	wantMalformed = wants{server: srvInvalid, guard: guardInvalid(descMalformed)}
	// An Authorization header that is not one Bearer token: both read it
	// with the one credential reader and answer RFC 6750 §3.1's 400.
	invalidRequest     = outcome{status: 400, code: "invalid_request", challenge: `Bearer error="invalid_request"`}
	wantInvalidRequest = wants{server: invalidRequest, guard: invalidRequest}
	wantBadClaims      = wants{server: srvInvalid, guard: guardInvalid(descClaims)}
	wantExpired        = wants{server: srvExpired, guard: guardInvalid(descExpired)}
	wantNotYet         = wants{server: srvInvalid, guard: guardInvalid(descNotYet)}
	wantEnded          = wants{server: srvEnded, guard: guardEnded}
)

// serverOnly is a row's wants when only the server applies.
func serverOnly(o outcome) wants { return wants{server: o} }

const (
	attackerUser     = "mallory"
	attackerPassword = "mallory's very own passphrase"
	evilOrigin       = "https://evil.example"
)

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
		case authapi.CookieAccess:
			s.at = c.Value
		case authapi.CookieRefresh:
			s.rt = c.Value
		case authapi.CookieCSRF:
			s.xsrf = c.Value
		}
	}
	s.sid = claimsOf(t, s.at)["sid"].(string)
	return s
}

// cookies is the Cookie header of the session, with extra name=value
// pairs after its own.
func (s browserSession) cookies(extra ...string) string {
	return strings.Join(append([]string{authapi.CookieAccess + "=" + s.at, authapi.CookieRefresh + "=" + s.rt,
		authapi.CookieCSRF + "=" + s.xsrf}, extra...), "; ")
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

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.40s", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// drop, as a claim value, removes the claim.
type dropClaim struct{}

var drop = dropClaim{}

// payload is the victim's live claims changed by over, as JSON: a forged
// token that got through would be answered 200 for a real session.
func (a *arena) payload(over map[string]any) []byte {
	c := make(map[string]any, len(a.claims))
	for k, v := range a.claims {
		c[k] = v
	}
	for k, v := range over {
		if v == drop {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return b
}

// header is the server's own JOSE header, with extra members appended.
func (a *arena) header(extra string) string {
	return `{"alg":"ES256","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"` + extra + `}`
}

// es256 signs a compact JWS with key over the exact header and payload.
func es256(t *testing.T, key *ecdsa.PrivateKey, header string, payload []byte) string {
	t.Helper()
	input := b64u([]byte(header)) + "." + b64u(payload)
	sig, err := token.SignES256(key, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64u(sig)
}

// highS returns the other signature of a low-S ES256 signature, (r, n−s):
// it verifies under plain ECDSA whenever the original does.
func highS(t *testing.T, sig64 string) []byte {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %q", sig64)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
	out := append([]byte(nil), sig[:32]...)
	return append(out, s.FillBytes(make([]byte, 32))...)
}

// hs256 "signs" with HMAC-SHA-256 keyed by secret: what a verifier that
// let the token choose the algorithm would check.
func hs256(header string, payload, secret []byte) string {
	input := b64u([]byte(header)) + "." + b64u(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64u(m.Sum(nil))
}

// forge signs the victim's claims changed by over with the server's own
// key under its own header plus extra.
func (a *arena) forge(t *testing.T, extra string, over map[string]any) string {
	return es256(t, a.key, a.header(extra), a.payload(over))
}

func segments(tok string) []string { return strings.Split(tok, ".") }

// withPad returns the victim's claims padded with a claim of n bytes.
func (a *arena) withPad(n int) []byte {
	return a.payload(map[string]any{"pad": strings.Repeat("p", n)})
}

func deflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func (a *arena) publicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// evilCert is a self-signed certificate for the attacker's key, for x5c.
func (a *arena) evilCert(t *testing.T) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse"},
		NotBefore: a.Clock.Now().Add(-time.Hour), NotAfter: a.Clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.evil.PublicKey, a.evil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Row builders.

// presented is a request presenting tok as a Bearer token: to GET
// /auth/session at the server, to the trivial handler behind a guard.
func presented(tok string) request {
	return request{method: "GET", path: "/auth/session", headers: []string{"Authorization", "Bearer " + tok}}
}

// tokenRow is a forged or misused access token presented as a Bearer
// token to the server and to the guard.
func tokenRow(name, source string, mint func(t *testing.T, a *arena) string, want wants) attack {
	return attack{name: name, source: source, targets: onServer | onGuard, want: want,
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return presented(mint(t, a)), nil
		}}
}

// serverRow is an attack on the server alone, with no setup.
func serverRow(name, source string, q func(a *arena) request, want outcome) attack {
	return attack{name: name, source: source, targets: onServer, want: serverOnly(want),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) { return q(a), nil }}
}

// adminQuery is an admin API call with an injection in one place.
func adminQuery(method, path string, body any) func(a *arena) request {
	return func(a *arena) request {
		return request{method: method, path: path, body: body, headers: []string{"Authorization", a.admin}}
	}
}

// jsonList checks that the answer's list under key has n entries.
func jsonList(key string, n int) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var v map[string]json.RawMessage
		r.json(t, &v)
		var list []json.RawMessage
		if err := json.Unmarshal(v[key], &list); err != nil || len(list) != n {
			t.Errorf("%s: %d entries, want %d (%v): %s", key, len(list), n, err, r.Body)
		}
	}
}

// literalMatches checks that every entry of the answer's list under key
// has field equal to the injection itself: the filter compared the
// string literally (an injected OR '1'='1' would list every entry).
func literalMatches(key, field string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var v map[string]json.RawMessage
		r.json(t, &v)
		var list []map[string]any
		if err := json.Unmarshal(v[key], &list); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for _, e := range list {
			if e[field] != sqlInjection {
				t.Errorf("%s entry with %s %q: the filter did not match literally", key, field, e[field])
			}
		}
	}
}

// sqlInjection is the payload every string input gets.
const sqlInjection = `' OR '1'='1`

// attackCatalogue returns every row. It is a function of nothing, so the
// documentation test can read the names without running an attack.
func attackCatalogue() []attack {
	var rows []attack
	add := func(r ...attack) { rows = append(rows, r...) }

	// Algorithm "none", spelled every way, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		hdr := func(a *arena) string {
			return `{"alg":"` + alg + `","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"}`
		}
		add(tokenRow("alg "+alg+" without signature", "RFC 8725 §3.1; RFC 7518 §3.6; ASVS 9.1.2",
			func(t *testing.T, a *arena) string {
				return b64u([]byte(hdr(a))) + "." + b64u(a.payload(nil)) + "."
			}, wantBadSig),
			tokenRow("alg "+alg+" with a valid signature", "RFC 8725 §3.1; RFC 7518 §3.6; ASVS 9.1.2",
				func(t *testing.T, a *arena) string { return es256(t, a.key, hdr(a), a.payload(nil)) }, wantBadSig))
	}

	// Key confusion: HMAC keyed with what the attacker can read.
	hsHeader := func(a *arena) string { return `{"alg":"HS256","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"}` }
	add(tokenRow("HS256 keyed with the EC public key (PEM)", "RFC 8725 §3.1–3.2; CVE-2016-10555",
		func(t *testing.T, a *arena) string { return hs256(hsHeader(a), a.payload(nil), a.publicPEM(t)) }, wantBadSig),
		tokenRow("HS256 keyed with the EC public key (point bytes)", "RFC 8725 §3.1–3.2; CVE-2016-10555",
			func(t *testing.T, a *arena) string {
				pt, err := a.key.PublicKey.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				return hs256(hsHeader(a), a.payload(nil), pt)
			}, wantBadSig),
		tokenRow("HS256 keyed with the JWKS JSON", "RFC 8725 §3.1–3.2; CVE-2016-10555",
			func(t *testing.T, a *arena) string { return hs256(hsHeader(a), a.payload(nil), a.jwks) }, wantBadSig))

	// Signatures that are not signatures.
	add(tokenRow("null signature (empty third segment)", "CVE-2020-28042; RFC 7515 §5.2",
		func(t *testing.T, a *arena) string {
			s := segments(a.victim.AccessToken)
			return s[0] + "." + s[1] + "."
		}, wantBadSig),
		tokenRow("truncated signature", "RFC 7518 §3.4; RFC 7515 §5.2",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + s[1] + "." + s[2][:len(s[2])/2]
			}, wantBadSig),
		tokenRow("ECDSA psychic signature r=s=0", "CVE-2022-21449; RFC 8725 §3.4",
			func(t *testing.T, a *arena) string {
				s := segments(a.forge(t, "", map[string]any{"sub": a.userID(t, adminUser), "roles": []string{"admin"}}))
				return s[0] + "." + s[1] + "." + b64u(make([]byte, 64))
			}, wantBadSig),
		tokenRow("ECDSA malleability: the (r, n-s) twin of a valid token", "RFC 7518 §3.4; BIP 62; ASVS 9.1.1",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + s[1] + "." + b64u(highS(t, s[2]))
			}, wantBadSig),
		tokenRow("tampered claims under the original signature", "RFC 7515 §5.2; ASVS 9.1.1",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + b64u(a.payload(map[string]any{"roles": []string{"admin"}})) + "." + s[2]
			}, wantBadSig),
		tokenRow("signed by an attacker key under the server's kid", "RFC 7515 §5.2; ASVS 9.1.1",
			func(t *testing.T, a *arena) string { return es256(t, a.evil, a.header(""), a.payload(nil)) }, wantBadSig))

	// Keys named by the token itself. The attacker's server must not hear
	// a single request (checked for every row).
	evilHeader := func(extra string) string { return `{"alg":"ES256","kid":"attacker-1","typ":"at+jwt",` + extra + `}` }
	add(tokenRow("embedded jwk header with the attacker's key", "CVE-2018-0114; RFC 8725 §3.10; ASVS 9.1.3",
		func(t *testing.T, a *arena) string {
			jwk, _ := json.Marshal(jose.JSONWebKey{Key: &a.evil.PublicKey, KeyID: "attacker-1", Algorithm: "ES256"})
			return es256(t, a.evil, evilHeader(`"jwk":`+string(jwk)), a.payload(nil))
		}, wantMalformed),
		tokenRow("jku pointing to the attacker's key set", "RFC 8725 §3.10 (SSRF); RFC 7515 §4.1.2; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"jku":`+strconv.Quote(a.evilURL+"/jwks.json")), a.payload(nil))
			}, wantMalformed),
		tokenRow("x5u pointing to the attacker's certificate", "RFC 8725 §3.10 (SSRF); RFC 7515 §4.1.5; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"x5u":`+strconv.Quote(a.evilURL+"/cert.pem")), a.payload(nil))
			}, wantMalformed),
		tokenRow("x5c with the attacker's self-signed certificate", "RFC 7515 §4.1.6; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"x5c":["`+a.evilCert(t)+`"]`), a.payload(nil))
			}, wantMalformed))

	// kid is untrusted input: never a path, never SQL, bounded.
	add(tokenRow("kid path traversal to /dev/null with HS256 and an empty key", "RFC 8725 §3.10",
		func(t *testing.T, a *arena) string {
			return hs256(`{"alg":"HS256","kid":"../../../../dev/null","typ":"at+jwt"}`, a.payload(nil), nil)
		}, wantBadSig),
		tokenRow("kid path traversal with ES256", "RFC 8725 §3.10",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":"../../../../dev/null","typ":"at+jwt"}`, a.payload(nil))
			}, wantBadSig),
		tokenRow("kid SQL injection", "RFC 8725 §3.10; ASVS 1.2.4",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":`+strconv.Quote(sqlInjection)+`,"typ":"at+jwt"}`, a.payload(nil))
			}, wantBadSig),
		tokenRow("kid SQL UNION selecting a known HMAC key", "RFC 8725 §3.10; ASVS 1.2.4",
			func(t *testing.T, a *arena) string {
				return hs256(`{"alg":"HS256","kid":"x' UNION SELECT 'key' --","typ":"at+jwt"}`, a.payload(nil), []byte("key"))
			}, wantBadSig),
		tokenRow("kid of 10 KB", "RFC 8725 §3.10; CVE-2025-30204",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":"`+strings.Repeat("k", 10<<10)+`","typ":"at+jwt"}`, a.payload(nil))
			}, wantMalformed))

	// Header extensions and encodings the verifier must refuse, all signed
	// with the server's own key: even Gatehouse's key does not make them
	// acceptable.
	add(tokenRow(`crit ["exp"]`, "RFC 7515 §4.1.11",
		func(t *testing.T, a *arena) string {
			return a.forge(t, `,"crit":["exp"],"exp":`+strconv.FormatInt(a.Clock.Now().Add(time.Hour).Unix(), 10), nil)
		}, wantMalformed),
		tokenRow("crit naming an unknown extension", "RFC 7515 §4.1.11",
			func(t *testing.T, a *arena) string {
				return a.forge(t, `,"crit":["urn:example:unknown"],"urn:example:unknown":true`, nil)
			}, wantMalformed),
		tokenRow("nested JWS (cty JWT, a JWS as the payload)", "RFC 7519 §5.2, §7.2; RFC 8725 §3.11",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, a.header(`,"cty":"JWT"`), []byte(a.victim.AccessToken))
			}, wantMalformed),
		tokenRow("compressed payload (zip DEF)", "RFC 8725 §3.6; RFC 7516 §4.1.3; CVE-2024-28180",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, a.header(`,"zip":"DEF"`), deflate(t, a.payload(nil)))
			}, wantMalformed),
		tokenRow("b64 false (unencoded payload)", "RFC 7797 §3; RFC 7515 §4.1.11",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"b64":false,"crit":["b64"]`, nil) }, wantMalformed),
		tokenRow(`duplicate header member {"alg":"ES256","alg":"none"}`, "RFC 7515 §4; RFC 8725 §3.1",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"alg":"none"`, nil) }, wantMalformed),
		tokenRow(`duplicate header member {"alg":"none","alg":"ES256"}`, "RFC 7515 §4; RFC 8725 §3.1",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"none","kid":`+strconv.Quote(a.kid)+`,"typ":"at+jwt","alg":"ES256"}`, a.payload(nil))
			}, wantMalformed),
		tokenRow(`duplicate claim (two "sub")`, "RFC 7519 §4",
			func(t *testing.T, a *arena) string {
				p := a.payload(nil)
				dup := append([]byte(`{"sub":`+strconv.Quote(a.userID(t, adminUser))+`,`), p[1:]...)
				return es256(t, a.key, a.header(""), dup)
			}, wantMalformed),
		tokenRow("escaped header name spelling jwk", "RFC 7515 §4; RFC 8725 §3.10",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"\u006awk":{}`, nil) }, wantMalformed))

	// Size: refused before any decoding, at the header-size cap for the
	// server and the token-size cap for the guard.
	headersTooLarge := problemOnly(431, "headers_too_large")
	add(tokenRow("huge header (100 KB)", "RFC 8725 §3.10; CVE-2025-30204; OWASP API4:2023",
		func(t *testing.T, a *arena) string {
			return a.forge(t, `,"pad":"`+strings.Repeat("h", 100<<10)+`"`, nil)
		}, wants{server: headersTooLarge, guard: guardInvalid(descMalformed)}),
		tokenRow("huge claims (100 KB)", "CVE-2025-30204; OWASP API4:2023",
			func(t *testing.T, a *arena) string { return es256(t, a.key, a.header(""), a.withPad(100<<10)) },
			wants{server: headersTooLarge, guard: guardInvalid(descMalformed)}),
		tokenRow("token one step over the 8 KiB cap, validly signed", "CVE-2025-30204; CVE-2025-27144",
			func(t *testing.T, a *arena) string {
				for n := 5800; ; n++ {
					if tok := es256(t, a.key, a.header(""), a.withPad(n)); len(tok) > 8<<10 { // the guard's cap (docs/guard.md)
						return tok
					}
				}
			}, wantMalformed))

	// Shape: exactly three base64url segments, nothing else.
	add(tokenRow("extra trailing dot", "RFC 7515 §7.1; CVE-2025-30204",
		func(t *testing.T, a *arena) string { return a.victim.AccessToken + "." }, wantMalformed),
		tokenRow("four segments", "RFC 7515 §7.1; CVE-2025-30204",
			func(t *testing.T, a *arena) string { return a.victim.AccessToken + ".e30" }, wantMalformed),
		tokenRow("many dots (1000)", "CVE-2025-30204; CVE-2025-27144",
			func(t *testing.T, a *arena) string { return strings.Repeat(".", 1000) }, wantMalformed),
		tokenRow("base64 padding on the signature", "RFC 7515 §2 (base64url without padding)",
			func(t *testing.T, a *arena) string { return a.victim.AccessToken + "==" }, wantMalformed),
		tokenRow("standard base64 alphabet", "RFC 7515 §2",
			func(t *testing.T, a *arena) string {
				return strings.NewReplacer("-", "+", "_", "/").Replace(a.victim.AccessToken) + "+/"
			}, wantMalformed),
		attack{name: "space inside a Bearer token", source: "RFC 6750 §2.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return presented(tok[:20] + " " + tok[20:]), nil
			},
			want: wantInvalidRequest},
		attack{name: "tab inside a Bearer token", source: "RFC 6750 §2.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return presented(tok[:20] + "\t" + tok[20:]), nil
			},
			want: wantInvalidRequest},
		attack{name: "space inside the access cookie", source: "RFC 6265 §4.1.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return request{method: "GET", path: "/auth/session", headers: []string{"Cookie", authapi.CookieAccess + "=" + tok[:20] + " " + tok[20:]}}, nil
			},
			want: wantMalformed},
		attack{name: "two Authorization headers (forged, then valid)", source: "RFC 6750 §2.1; RFC 9110 §5.3", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				forged := b64u([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64u(a.payload(nil)) + "."
				return request{method: "GET", path: "/auth/session", headers: []string{
					"Authorization", "Bearer " + forged, "Authorization", "Bearer " + a.victim.AccessToken}}, nil
			},
			want: wantInvalidRequest})

	// The right signature on the wrong token.
	add(tokenRow("typ JWT instead of at+jwt", "RFC 8725 §3.11; RFC 9068 §2.1",
		func(t *testing.T, a *arena) string {
			return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`,"typ":"JWT"}`, a.payload(nil))
		}, wantBadClaims),
		tokenRow("typ absent", "RFC 8725 §3.11; RFC 9068 §2.1",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`}`, a.payload(nil))
			}, wantBadClaims),
		tokenRow("ID token (typ JWT, aud the client, nonce) as an access token", "RFC 8725 §3.12; ASVS 9.2.2; OIDC Core §2",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`,"typ":"JWT"}`,
					a.payload(map[string]any{"aud": "gatehouse", "nonce": "n-0S6_WzA2Mj", "azp": "gatehouse"}))
			}, wantBadClaims),
		tokenRow("ID token shape with typ at+jwt (aud the client)", "RFC 8725 §3.12; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": "gatehouse", "nonce": "n-0S6_WzA2Mj"})
			}, wantBadClaims),
		tokenRow("token for another audience", "RFC 8725 §3.9; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": "https://api.other.example"})
			}, wantBadClaims),
		tokenRow("aud array not containing us", "RFC 7519 §4.1.3; CVE-2020-26160",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": []string{"https://a.example", "https://b.example"}})
			}, wantBadClaims),
		tokenRow("aud absent", "RFC 9068 §2.2; RFC 8725 §3.9",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"aud": drop}) }, wantBadClaims),
		tokenRow("token from another issuer", "RFC 8725 §3.8; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"iss": "https://issuer.other.example"})
			}, wantBadClaims),
		tokenRow("issuer with a trailing slash", "RFC 8725 §3.8; RFC 9207 §2.4 (exact comparison)",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"iss": a.URL + "/"}) }, wantBadClaims),
		tokenRow("sid absent", "RFC 9068 §2.2",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"sid": drop}) }, wantBadClaims),
		tokenRow("refresh token presented as an access token", "ASVS 9.2.2",
			func(t *testing.T, a *arena) string { return a.victim.RefreshToken }, wantMalformed),
		serverRow("access token presented as a refresh token", "ASVS 9.2.2; RFC 6749 §6",
			func(a *arena) request {
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": a.victim.AccessToken}}
			}, problemOnly(401, "invalid_refresh_token")))

	// Time.
	now := func(a *arena) time.Time { return a.Clock.Now() }
	add(tokenRow("expired beyond the leeway (forged exp)", "RFC 7519 §4.1.4",
		func(t *testing.T, a *arena) string {
			exp := now(a).Add(-sessiontest.Leeway - time.Second)
			return a.forge(t, "", map[string]any{"exp": exp.Unix(), "iat": exp.Add(-accessTTL).Unix(), "nbf": exp.Add(-accessTTL).Unix()})
		}, wantExpired),
		tokenRow("nbf in the future beyond the leeway (forged nbf)", "RFC 7519 §4.1.5",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"nbf": now(a).Add(sessiontest.Leeway + time.Second).Unix()})
			}, wantNotYet),
		tokenRow("iat in the future beyond the leeway", "RFC 7519 §4.1.6; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"iat": now(a).Add(sessiontest.Leeway + time.Second).Unix()})
			}, wantNotYet),
		tokenRow("expired token with a bad signature reports the signature", "CVE-2024-51744",
			func(t *testing.T, a *arena) string {
				exp := now(a).Add(-time.Hour)
				return es256(t, a.evil, a.header(""), a.payload(map[string]any{"exp": exp.Unix(), "iat": exp.Add(-accessTTL).Unix()}))
			}, wantBadSig),
		attack{name: "expired beyond the leeway (clock moved)", source: "RFC 7519 §4.1.4", targets: onServer | onGuard, fresh: true,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				a.Clock.Advance(accessTTL + sessiontest.Leeway + time.Second)
				return presented(tk.AccessToken), nil
			}, want: wantExpired},
		attack{name: "not yet valid beyond the leeway (clock moved back)", source: "RFC 7519 §4.1.5", targets: onServer | onGuard, fresh: true,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				a.Clock.Advance(time.Minute)
				tk := a.bearerLogin(t, testUser, testPassword)
				a.Clock.Advance(-sessiontest.Leeway - time.Second)
				return presented(tk.AccessToken), nil
			}, want: wantNotYet})

	// Ended sessions: the token's signature is still good; the session is
	// not. The server checks its store; a guard learns from the feed.
	// Each row ends a session of a user of its own, so that ending every
	// session of that user leaves the other rows' sessions alone.
	ended := func(name, source string, end func(t *testing.T, a *arena, user string, tk tokens, sid string)) attack {
		return attack{name: name, source: source, targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				user := a.newUser(t, "ended", nil)
				tk := a.bearerLogin(t, user, testPassword)
				sid := claimsOf(t, tk.AccessToken)["sid"].(string)
				end(t, a, user, tk, sid)
				if tg == onFeedGuard {
					a.awaitRevoked(t, sid)
				}
				return presented(tk.AccessToken), nil
			}}
	}
	add(ended("access token reused after logout", "ASVS 7.4.1; OWASP Session Management cheat sheet",
		func(t *testing.T, a *arena, _ string, tk tokens, _ string) {
			if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout", nil, "Authorization", "Bearer "+tk.AccessToken); r.StatusCode != 204 {
				t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
			}
		}),
		ended("access token reused after an admin revoked the session", "ASVS 7.4.5",
			func(t *testing.T, a *arena, _ string, _ tokens, sid string) {
				if r := doWith(t, http.DefaultClient, a.URL, "DELETE", "/admin/sessions/"+sid, nil, "Authorization", a.admin); r.StatusCode != 204 {
					t.Fatalf("admin revoke: %d %s", r.StatusCode, r.Body)
				}
			}),
		ended("access token reused after logout everywhere", "ASVS 7.4.1; ASVS 7.5.2",
			func(t *testing.T, a *arena, user string, _ tokens, _ string) {
				other := a.bearerLogin(t, user, testPassword)
				if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout-all", map[string]bool{"keep_current": true},
					"Authorization", "Bearer "+other.AccessToken); r.StatusCode != 200 {
					t.Fatalf("logout-all: %d %s", r.StatusCode, r.Body)
				}
			}),
		attack{name: "access cookie reused after logout", source: "ASVS 7.4.1", targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				s := a.cookieLogin(t, testUser, testPassword)
				if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout", nil,
					append(a.sameOrigin("Cookie", s.cookies()), "X-XSRF-TOKEN", s.xsrf)...); r.StatusCode != 204 {
					t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
				}
				if tg == onFeedGuard {
					a.awaitRevoked(t, s.sid)
				}
				return request{method: "GET", path: "/auth/session", headers: []string{"Cookie", s.cookies()}}, nil
			}},
		attack{name: "access token of a disabled account", source: "ASVS 7.4.2; GHSA-6rrr-78xp-5jp8", targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				name := a.newUser(t, "dora", nil)
				tk := a.bearerLogin(t, name, testPassword)
				if _, err := a.Engine.SetDisabled(t.Context(), session.CLI, a.userID(t, name), true); err != nil {
					t.Fatal(err)
				}
				if tg == onFeedGuard {
					a.awaitRevoked(t, claimsOf(t, tk.AccessToken)["sid"].(string))
				}
				return presented(tk.AccessToken), nil
			}})

	// Refresh-token theft.
	sessionOver := func(a *arena, sid, successor string) func(*testing.T, resp) {
		return func(t *testing.T, _ resp) {
			if _, err := a.Engine.Live(t.Context(), sid); !errors.Is(err, session.ErrSessionEnded) {
				t.Errorf("session after reuse: %v, want ended", err)
			}
			r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": successor})
			if r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
				t.Errorf("the thief's successor token after reuse: %d %s", r.StatusCode, r.Body)
			}
		}
	}
	rotate := func(t *testing.T, a *arena, rt string) string {
		t.Helper()
		r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": rt})
		if r.StatusCode != 200 {
			t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
		}
		var tk tokens
		r.json(t, &tk)
		return tk.RefreshToken
	}
	add(attack{name: "refresh token replayed after rotation, past the grace window", source: "RFC 9700 §4.14.2; ASVS 10.4.5",
		targets: onServer, fresh: true, want: serverOnly(problemOnly(401, "refresh_token_reused")),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			tk := a.bearerLogin(t, testUser, testPassword)
			next := rotate(t, a, tk.RefreshToken)
			a.Clock.Advance(grace + time.Second)
			return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}},
				sessionOver(a, claimsOf(t, tk.AccessToken)["sid"].(string), next)
		}},
		attack{name: "stale refresh token (grandparent) inside the grace window", source: "RFC 9700 §4.14.2; SECURITY-CHECKLIST 22",
			targets: onServer, want: serverOnly(problemOnly(401, "refresh_token_reused")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				last := rotate(t, a, rotate(t, a, tk.RefreshToken))
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}},
					sessionOver(a, claimsOf(t, tk.AccessToken)["sid"].(string), last)
			}},
		attack{name: "another user's refresh cookie with the victim's access cookie and CSRF pair", source: "OWASP CSRF Prevention cheat sheet (signed double submit); ASVS 3.5.1",
			targets: onServer, want: serverOnly(problemOnly(403, "csrf_failed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				victim, thief := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
				same := a.untouched(t, victim.sid, thief.sid)
				c := strings.Join([]string{authapi.CookieAccess + "=" + victim.at, authapi.CookieRefresh + "=" + thief.rt, authapi.CookieCSRF + "=" + victim.xsrf}, "; ")
				return request{method: "POST", path: "/auth/refresh", headers: a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", victim.xsrf)},
					func(t *testing.T, r resp) { same(t); noCookiesSet(t, r) }
			}},
		attack{name: "another user's refresh cookie and CSRF pair with the victim's access cookie", source: "OWASP CSRF Prevention cheat sheet; ASVS 7.2.4",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				victim, thief := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
				same := a.untouched(t, victim.sid)
				c := strings.Join([]string{authapi.CookieAccess + "=" + victim.at, authapi.CookieRefresh + "=" + thief.rt, authapi.CookieCSRF + "=" + thief.xsrf}, "; ")
				// The refresh rotates the thief's own session and no other:
				// the victim's is untouched and nothing of it is handed out.
				return request{method: "POST", path: "/auth/refresh", headers: a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", thief.xsrf)},
					func(t *testing.T, r resp) {
						same(t)
						var v struct {
							User    struct{ Username string }
							Session struct{ ID string }
						}
						r.json(t, &v)
						if v.Session.ID != thief.sid || v.User.Username != attackerUser {
							t.Errorf("refresh answered session %s of %s, want the thief's own %s", v.Session.ID, v.User.Username, thief.sid)
						}
						for _, c := range r.Cookies() {
							if c.Name == authapi.CookieAccess && claimsOf(t, c.Value)["sid"] != thief.sid {
								t.Errorf("new access cookie for session %v", claimsOf(t, c.Value)["sid"])
							}
						}
					}
			}})

	// CSRF and cookie tossing, at the server and at a guard alike.
	victimWith := func(method, path string, mk func(a *arena, victim, other browserSession) []string) func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
		return func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
			victim, other := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
			same := a.untouched(t, victim.sid, other.sid)
			return request{method: method, path: path, headers: mk(a, victim, other)}, func(t *testing.T, r resp) { same(t); noCookiesSet(t, r) }
		}
	}
	dup := problemOnly(400, "duplicate_cookie")
	add(attack{name: "CSRF pair of another session (cookie and header from session B with session A's cookies)",
		source:  "OWASP CSRF Prevention cheat sheet (signed double submit); ASVS 3.5.1; SECURITY-CHECKLIST 19",
		targets: onServer | onGuard, want: wants{server: problemOnly(403, "csrf_failed"), guard: problemOnly(403, "csrf_failed")},
		build: victimWith("POST", "/auth/logout", func(a *arena, v, o browserSession) []string {
			c := strings.Join([]string{authapi.CookieAccess + "=" + v.at, authapi.CookieRefresh + "=" + v.rt, authapi.CookieCSRF + "=" + o.xsrf}, "; ")
			return a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", o.xsrf)
		})},
		attack{name: "CSRF header without the cookie", source: "OWASP CSRF Prevention cheat sheet; ASVS 3.5.1",
			targets: onServer | onGuard, want: wants{server: problemOnly(403, "csrf_failed"), guard: problemOnly(403, "csrf_failed")},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, _ browserSession) []string {
				c := authapi.CookieAccess + "=" + v.at + "; " + authapi.CookieRefresh + "=" + v.rt
				return a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cookie tossing: duplicate __Host-gh_at", source: "RFC 6265 §8.6; RFC 6265bis §4.1.3 (cookie prefixes)",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("GET", "/auth/session", func(a *arena, v, o browserSession) []string {
				return []string{"Cookie", v.cookies(authapi.CookieAccess + "=" + o.at)}
			})},
		attack{name: "cookie tossing: duplicate XSRF-TOKEN on a write", source: "RFC 6265 §8.6; OWASP CSRF Prevention cheat sheet",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, o browserSession) []string {
				return a.sameOrigin("Cookie", v.cookies(authapi.CookieCSRF+"="+o.xsrf), "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cookie tossing: duplicate XSRF-TOKEN on a read", source: "RFC 6265 §8.6",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("GET", "/auth/session", func(a *arena, v, o browserSession) []string {
				return []string{"Cookie", v.cookies(authapi.CookieCSRF + "=" + o.xsrf)}
			})},
		attack{name: "cookie tossing: duplicate __Secure-gh_rt", source: "RFC 6265 §8.6; RFC 6265bis §4.1.3",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("POST", "/auth/refresh", func(a *arena, v, o browserSession) []string {
				return a.sameOrigin("Cookie", v.cookies(authapi.CookieRefresh+"="+o.rt), "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cross-site write with the victim's cookies (Sec-Fetch-Site cross-site)", source: "ASVS 3.5.2; W3C Fetch Metadata",
			targets: onServer | onGuard, want: wants{server: problemOnly(403, "cross_origin_request"), guard: problemOnly(403, "cross_origin_request")},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, _ browserSession) []string {
				return []string{"Cookie", v.cookies(), "X-XSRF-TOKEN", v.xsrf, "Sec-Fetch-Site", "cross-site", "Origin", evilOrigin}
			})},
		attack{name: "session fixation: login over an attacker's planted cookies", source: "ASVS 7.2.4; OWASP Session Management cheat sheet",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				planted := a.cookieLogin(t, attackerUser, attackerPassword)
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": testPassword},
						headers: []string{"Origin", a.Origin, "Cookie", planted.cookies()}},
					func(t *testing.T, r resp) {
						// The session the new login replaced (here the
						// attacker's own) ends: nothing is left behind the
						// browser's new cookies.
						if s, err := a.DB.SessionByID(t.Context(), planted.sid); err != nil || s.RevokedAt.IsZero() {
							t.Errorf("the replaced session %s is still live: %v", planted.sid, err)
						}
						var v struct{ Session struct{ ID string } }
						r.json(t, &v)
						if v.Session.ID == "" || v.Session.ID == planted.sid {
							t.Errorf("login kept the planted session %q", v.Session.ID)
						}
						for _, c := range r.Cookies() {
							if c.Value == planted.at || c.Value == planted.rt || c.Value == planted.xsrf {
								t.Errorf("login handed back the planted %s", c.Name)
							}
						}
					}
			}})

	// Login CSRF: a hostile page must not log the victim into the
	// attacker's account.
	loginAs := map[string]string{"username": attackerUser, "password": attackerPassword}
	loginCSRF := func(name, source string, body any, want outcome, headers ...string) attack {
		return attack{name: name, source: source, targets: onServer, want: serverOnly(want),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: body, headers: headers},
					func(t *testing.T, r resp) { noCookiesSet(t, r) }
			}}
	}
	const loginCSRFSource = "OWASP CSRF Prevention cheat sheet (login CSRF); ASVS 3.5.1"
	add(loginCSRF("login CSRF: foreign Origin", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"), "Origin", evilOrigin),
		loginCSRF("login CSRF: foreign Referer and no Origin", loginCSRFSource, loginAs, problemOnly(403, "forbidden_origin"), "Referer", evilOrigin+"/page"),
		loginCSRF("login CSRF: neither Origin nor Referer, cookie mode", loginCSRFSource, loginAs, problemOnly(403, "forbidden_origin")),
		loginCSRF("login CSRF: cross-site form post (Sec-Fetch-Site cross-site)", loginCSRFSource,
			"username="+attackerUser+"&password="+url.QueryEscape(attackerPassword), problemOnly(403, "cross_origin_request"),
			"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site"),
		loginCSRF("login CSRF: Origin null (sandboxed frame)", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"), "Origin", "null"),
		loginCSRF("login CSRF: sibling subdomain (Sec-Fetch-Site same-site)", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"),
			"Sec-Fetch-Site", "same-site"),
		loginCSRF("login CSRF: bearer mode from a browser without Origin", loginCSRFSource,
			map[string]string{"username": attackerUser, "password": attackerPassword, "mode": "bearer"}, problemOnly(403, "forbidden_origin"),
			"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"))

	// Open redirects: no endpoint takes a redirect target, and none answers
	// 3xx whatever is added; unknown query parameters on the JSON
	// endpoints are ignored (the admin API alone refuses them).
	for _, ep := range []struct {
		name string
		q    func(a *arena) request
		want outcome
	}{
		{"login", func(a *arena) request {
			return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": testPassword}, headers: []string{"Origin", a.Origin}}
		}, outcome{status: 200}},
		{"logout", func(a *arena) request { return request{method: "POST", path: "/auth/logout"} }, outcome{status: 204}},
		{"refresh", func(a *arena) request { return request{method: "POST", path: "/auth/refresh"} }, problemOnly(401, "invalid_refresh_token")},
		{"root", func(a *arena) request { return request{method: "GET", path: "/"} }, problemOnly(404, "not_found")},
	} {
		for _, param := range []string{"redirect_uri", "next", "return_to", "redirect"} {
			add(attack{name: "open redirect: " + ep.name + " with " + param, source: "RFC 9700 §4.11; ASVS 10.4.1; OWASP Unvalidated Redirects cheat sheet",
				targets: onServer, want: serverOnly(ep.want),
				build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
					q := ep.q(a)
					q.path += "?" + param + "=" + url.QueryEscape(evilOrigin+"/phish")
					return q, func(t *testing.T, r resp) { notMentioned(t, r, "evil.example") }
				}})
		}
	}
	add(serverRow("open redirect: protocol-relative path //evil.example", "RFC 9700 §4.11; OWASP Unvalidated Redirects cheat sheet",
		func(a *arena) request { return request{method: "GET", path: "//evil.example/"} },
		// Go's ServeMux cleans the path with a same-origin redirect; it
		// never leaves the host.
		outcome{status: 307, location: "/evil.example/"}))

	// Methods.
	add(serverRow("TRACE (cross-site tracing)", "OWASP WSTG-CONF-06",
		func(a *arena) request {
			return request{method: "TRACE", path: "/auth/session", headers: []string{"Cookie", authapi.CookieAccess + "=" + a.victim.AccessToken}}
		}, problemOnly(405, "method_not_allowed")),
		serverRow("TRACK (cross-site tracing)", "OWASP WSTG-CONF-06",
			func(a *arena) request {
				return request{method: "TRACK", path: "/auth/session", headers: []string{"Cookie", authapi.CookieAccess + "=" + a.victim.AccessToken}}
			}, problemOnly(405, "method_not_allowed")),
		attack{name: "logout by GET (state change on a safe method)", source: "ASVS 3.5.3; RFC 9110 §9.2.1", targets: onServer,
			want: serverOnly(problemOnly(405, "method_not_allowed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				s := a.cookieLogin(t, testUser, testPassword)
				same := a.untouched(t, s.sid)
				return request{method: "GET", path: "/auth/logout", headers: []string{"Cookie", s.cookies()}},
					func(t *testing.T, r resp) { same(t) }
			}},
		attack{name: "CORS preflight from a foreign origin", source: "ASVS 3.4.2; OWASP HTML5 Security cheat sheet (CORS)", targets: onServer,
			want: serverOnly(problemOnly(405, "method_not_allowed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "OPTIONS", path: "/auth/login", headers: []string{"Origin", evilOrigin, "Access-Control-Request-Method", "POST",
						"Access-Control-Request-Headers", "content-type, x-xsrf-token"}},
					func(t *testing.T, r resp) {
						for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods"} {
							if v := r.Header.Get(h); v != "" {
								t.Errorf("%s: %s", h, v)
							}
						}
					}
			}})

	// Host header and forwarding headers from a peer that is not a
	// trusted proxy.
	const hostSource = "OWASP WSTG-INPV-17 (Host header injection)"
	spoofed := func(name string, login map[string]string, want outcome, headers ...string) attack {
		return attack{name: name, source: hostSource, targets: onServer, want: serverOnly(want),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: login, host: "evil.example", headers: headers},
					func(t *testing.T, r resp) { a.unspoofed(t, r) }
			}}
	}
	bearerAlice := map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"}
	cookieAlice := map[string]string{"username": testUser, "password": testPassword}
	add(spoofed("Host header spoofing: bearer login", bearerAlice, outcome{status: 200}),
		attack{name: "Host header spoofing: cookie login from the real origin", source: hostSource, targets: onServer,
			want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: cookieAlice, host: "evil.example", headers: []string{"Origin", a.Origin}},
					func(t *testing.T, r resp) { a.unspoofed(t, r) }
			}},
		spoofed("Host header spoofing: login with an Origin matching the spoofed Host", cookieAlice, problemOnly(403, "forbidden_origin"),
			"Origin", "http://evil.example"),
		attack{name: "Host header spoofing: JWKS", source: hostSource, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/.well-known/jwks.json", host: "evil.example"},
					func(t *testing.T, r resp) { notMentioned(t, r, "evil.example") }
			}},
		attack{name: "X-Forwarded-For, -Proto and -Host from an untrusted peer", source: "RFC 7239 §8.1; OWASP WSTG-INPV-17",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: cookieAlice, headers: []string{"Origin", a.Origin,
						"X-Forwarded-For", "203.0.113.66", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example",
						"Forwarded", "for=203.0.113.66;proto=https;host=evil.example", "X-Real-IP", "203.0.113.66"}},
					func(t *testing.T, r resp) {
						a.unspoofed(t, r)
						if h := r.Header.Get("Strict-Transport-Security"); h != "" {
							t.Errorf("HSTS over plain HTTP on a claim of https: %s", h)
						}
						var v struct{ Session struct{ ID, IP string } }
						r.json(t, &v)
						s := a.stored(t, v.Session.ID)
						if v.Session.IP != "127.0.0.1" || s.CreatedIP != "127.0.0.1" || s.LastIP != "127.0.0.1" {
							t.Errorf("recorded IP %q / %q / %q, want the peer's 127.0.0.1", v.Session.IP, s.CreatedIP, s.LastIP)
						}
					}
			}})

	// SQL injection in every string input. Every row also checks that no
	// user row was lost.
	const sqli = "ASVS 1.2.4; OWASP WSTG-INPV-05"
	esc := url.PathEscape(sqlInjection)
	qesc := url.QueryEscape(sqlInjection)
	add(serverRow("SQL injection: login username", sqli,
		func(a *arena) request {
			return request{method: "POST", path: "/auth/login", body: map[string]string{"username": "alice'--", "password": testPassword, "mode": "bearer"}}
		}, problemOnly(401, "invalid_credentials")),
		serverRow("SQL injection: login username with spaces", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": sqlInjection, "password": testPassword, "mode": "bearer"}}
			}, problemOnly(400, "invalid_request")),
		serverRow("SQL injection: login password", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": "x" + sqlInjection + " --", "mode": "bearer"}}
			}, problemOnly(401, "invalid_credentials")),
		serverRow("SQL injection: admin create username", sqli,
			adminQuery("POST", "/admin/users", map[string]any{"username": "x'); DROP TABLE users;--", "password": "a long enough password", "roles": []string{}}),
			problemOnly(400, "invalid_request")),
		attack{name: "SQL injection: admin create username stored literally", source: sqli, targets: onServer,
			want: serverOnly(outcome{status: 201, location: "/admin/users/"}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				name := "x';delete/**/from/**/users;--" + strconv.FormatInt(a.seq.Add(1), 10)
				return adminQuery("POST", "/admin/users", map[string]any{"username": name, "password": "a long enough password", "roles": []string{}})(a),
					func(t *testing.T, r resp) {
						if id := a.userID(t, name); r.Header.Get("Location") != "/admin/users/"+id {
							t.Errorf("Location %q for user %s", r.Header.Get("Location"), id)
						}
					}
			}},
		serverRow("SQL injection: admin role", sqli,
			adminQuery("POST", "/admin/users", map[string]any{"username": "roley", "password": "a long enough password", "roles": []string{sqlInjection}}),
			problemOnly(400, "invalid_request")),
		attack{name: "SQL injection: admin user search", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/users?search="+qesc, nil)(a), jsonList("users", 0)
			}},
		attack{name: "SQL injection: admin user listing cursor (after)", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				// Every username sorts after a quote: the whole list, as for
				// any cursor, and nothing more.
				return adminQuery("GET", "/admin/users?limit=200&after="+qesc, nil)(a), jsonList("users", len(a.userIDs(t)))
			}},
		attack{name: "SQL injection: admin sessions user_id", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/sessions?user_id="+qesc, nil)(a), jsonList("sessions", 0)
			}},
		serverRow("SQL injection: admin sessions cursor (after)", sqli, adminQuery("GET", "/admin/sessions?after="+qesc, nil), outcome{status: 200}))
	for _, param := range []string{"user_id", "type", "session_id", "actor_id"} {
		add(attack{name: "SQL injection: admin audit " + param, source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/audit?"+param+"="+qesc, nil)(a), literalMatches("events", param)
			}})
	}
	add(serverRow("SQL injection: admin audit cursor (before)", sqli, adminQuery("GET", "/admin/audit?before="+qesc, nil), problemOnly(400, "invalid_request")),
		serverRow("SQL injection: admin get user id", sqli, adminQuery("GET", "/admin/users/"+esc, nil), problemOnly(404, "not_found")),
		serverRow("SQL injection: admin delete user id", sqli, adminQuery("DELETE", "/admin/users/"+esc, nil), problemOnly(404, "not_found")),
		serverRow("SQL injection: admin revoke session id", sqli, adminQuery("DELETE", "/admin/sessions/"+esc, nil), problemOnly(404, "not_found")),
		attack{name: "SQL injection: session id in DELETE /auth/sessions/{id}", source: sqli, targets: onServer,
			want: serverOnly(problemOnly(404, "not_found")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				same := a.untouched(t, claimsOf(t, tk.AccessToken)["sid"].(string))
				return request{method: "DELETE", path: "/auth/sessions/" + esc, headers: []string{"Authorization", "Bearer " + tk.AccessToken}},
					func(t *testing.T, r resp) { same(t) }
			}},
		serverRow("SQL injection: refresh_token", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": "ghr_" + sqlInjection}}
			}, problemOnly(401, "invalid_refresh_token")),
		serverRow("SQL injection: refresh_token at logout", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/logout", body: map[string]string{"refresh_token": "ghr_" + sqlInjection}}
			}, outcome{status: 204}))

	// Bodies: bounded, strict, no parser differentials.
	const dos = "OWASP API4:2023 (unrestricted resource consumption)"
	js := []string{"Content-Type", "application/json"}
	rawBody := func(body string) func(a *arena) request {
		return func(a *arena) request { return request{method: "POST", path: "/auth/login", body: body, headers: js} }
	}
	over := `{"username":"alice","password":"` + strings.Repeat("p", 64<<10) + `"}`
	nested := func(n int) string {
		return `{"username":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `,"password":"x"}`
	}
	add(serverRow("oversize JSON body (over max_body_bytes)", dos, rawBody(over), problemOnly(413, "body_too_large")),
		serverRow("deeply nested JSON in a field (100,000 arrays) over the body limit", dos, rawBody(nested(100_000)), problemOnly(413, "body_too_large")),
		attack{name: "deeply nested JSON in a field (100,000 arrays) within a 1 MiB body limit", source: dos, targets: onServer, fresh: true,
			opts: []option{func(c *config.Resolved, _ *app.Options) { c.MaxBodyBytes = 1 << 20 }},
			want: serverOnly(problemOnly(400, "malformed_json")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return rawBody(nested(100_000))(a), nil
			}},
		serverRow("deeply nested JSON objects (10,001) within the default limit", dos,
			rawBody(`{"username":`+strings.Repeat(`{"a":`, 10_001)+"1"+strings.Repeat("}", 10_001)+`}`), problemOnly(400, "malformed_json")),
		serverRow("duplicate JSON member in a login body", "RFC 8259 §4; RFC 7493 §2.3 (I-JSON); docs/api.md conventions",
			rawBody(`{"username":"nobody","password":"`+testPassword+`","username":"`+testUser+`","mode":"bearer"}`), problemOnly(400, "invalid_request")),
		serverRow("duplicate JSON member in another case", "RFC 8259 §4; RFC 7493 §2.3 (I-JSON)",
			rawBody(`{"username":"nobody","password":"`+testPassword+`","USERNAME":"`+testUser+`","mode":"bearer"}`), problemOnly(400, "invalid_request")),
		serverRow("unknown JSON member in a login body", "docs/api.md conventions; ASVS 2.2.1",
			rawBody(`{"username":"`+testUser+`","password":"`+testPassword+`","mode":"bearer","roles":["admin"]}`), problemOnly(400, "unknown_field")))

	// Authorization: another user's objects, and the admin API without
	// the admin role, now or any longer.
	add(attack{name: "IDOR: end another user's session through DELETE /auth/sessions/{id}", source: "OWASP API1:2023 (BOLA); ASVS 8.2.2",
		targets: onServer, want: serverOnly(problemOnly(404, "not_found")),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			other := a.cookieLogin(t, testUser, testPassword)
			same := a.untouched(t, other.sid)
			thief := a.bearerLogin(t, attackerUser, attackerPassword)
			return request{method: "DELETE", path: "/auth/sessions/" + other.sid, headers: []string{"Authorization", "Bearer " + thief.AccessToken}},
				func(t *testing.T, r resp) { same(t) }
		}},
		attack{name: "admin API without the admin role", source: "OWASP API5:2023 (broken function level authorization); ASVS 8.2.1",
			targets: onServer, want: serverOnly(problemOnly(403, "forbidden")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/admin/users", headers: []string{"Authorization", "Bearer " + a.victim.AccessToken}}, nil
			}},
		attack{name: "admin API with the token of a demoted admin", source: "ASVS 8.3.1; ASVS 7.4.2",
			targets: onServer, want: serverOnly(problemOnly(403, "forbidden")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				name := a.newUser(t, "ex-admin", []string{"admin"})
				tk := a.bearerLogin(t, name, testPassword)
				if _, err := a.Engine.SetRoles(t.Context(), session.CLI, a.userID(t, name), nil); err != nil {
					t.Fatal(err)
				}
				// The token still says admin; the store no longer does.
				return request{method: "GET", path: "/admin/users", headers: []string{"Authorization", "Bearer " + tk.AccessToken}}, nil
			}})

	// Keys: what is published, and how long a key is trusted.
	add(attack{name: "JWKS carries no private key member", source: "RFC 7517 §4, RFC 7518 §6.2.2 (d is private); ASVS 9.1.3",
		targets: onServer, want: serverOnly(outcome{status: 200}),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return request{method: "GET", path: "/.well-known/jwks.json"}, func(t *testing.T, r resp) {
				var set struct{ Keys []map[string]any }
				r.json(t, &set)
				if len(set.Keys) == 0 {
					t.Fatal("no keys")
				}
				for _, k := range set.Keys {
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
						if _, ok := k[private]; ok {
							t.Errorf("key %v publishes %q", k["kid"], private)
						}
					}
				}
			}
		}},
		attack{name: "token signed by a retired key after its tokens have expired", source: "RFC 7517 §4.5; SECURITY-CHECKLIST 10",
			targets: onServer | onGuard, fresh: true, want: wantBadSig,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				// The key is rotated out at once and stays published for
				// the lifetime of its last token; after that, even a fresh
				// token it signed (a leaked old key) verifies nowhere.
				if _, err := a.Keys.Rotate(t.Context(), token.ES256, 0); err != nil {
					t.Fatal(err)
				}
				a.Clock.Advance(accessTTL + sessiontest.Leeway + time.Minute)
				n := a.Clock.Now()
				return presented(a.forge(t, "", map[string]any{"iat": n.Unix(), "nbf": n.Unix(), "exp": n.Add(accessTTL).Unix()})), nil
			}})

	// The revocation feed is a credential-bearing endpoint of its own.
	feedSecret := strings.Repeat("s", 40)
	withFeed := []option{func(c *config.Resolved, _ *app.Options) { c.RevocationFeedSecret = feedSecret }}
	feedRefused := outcome{status: 401, code: "invalid_token", challenge: `Bearer error="invalid_token"`}
	add(attack{name: "revocation feed with a wrong secret", source: "RFC 6750 §3.1; OWASP API2:2023 (broken authentication)", targets: onServer, fresh: true, opts: withFeed,
		want: serverOnly(feedRefused),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return request{method: "GET", path: "/auth/revocations", headers: []string{"Authorization", "Bearer " + strings.Repeat("x", 40)}}, nil
		}},
		attack{name: "revocation feed with an access token as the secret", source: "RFC 6750 §3.1; ASVS 9.2.2", targets: onServer, fresh: true, opts: withFeed,
			want: serverOnly(feedRefused),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/auth/revocations", headers: []string{"Authorization", "Bearer " + a.victim.AccessToken}}, nil
			}})
	return rows
}

// noCookiesSet fails if the answer sets any cookie: a refused request
// must not start, rotate or hand over a session.
func noCookiesSet(t *testing.T, r resp) {
	t.Helper()
	if c := r.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("refused request set cookies: %q", c)
	}
}

// notMentioned fails if the answer carries s anywhere: body or header.
func notMentioned(t *testing.T, r resp, s string) {
	t.Helper()
	if strings.Contains(string(r.Body), s) {
		t.Errorf("body mentions %q: %.300s", s, r.Body)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, s) {
				t.Errorf("header %s mentions %q: %s", k, s, v)
			}
		}
	}
}

// unspoofed checks an answer to a request with a spoofed Host or
// forwarding headers: the issuer in any token is still the public URL,
// every cookie is host-only with its usual attributes, and nothing in the
// answer names the spoofed host.
func (a *arena) unspoofed(t *testing.T, r resp) {
	t.Helper()
	notMentioned(t, r, "evil.example")
	var tk tokens
	if json.Unmarshal(r.Body, &tk) == nil && tk.AccessToken != "" {
		if c := claimsOf(t, tk.AccessToken); c["iss"] != a.URL || c["aud"] != a.URL {
			t.Errorf("token iss %v aud %v, want %s", c["iss"], c["aud"], a.URL)
		}
	}
	for _, c := range r.Cookies() {
		if c.Domain != "" || !c.Secure {
			t.Errorf("cookie %s: Domain %q Secure %v", c.Name, c.Domain, c.Secure)
		}
		if c.Name == authapi.CookieAccess {
			if iss := claimsOf(t, c.Value)["iss"]; iss != a.URL {
				t.Errorf("access cookie iss %v, want %s", iss, a.URL)
			}
		}
	}
}

// TestAttackCatalogue runs every attack against each of its targets and
// asserts the exact refusal, and for every row alike: no redirect, a
// consistent problem body, no stack trace, no request to the attacker's
// server, and no user row lost.
func TestAttackCatalogue(t *testing.T) {
	rows := attackCatalogue()
	shared := newArena(t)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.source == "" || row.targets == 0 || row.build == nil {
				t.Fatal("a row needs a source, targets and a request")
			}
			for _, tg := range targetOrder {
				if row.targets&tg == 0 {
					continue
				}
				t.Run(tg.String(), func(t *testing.T) {
					a := shared
					if row.fresh {
						a = newArena(t, row.opts...)
					}
					want := row.want.server
					if tg != onServer {
						want = row.want.guard
					}
					if want.status == 0 {
						t.Fatalf("no outcome for target %s", tg)
					}
					runAttack(t, a, row, tg, want)
				})
			}
		})
	}
	// The victim's session, whose claims the forgeries reused, is live to
	// the end: a forgery let through would have been answered 200, not
	// refused for an ended session. The server kept serving through it
	// all, logged no error and no credential.
	if r := shared.send(t, onServer, presented(shared.victim.AccessToken)); r.StatusCode != 200 {
		t.Errorf("the victim's own token after the attacks: %d %s", r.StatusCode, r.Body)
	}
	shared.bearerLogin(t, testUser, testPassword)
	if strings.Contains(shared.Logs.String(), "level=ERROR") {
		t.Errorf("an attack caused an error log:\n%s", shared.Logs.String())
	}
	assertNoTokensLogged(t, shared.gh, shared.victim.AccessToken, shared.victim.RefreshToken)
}

func runAttack(t *testing.T, a *arena, row attack, tg target, want outcome) {
	t.Helper()
	q, after := row.build(t, a, tg)
	users := a.userIDs(t)
	hits := a.attackerHits.Load()
	r := a.send(t, tg, q)

	if r.StatusCode != want.status {
		t.Fatalf("status %d, want %d: %.300s", r.StatusCode, want.status, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != want.challenge {
		t.Errorf("WWW-Authenticate %q, want %q", got, want.challenge)
	}
	if loc, ok := r.Header["Location"]; want.location == "" && ok {
		t.Errorf("Location %q: no answer may redirect", loc)
	} else if want.location != "" && !strings.HasPrefix(r.Header.Get("Location"), want.location) {
		t.Errorf("Location %q, want %s...", r.Header.Get("Location"), want.location)
	}
	switch {
	case r.StatusCode >= 400:
		p := r.problem(t)
		if p.Code != want.code {
			t.Errorf("code %q, want %q (%s)", p.Code, want.code, p.Detail)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on a refusal", cc)
		}
	case want.code != "":
		t.Errorf("status %d has no problem code, want %q", r.StatusCode, want.code)
	}
	for _, leak := range []string{"goroutine ", ".go:", "sqlite", "SQL"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the answer leaks %q: %.300s", leak, r.Body)
		}
	}
	if n := a.attackerHits.Load() - hits; n != 0 {
		t.Errorf("the attacker's server received %d requests", n)
	}
	now := a.userIDs(t)
	for _, id := range users {
		if !slices.Contains(now, id) {
			t.Errorf("user %s is gone from the store", id)
		}
	}
	if after != nil {
		after(t, r)
	}
}

// TestAttackCatalogueDocumented: docs/security/attacks.md lists exactly
// the rows of the catalogue, by name, so that the list a reader trusts is
// the list the tests run.
func TestAttackCatalogueDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/security/attacks.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name: source
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		name := strings.TrimSpace(cells[0])
		if name == "attack" || strings.Trim(name, "-:| ") == "" {
			continue // the header row and its rule
		}
		source := ""
		if len(cells) > 1 {
			source = strings.TrimSpace(cells[1])
		}
		documented[strings.ReplaceAll(name, `\|`, "|")] = source
	}
	names := map[string]bool{}
	for _, row := range attackCatalogue() {
		if names[row.name] {
			t.Errorf("two rows are named %q", row.name)
		}
		names[row.name] = true
		if source, ok := documented[row.name]; !ok {
			t.Errorf("row %q is not in docs/security/attacks.md", row.name)
		} else if source != row.source {
			t.Errorf("row %q: the doc gives the source %q, the test %q", row.name, source, row.source)
		}
	}
	for name := range documented {
		if !names[name] {
			t.Errorf("docs/security/attacks.md lists %q, which is not a row", name)
		}
	}
}
