package guard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

func TestMiddlewareCredentials(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok := e.token(t, nil)
	req := func(auth ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://api.test/things", nil)
		for _, a := range auth {
			r.Header.Add("Authorization", a)
		}
		return r
	}
	cases := []struct {
		name   string
		r      *http.Request
		status int
		ch     string
		code   string
	}{
		{"Bearer", req("Bearer " + tok), 200, "", ""},
		{"bearer, lower case", req("bearer " + tok), 200, "", ""},
		{"BEARER, two spaces", req("BEARER  " + tok), 200, "", ""},
		{"no credentials", req(), 401, chNone, "invalid_token"},
		{"Basic", req("Basic YTpi"), 400, chRequest, "invalid_request"},
		{"Bearer without token", req("Bearer"), 400, chRequest, "invalid_request"},
		{"Bearer and a space", req("Bearer "), 400, chRequest, "invalid_request"},
		{"two tokens", req("Bearer " + tok + " " + tok), 400, chRequest, "invalid_request"},
		{"two Authorization headers", req("Bearer "+tok, "Bearer "+tok), 400, chRequest, "invalid_request"},
		{"empty Authorization", req(""), 400, chRequest, "invalid_request"},
		{"token in the cookie", cookieReq(http.MethodGet, accessCookie+"="+tok), 200, "", ""},
		{"Authorization wins over the cookie", func() *http.Request {
			r := cookieReq(http.MethodGet, accessCookie+"=garbage")
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}(), 200, "", ""},
		{"garbage cookie", cookieReq(http.MethodGet, accessCookie+"=a.b.c"), 401, chMalform, "invalid_token"},
		{"only other cookies", cookieReq(http.MethodGet, "theme=dark"), 401, chNone, "invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serve(e.g.Middleware, c.r)
			if got.status != c.status || got.challenge != c.ch || got.code != c.code {
				t.Fatalf("got %d %q %q, want %d %q %q (%s)", got.status, got.challenge, got.code, c.status, c.ch, c.code, got.body)
			}
			if c.status == 200 && (got.principal == nil || got.principal.Subject != "user-1") {
				t.Fatalf("principal %+v", got.principal)
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	rv := guard.NewRevocations()
	e := newEnv(t, nil, func(c *guard.Config) { c.Revocations = rv })
	revset.Of(rv).Touch(e.clock.Now())
	tok := e.token(t, nil)
	other := e.token(t, map[string]any{"sid": "sess-2"})

	if got := serve(e.g.Middleware, bearerReq("GET", tok)); got.status != 200 {
		t.Fatalf("before revocation: %d %s", got.status, got.body)
	}
	if got := serve(e.g.Middleware, bearerReq("GET", tok)); got.status != 200 || e.stats().CacheHits != 1 {
		t.Fatalf("second request: %d, hits %d", got.status, e.stats().CacheHits)
	}
	revset.Of(rv).Add("sess-1", e.clock.Now().Add(6*time.Minute), 1)
	got := serve(e.g.Middleware, bearerReq("GET", tok)) // a cache hit, refused all the same
	if got.status != 401 || got.challenge != chRevoked || got.code != "session_ended" {
		t.Fatalf("revoked after a cache hit: %d %q %q", got.status, got.challenge, got.code)
	}
	if s := e.stats(); s.CacheHits != 2 || s.RevokedRefusals != 1 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := e.g.Verify(t.Context(), tok); !errors.Is(err, guard.ErrRevoked) {
		t.Fatalf("Verify: %v", err)
	}
	// A revoked token never seen before is refused too.
	fresh := e.token(t, nil)
	if got := serve(e.g.Middleware, bearerReq("GET", fresh)); got.status != 401 || got.challenge != chRevoked || got.code != "session_ended" {
		t.Fatalf("uncached revoked: %d %q", got.status, got.challenge)
	}
	if got := serve(e.g.Middleware, bearerReq("GET", other)); got.status != 200 {
		t.Fatalf("other session: %d", got.status)
	}
}

func TestFeedDown(t *testing.T) {
	for _, open := range []bool{false, true} {
		name := map[bool]string{false: "fail closed", true: "FailOpen"}[open]
		t.Run(name, func(t *testing.T) {
			rv := guard.NewRevocations()
			e := newEnv(t, nil, func(c *guard.Config) { c.Revocations = rv; c.FailOpen = open })
			tok := e.token(t, nil)
			wantDown := func(step string) {
				t.Helper()
				got := serve(e.g.Middleware, bearerReq("GET", tok))
				if open {
					if got.status != 200 {
						t.Fatalf("%s: %d, want 200 (FailOpen)", step, got.status)
					}
					return
				}
				if got.status != 503 || got.code != "revocation_feed_unavailable" || got.challenge != "" {
					t.Fatalf("%s: %d %q %q", step, got.status, got.code, got.challenge)
				}
			}
			// Never contacted, but within FeedMaxLag of New: trusted.
			e.clock.Advance(20 * time.Second)
			if got := serve(e.g.Middleware, bearerReq("GET", tok)); got.status != 200 {
				t.Fatalf("fresh guard: %d", got.status)
			}
			// Never contacted, FeedMaxLag passed since New.
			e.clock.Advance(11 * time.Second)
			wantDown("never contacted")
			wantDown("never contacted, again")
			if n := e.log.count(); n != 1 {
				t.Fatalf("%d log records, want 1 per FeedMaxLag", n)
			}
			// Contact resumes.
			revset.Of(rv).Touch(e.clock.Now())
			if got := serve(e.g.Middleware, bearerReq("GET", tok)); got.status != 200 {
				t.Fatalf("after contact: %d", got.status)
			}
			// Silent for longer than FeedMaxLag.
			e.clock.Advance(31 * time.Second)
			wantDown("lagging")
			if _, err := e.g.Verify(t.Context(), tok); open && err != nil || !open && !errors.Is(err, guard.ErrFeedDown) {
				t.Fatalf("Verify: %v", err)
			}
			if n := e.log.count(); n != 2 {
				t.Fatalf("%d log records, want 2", n)
			}
			for _, rec := range e.log.records {
				if strings.Contains(rec, tok) || strings.Contains(rec, strings.Split(tok, ".")[2]) {
					t.Fatal("a log record contains the token")
				}
			}
			s := e.stats()
			if open && (s.FailOpenPasses != 4 || s.FailClosedRefusals != 0) || !open && (s.FailClosedRefusals != 4 || s.FailOpenPasses != 0) {
				t.Fatalf("stats %+v", s)
			}
			if s.FeedLag != 31*time.Second {
				t.Fatalf("feed lag %v", s.FeedLag)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok := e.token(t, nil)
	otherTok := e.token(t, map[string]any{"sid": "sess-2", "csrf_hash": csrfHash("csrf-value-of-session-2")})
	noHash := e.token(t, map[string]any{"csrf_hash": del})
	at := accessCookie + "="
	xsrf := csrfCookie + "="
	post := func(access, cookieCSRF, header string, extra ...string) *http.Request {
		r := cookieReq(http.MethodPost, append([]string{at + access, xsrf + cookieCSRF}, extra...)...)
		if header != "" {
			r.Header.Set(csrfHeader, header)
		}
		return r
	}
	with := func(r *http.Request, kv ...string) *http.Request {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				r.Header.Del(kv[i])
			} else {
				r.Header.Set(kv[i], kv[i+1])
			}
		}
		return r
	}
	cases := []struct {
		name   string
		r      *http.Request
		status int
		code   string
	}{
		{"GET needs no CSRF", cookieReq(http.MethodGet, at+tok), 200, ""},
		{"HEAD needs no CSRF", cookieReq(http.MethodHead, at+tok), 200, ""},
		{"OPTIONS needs no CSRF", cookieReq(http.MethodOptions, at+tok), 200, ""},
		{"POST with the session's pair", post(tok, testCSRF, testCSRF), 200, ""},
		{"DELETE with the session's pair", func() *http.Request { r := post(tok, testCSRF, testCSRF); r.Method = http.MethodDelete; return r }(), 200, ""},
		{"POST without header", post(tok, testCSRF, ""), 403, "csrf_failed"},
		{"POST without CSRF cookie", cookieReq(http.MethodPost, at+tok), 403, "csrf_failed"},
		{"header differs from cookie", post(tok, testCSRF, testCSRF+"x"), 403, "csrf_failed"},
		{"another session's pair", post(tok, "csrf-value-of-session-2", "csrf-value-of-session-2"), 403, "csrf_failed"},
		{"other session's token with our pair", post(otherTok, testCSRF, testCSRF), 403, "csrf_failed"},
		{"token without csrf_hash", post(noHash, testCSRF, testCSRF), 403, "csrf_failed"},
		{"cross-site Sec-Fetch-Site", with(post(tok, testCSRF, testCSRF), "Sec-Fetch-Site", "cross-site"), 403, "cross_origin_request"},
		{"same-site Sec-Fetch-Site", with(post(tok, testCSRF, testCSRF), "Sec-Fetch-Site", "same-site"), 403, "cross_origin_request"},
		{"foreign Origin without Sec-Fetch-Site", with(post(tok, testCSRF, testCSRF), "Sec-Fetch-Site", "", "Origin", "https://evil.test"), 403, "cross_origin_request"},
		{"allowed origin", with(post(tok, testCSRF, testCSRF), "Sec-Fetch-Site", "cross-site", "Origin", "https://app.test"), 200, ""},
		{"same Origin without Sec-Fetch-Site", with(post(tok, testCSRF, testCSRF), "Sec-Fetch-Site", "", "Origin", "https://api.test"), 200, ""},
		{"duplicate access cookie", cookieReq(http.MethodGet, at+tok, at+tok), 400, "duplicate_cookie"},
		{"duplicate CSRF cookie", post(tok, testCSRF, testCSRF, xsrf+"planted"), 400, "duplicate_cookie"},
		{"duplicate refresh cookie", cookieReq(http.MethodGet, at+tok, refreshCookie+"=a", refreshCookie+"=b"), 400, "duplicate_cookie"},
		{"Bearer POST needs no CSRF", bearerReq(http.MethodPost, tok), 200, ""},
		{"Bearer POST cross-site", with(bearerReq(http.MethodPost, tok), "Sec-Fetch-Site", "cross-site"), 200, ""},
		{"Bearer ignores duplicate cookies", with(bearerReq(http.MethodGet, tok), "Cookie", at+"a; "+at+"b"), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serve(e.g.Middleware, c.r)
			if got.status != c.status || got.code != c.code || got.challenge != "" {
				t.Fatalf("got %d %q %q, want %d %q (%s)", got.status, got.code, got.challenge, c.status, c.code, got.body)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	e := newEnv(t, nil, nil)
	tok := e.token(t, map[string]any{"roles": []string{"editor"}, "scope": "api read"})
	chain := func(reqs ...guard.Requirement) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler { return e.g.Middleware(guard.Require(reqs...)(h)) }
	}
	cases := []struct {
		name   string
		reqs   []guard.Requirement
		status int
		ch     string
	}{
		{"role held", []guard.Requirement{guard.Role("editor")}, 200, ""},
		{"role and scope held", []guard.Requirement{guard.Role("editor"), guard.Scope("api")}, 200, ""},
		{"no requirements", nil, 200, ""},
		{"role missing", []guard.Requirement{guard.Role("admin")}, 403, `Bearer error="insufficient_scope"`},
		{"one of two roles missing", []guard.Requirement{guard.Role("editor"), guard.Role("admin")}, 403, `Bearer error="insufficient_scope"`},
		{"scope missing", []guard.Requirement{guard.Scope("write")}, 403, `Bearer error="insufficient_scope", scope="write"`},
		{"scopes named", []guard.Requirement{guard.Scope("api"), guard.Scope("admin"), guard.Role("editor")}, 403, `Bearer error="insufficient_scope", scope="api admin"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := serve(chain(c.reqs...), bearerReq("GET", tok))
			if got.status != c.status || got.challenge != c.ch {
				t.Fatalf("got %d %q, want %d %q", got.status, got.challenge, c.status, c.ch)
			}
			if c.status == 403 && got.code != "insufficient_scope" {
				t.Fatalf("code %q", got.code)
			}
		})
	}
	t.Run("without the guard", func(t *testing.T) {
		got := serve(guard.Require(guard.Role("editor")), bearerReq("GET", tok))
		if got.status != 401 || got.challenge != chNone || got.code != "invalid_token" {
			t.Fatalf("got %d %q %q", got.status, got.challenge, got.code)
		}
	})
	t.Run("bad scope name panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		guard.Scope(`a"b`)
	})
}

// fakeRefresher stands in for Gatehouse's refresh: it mints a new token
// for the same session and sets a cookie.
type fakeRefresher struct {
	calls atomic.Int32
	mint  func() (string, error)
}

func (f *fakeRefresher) Refresh(w http.ResponseWriter, r *http.Request) (string, error) {
	f.calls.Add(1)
	tok, err := f.mint()
	if err == nil {
		http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true})
	}
	return tok, err
}

func TestInlineRefresh(t *testing.T) {
	k := newKeys(t)
	ref := &fakeRefresher{}
	e := newEnv(t, k, func(c *guard.Config) { c.Refresher = ref })
	// Tokens issued at t0 expire at t0+5m; the request comes at t0+10m.
	expired := e.token(t, nil)
	e.clock.Advance(10 * time.Minute)
	newTok := e.token(t, map[string]any{"jti": "jti-new", "csrf_hash": csrfHash("new-csrf")})
	ref.mint = func() (string, error) { return newTok, nil }

	at, rt, xsrf := accessCookie+"=", refreshCookie+"=ghr_x", csrfCookie+"="
	s := strings.Split(expired, ".")
	tampered := s[0] + "." + b64(strings.Replace(string(mustB64(t, s[1])), "user-1", "user-2", 1)) + "." + s[2]
	foreign := e.es.mint(t, nil, claimsAt(t0, map[string]any{"iss": "https://evil.test"}))
	otherAud := e.es.mint(t, nil, claimsAt(t0, map[string]any{"aud": "https://other.test"}))
	unknownKid := (&testKey{kid: "stranger", alg: guard.ES256, priv: k.es.priv}).mint(t, nil, claimsAt(t0, nil))
	wrongTyp := e.es.mint(t, map[string]any{"typ": "JWT"}, claimsAt(t0, nil))
	post := func(access, header string) *http.Request {
		r := cookieReq(http.MethodPost, at+access, rt, xsrf+testCSRF)
		r.Header.Set(csrfHeader, header)
		return r
	}

	cases := []struct {
		name      string
		r         *http.Request
		mint      func() (string, error)
		status    int
		ch, code  string
		refreshes int32
	}{
		{"GET, expired", cookieReq(http.MethodGet, at+expired, rt), nil, 200, "", "", 1},
		{"POST, expired, CSRF of the expired token", post(expired, testCSRF), nil, 200, "", "", 1},
		{"POST, expired, bad CSRF", post(expired, "nope"), nil, 403, "", "csrf_failed", 0},
		{"no refresh cookie", cookieReq(http.MethodGet, at+expired), nil, 401, chExpired, "invalid_token", 0},
		{"refresh fails", cookieReq(http.MethodGet, at+expired, rt), func() (string, error) { return "", errors.New("session ended") },
			401, chRefresh, "invalid_token", 1},
		{"refresh returns garbage", cookieReq(http.MethodGet, at+expired, rt), func() (string, error) { return "a.b.c", nil },
			401, chMalform, "invalid_token", 1},
		{"refresh returns another session", cookieReq(http.MethodGet, at+expired, rt), func() (string, error) {
			return e.token(t, map[string]any{"sid": "sess-9"}), nil
		}, 401, chRefresh, "invalid_token", 1},
		{"tampered", cookieReq(http.MethodGet, at+tampered, rt), nil, 401, chSig, "invalid_token", 0},
		{"foreign issuer", cookieReq(http.MethodGet, at+foreign, rt), nil, 401, chClaims, "invalid_token", 0},
		{"other audience", cookieReq(http.MethodGet, at+otherAud, rt), nil, 401, chClaims, "invalid_token", 0},
		{"unknown kid", cookieReq(http.MethodGet, at+unknownKid, rt), nil, 401, chSig, "invalid_token", 0},
		{"wrong typ", cookieReq(http.MethodGet, at+wrongTyp, rt), nil, 401, chClaims, "invalid_token", 0},
		{"Bearer, expired", func() *http.Request {
			r := bearerReq(http.MethodGet, expired)
			r.Header.Set("Cookie", rt)
			return r
		}(), nil, 401, chExpired, "invalid_token", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref.calls.Store(0)
			ref.mint = func() (string, error) { return newTok, nil }
			if c.mint != nil {
				ref.mint = c.mint
			}
			got := serve(e.g.Middleware, c.r)
			if got.status != c.status || got.challenge != c.ch || got.code != c.code {
				t.Fatalf("got %d %q %q, want %d %q %q (%s)", got.status, got.challenge, got.code, c.status, c.ch, c.code, got.body)
			}
			if n := ref.calls.Load(); n != c.refreshes {
				t.Fatalf("%d refreshes, want %d", n, c.refreshes)
			}
			if c.status == 200 {
				if got.principal == nil || got.principal.TokenID != "jti-new" {
					t.Fatalf("handler saw %+v, want the refreshed token", got.principal)
				}
				if !strings.Contains(strings.Join(got.header.Values("Set-Cookie"), "\n"), accessCookie+"="+newTok) {
					t.Fatal("new cookie not set")
				}
			}
		})
	}
	t.Run("revoked session is not refreshed", func(t *testing.T) {
		rv := guard.NewRevocations()
		e2 := newEnv(t, k, func(c *guard.Config) { c.Refresher = ref; c.Revocations = rv })
		old := e2.token(t, nil)
		e2.clock.Advance(10 * time.Minute)
		revset.Of(rv).Touch(e2.clock.Now())
		revset.Of(rv).Add("sess-1", e2.clock.Now().Add(time.Hour), 1)
		ref.calls.Store(0)
		got := serve(e2.g.Middleware, cookieReq(http.MethodGet, at+old, rt))
		if got.status != 401 || got.challenge != chRevoked || ref.calls.Load() != 0 {
			t.Fatalf("got %d %q, %d refreshes", got.status, got.challenge, ref.calls.Load())
		}
	})
	t.Run("off without a Refresher", func(t *testing.T) {
		e3 := newEnv(t, k, nil)
		old := e3.token(t, nil)
		e3.clock.Advance(10 * time.Minute)
		got := serve(e3.g.Middleware, cookieReq(http.MethodGet, at+old, rt))
		if got.status != 401 || got.challenge != chExpired {
			t.Fatalf("got %d %q", got.status, got.challenge)
		}
	})
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := decodeB64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
