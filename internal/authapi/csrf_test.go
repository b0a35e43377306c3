package authapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestCSRF: every cookie-authenticated unsafe request needs the
// double-submit header, equal to the cookie and minted for this session;
// cross-site requests and logins from foreign origins are refused.
func TestCSRF(t *testing.T) {
	g := newGH(t)
	victim := g.browser()
	victim.login()
	other := g.browser() // another user-agent with its own valid session
	other.login()

	rt := victim.cookie("/auth/refresh", "__Secure-gh_rt")
	at := victim.cookie("/", "__Host-gh_at")
	xsrf := victim.cookie("/", "XSRF-TOKEN")
	otherXSRF := other.cookie("/", "XSRF-TOKEN")
	cookies := func(x string) string {
		return "__Host-gh_at=" + at + "; __Secure-gh_rt=" + rt + "; XSRF-TOKEN=" + x
	}

	cases := []struct {
		name    string
		method  string
		path    string
		body    any
		headers []string
		status  int
		code    string
	}{
		{"refresh without header", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf)}, 403, "csrf_failed"},
		{"refresh with wrong header", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", "AAAAAAAAAAAAAAAAAAAAAA.AAAA"}, 403, "csrf_failed"},
		{"refresh with header not matching cookie", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", otherXSRF}, 403, "csrf_failed"},
		// The attacker plants its own valid CSRF pair (cookie tossing): the
		// header equals the cookie, but the token belongs to another session.
		{"refresh with another session's token in cookie and header", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(otherXSRF), "X-XSRF-TOKEN", otherXSRF}, 403, "csrf_failed"},
		{"logout with another session's token", "POST", "/auth/logout", nil,
			[]string{"Cookie", cookies(otherXSRF), "X-XSRF-TOKEN", otherXSRF}, 403, "csrf_failed"},
		{"logout-all without header", "POST", "/auth/logout-all", nil,
			[]string{"Cookie", cookies(xsrf)}, 403, "csrf_failed"},
		{"two XSRF cookies (tossed duplicate)", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf) + "; XSRF-TOKEN=" + otherXSRF, "X-XSRF-TOKEN", xsrf}, 400, "duplicate_cookie"},
		{"two refresh cookies (tossed duplicate)", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf) + "; __Secure-gh_rt=" + rt, "X-XSRF-TOKEN", xsrf}, 400, "duplicate_cookie"},
		{"Sec-Fetch-Site cross-site", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", xsrf, "Sec-Fetch-Site", "cross-site"}, 403, "cross_origin_request"},
		{"Sec-Fetch-Site same-site (sibling subdomain)", "POST", "/auth/logout", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", xsrf, "Sec-Fetch-Site", "same-site"}, 403, "cross_origin_request"},
		{"foreign Origin without Fetch Metadata", "POST", "/auth/logout", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", xsrf, "Origin", "https://evil.example"}, 403, "cross_origin_request"},
		{"login from a foreign Origin", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword}, []string{"Origin", "https://evil.example"}, 403, "cross_origin_request"},
		{"login from a foreign Referer", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword}, []string{"Referer", "https://evil.example/page"}, 403, "forbidden_origin"},
		{"cookie-mode login with neither Origin nor Referer", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword}, nil, 403, "forbidden_origin"},
		{"bearer login from a browser with no Origin", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"},
			[]string{"Sec-Fetch-Site", "none", "Sec-Fetch-Mode", "navigate"}, 403, "forbidden_origin"},
		{"login from a cross-site form with a foreign Origin", "POST", "/auth/login",
			"username=alice&password=x", []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403, "cross_origin_request"},

		// The right header passes.
		{"refresh with the right header", "POST", "/auth/refresh", nil,
			[]string{"Cookie", cookies(xsrf), "X-XSRF-TOKEN", xsrf, "Origin", g.Origin, "Sec-Fetch-Site", "same-origin"}, 200, ""},
		{"login from an allowed other origin", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword}, []string{"Origin", "http://spa.example.test"}, 200, ""},
		{"login with an allowed Referer", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword}, []string{"Referer", g.Origin + "/login"}, 200, ""},
		{"bearer login from a non-browser client", "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"}, nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := doWith(t, http.DefaultClient, g.URL, tc.method, tc.path, tc.body, tc.headers...)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.status, r.Body)
			}
			if tc.code != "" {
				if p := r.problem(t); p.Code != tc.code {
					t.Fatalf("code %q, want %q", p.Code, tc.code)
				}
			}
		})
	}
	// None of the refused requests ended or rotated the victim's session.
	if r := victim.do("GET", "/auth/session", nil); r.StatusCode != 200 {
		t.Fatalf("victim session after attacks: %d %s", r.StatusCode, r.Body)
	}
	assertNoTokensLogged(t, g, rt, at, xsrf, otherXSRF)
}

// TestBearerNeedsNoCSRF: a Bearer-authenticated request carries no
// ambient credential, so it needs no CSRF header.
func TestBearerNeedsNoCSRF(t *testing.T) {
	g := newGH(t)
	tk := g.bearerLogin()
	r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/logout-all", nil, "Authorization", "Bearer "+tk.AccessToken)
	if r.StatusCode != 204 {
		t.Fatalf("bearer logout-all: %d %s", r.StatusCode, r.Body)
	}
	r, _ = g.bearerRefresh(tk.RefreshToken)
	if r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
		t.Fatalf("refresh after logout-all: %d %s", r.StatusCode, r.Body)
	}
}

func TestCORSAllowedOriginOnly(t *testing.T) {
	g := newGH(t)
	r := doWith(t, http.DefaultClient, g.URL, "OPTIONS", "/auth/login", nil,
		"Origin", "http://spa.example.test", "Access-Control-Request-Method", "POST")
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://spa.example.test" ||
		r.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "X-XSRF-TOKEN") {
		t.Fatalf("preflight from allowed origin: %d %v", r.StatusCode, r.Header)
	}
	// The actual answer lets the page read when to retry and why a token
	// was refused.
	r = doWith(t, http.DefaultClient, g.URL, "GET", "/auth/session", nil, "Origin", "http://spa.example.test")
	if r.StatusCode != 401 || r.Header.Get("Access-Control-Expose-Headers") != "Retry-After, WWW-Authenticate" {
		t.Fatalf("cross-origin answer: %d, Access-Control-Expose-Headers %q", r.StatusCode, r.Header.Get("Access-Control-Expose-Headers"))
	}
	r = doWith(t, http.DefaultClient, g.URL, "OPTIONS", "/auth/login", nil,
		"Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from foreign origin allowed: %v", r.Header)
	}
}
