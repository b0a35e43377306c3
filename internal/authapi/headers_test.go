package authapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

func TestTraceRefused(t *testing.T) {
	g := newGH(t)
	for _, m := range []string{"TRACE", "TRACK"} {
		for _, path := range []string{"/", "/auth/login", "/auth/session"} {
			r := doWith(t, http.DefaultClient, g.URL, m, path, nil, "Cookie", "__Host-gh_at=secret")
			if r.StatusCode != 405 || r.problem(t).Code != "method_not_allowed" {
				t.Errorf("%s %s: %d %s", m, path, r.StatusCode, r.Body)
			}
			if strings.Contains(string(r.Body), "secret") {
				t.Errorf("%s echoed the request", m)
			}
		}
	}
}

func TestMethodNotAllowedAndNotFound(t *testing.T) {
	g := newGH(t)
	r := doWith(t, http.DefaultClient, g.URL, "GET", "/auth/login", nil)
	if r.StatusCode != 405 || r.problem(t).Code != "method_not_allowed" || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET /auth/login: %d %v %s", r.StatusCode, r.Header, r.Body)
	}
	r = doWith(t, http.DefaultClient, g.URL, "GET", "/nope", nil)
	if r.StatusCode != 404 || r.problem(t).Code != "not_found" {
		t.Errorf("GET /nope: %d %s", r.StatusCode, r.Body)
	}
}

// TestCookieAttributes asserts every attribute of every cookie exactly,
// on login and on logout.
func TestCookieAttributes(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	r := b.login()
	set := r.Header.Values("Set-Cookie")
	want := []string{
		"__Host-gh_at=<v>; Path=/; Max-Age=300; HttpOnly; Secure; SameSite=Lax",
		"__Secure-gh_rt=<v>; Path=/auth; Max-Age=604800; HttpOnly; Secure; SameSite=Strict",
		"XSRF-TOKEN=<v>; Path=/; Max-Age=604800; Secure; SameSite=Strict",
	}
	if got := maskValues(set); !slices.Equal(got, want) {
		t.Fatalf("login Set-Cookie:\n got %q\nwant %q", got, want)
	}
	for _, c := range set {
		if len(c) > 4096 {
			t.Errorf("cookie over 4096 bytes: %d", len(c))
		}
	}
	r = b.post("/auth/logout", nil)
	want = []string{
		"__Host-gh_at=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
		"__Secure-gh_rt=; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
		"XSRF-TOKEN=; Path=/; Max-Age=0; Secure; SameSite=Strict",
	}
	if got := r.Header.Values("Set-Cookie"); !slices.Equal(got, want) {
		t.Fatalf("logout Set-Cookie:\n got %q\nwant %q", got, want)
	}
}

func maskValues(cookies []string) []string {
	out := make([]string, len(cookies))
	for i, c := range cookies {
		name, rest, _ := strings.Cut(c, "=")
		_, attrs, _ := strings.Cut(rest, ";")
		out[i] = name + "=<v>;" + attrs
	}
	return out
}

func TestSecurityHeaders(t *testing.T) {
	g := newGH(t)
	for _, path := range []string{"/auth/session", "/.well-known/jwks.json", "/nope"} {
		r := doWith(t, http.DefaultClient, g.URL, "GET", path, nil)
		for h, v := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
		} {
			if got := r.Header.Get(h); got != v {
				t.Errorf("%s: %s = %q, want %q", path, h, got, v)
			}
		}
		// Plain HTTP from an untrusted peer: HSTS would be ignored by
		// browsers and is not sent.
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	r := doWith(t, http.DefaultClient, g.URL, "GET", "/auth/session", nil)
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/auth/session Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
}

func withTrustedProxy(p string) option {
	return func(c *config.Resolved, _ *app.Options) {
		c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(p))
	}
}

// TestForwardedHeaders: X-Forwarded-For and X-Forwarded-Proto count only
// when the peer is a configured trusted proxy.
func TestForwardedHeaders(t *testing.T) {
	sessionIP := func(t *testing.T, g *gh, headers ...string) (string, http.Header) {
		t.Helper()
		r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login",
			map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"}, headers...)
		if r.StatusCode != 200 {
			t.Fatalf("login: %d %s", r.StatusCode, r.Body)
		}
		var tk tokens
		r.json(t, &tk)
		s := doWith(t, http.DefaultClient, g.URL, "GET", "/auth/session", nil, "Authorization", "Bearer "+tk.AccessToken)
		var v struct{ Session struct{ IP string } }
		s.json(t, &v)
		return v.Session.IP, r.Header
	}
	t.Run("untrusted peer", func(t *testing.T) {
		g := newGH(t)
		ip, h := sessionIP(t, g, "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https")
		if ip != "127.0.0.1" {
			t.Errorf("spoofed X-Forwarded-For believed: %q", ip)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("spoofed X-Forwarded-Proto believed")
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		g := newGH(t, withTrustedProxy("127.0.0.0/8"))
		// The client forged the leftmost entry; the proxy appended the real one.
		ip, h := sessionIP(t, g, "X-Forwarded-For", "198.51.100.1, 203.0.113.9", "X-Forwarded-Proto", "https")
		if ip != "203.0.113.9" {
			t.Errorf("client IP = %q, want the rightmost untrusted hop", ip)
		}
		if got := h.Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
			t.Errorf("HSTS behind trusted proxy = %q", got)
		}
	})
}

// TestLargestCookieFits: the access-token cookie of the largest user the
// server accepts (longest username, most and longest roles), with the
// longest issuer and scope the configuration accepts, signed with the
// algorithm of the longest signature, still fits the 4096 bytes every
// browser keeps (ASVS 3.3.x; RFC 6265 §6.1). A cookie over it would be
// dropped silently and the user could never stay signed in.
func TestLargestCookieFits(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		t.Run(alg, func(t *testing.T) {
			g := newGH(t, func(c *config.Resolved, _ *app.Options) {
				c.SigningAlg = alg
				// The longest issuer, audience and scope the configuration
				// allows; the test server's own origin still logs in.
				c.AllowedOrigins = append(c.AllowedOrigins, c.PublicURL.String())
				long := "https://" + strings.Repeat("i", config.MaxClaimBytes-len("https://"))
				c.PublicURL, _ = url.Parse(long)
				c.Audience = long
				c.AccessTokenScope = strings.Repeat("s", config.MaxClaimBytes)
			})
			roles := make([]string, session.MaxRoles)
			for i := range roles {
				roles[i] = fmt.Sprintf("%02d", i) + strings.Repeat("r", session.MaxRoleLen-2)
			}
			name := strings.Repeat("u", session.MaxUsernameBytes)
			if _, err := g.Engine.AddUser(context.Background(), session.CLI, name, testPassword, roles); err != nil {
				t.Fatal(err)
			}
			r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login",
				map[string]string{"username": name, "password": testPassword}, "Origin", g.Origin)
			if r.StatusCode != 200 {
				t.Fatalf("login: %d %s", r.StatusCode, r.Body)
			}
			for _, c := range r.Cookies() {
				n := len(c.Name) + len(c.Value)
				if n > 4096 {
					t.Errorf("cookie %s: name and value are %d bytes, over 4096", c.Name, n)
				}
				if c.Name == credential.CookieAccess {
					t.Logf("largest access-token cookie: %d bytes", n)
				}
			}
		})
	}
}
