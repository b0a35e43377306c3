package provider_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
)

// TestLoginPage: what the login page is (accessible, fillable by password
// managers, framing and scripts refused) and the attacks on it that fail:
// login CSRF (a form posted without the browser binding, or cross-site),
// a tampered or expired form, and telling an unknown user from a wrong
// password.
func TestLoginPage(t *testing.T) {
	o := newOP(t)
	id, _ := o.register(provider.Spec{Name: "Orders <App>"})
	_, challenge := pkce()
	b := o.browser()
	p := b.get(o.authorizeURL(id, challenge, url.Values{"login_hint": {"bob"}}))
	if p.Status != http.StatusOK {
		t.Fatalf("login page: %d", p.Status)
	}
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "style-src 'sha256-"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if p.Header.Get("X-Frame-Options") != "DENY" || p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", p.Header)
	}
	for _, want := range []string{`<label for="username">`, `<label for="password">`, `name="username"`, `autocomplete="username"`,
		`name="password" type="password" autocomplete="current-password"`, `value="bob"`, `lang="en"`, "Orders &lt;App&gt;"} {
		if !strings.Contains(p.Body, want) {
			t.Errorf("the login page lacks %q", want)
		}
	}
	if strings.Contains(p.Body, "<script") {
		t.Error("the login page has a script")
	}

	wrong := func(username string) page {
		return b.submit(p, url.Values{"username": {username}, "password": {"not the password"}})
	}
	unknown, badPassword := wrong("nobody-here"), wrong(testUser)
	msg := regexp.MustCompile(`role="alert" id="form-error">([^<]*)<`)
	mu, mw := msg.FindStringSubmatch(unknown.Body), msg.FindStringSubmatch(badPassword.Body)
	if unknown.Status != badPassword.Status || mu == nil || mw == nil || mu[1] != mw[1] {
		t.Fatalf("an unknown user (%d %v) and a wrong password (%d %v) differ", unknown.Status, mu, badPassword.Status, mw)
	}
	if !strings.Contains(badPassword.Body, `aria-invalid="true" aria-describedby="form-error"`) {
		t.Error("the error is not tied to the fields")
	}

	t.Run("another browser posts the form (login CSRF)", func(t *testing.T) {
		other := o.browser()
		got := other.submit(p, url.Values{"username": {testUser}, "password": {testPassword}})
		if got.Status != http.StatusBadRequest || got.Location != "" {
			t.Fatalf("%d to %q, want a 400 page", got.Status, got.Location)
		}
	})
	t.Run("cross-site post", func(t *testing.T) {
		form := url.Values{"username": {testUser}, "password": {testPassword}}
		req, _ := http.NewRequest(http.MethodPost, o.URL+provider.PathLogin, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if got := b.do(req); got.Status != http.StatusForbidden {
			t.Fatalf("%d, want 403", got.Status)
		}
	})
	t.Run("tampered request", func(t *testing.T) {
		tampered := strings.Replace(p.Body, `name="request" value="`, `name="request" value="A`, 1)
		got := b.submit(page{Status: p.Status, Body: tampered}, url.Values{"username": {testUser}, "password": {testPassword}})
		if got.Status != http.StatusBadRequest || got.Location != "" {
			t.Fatalf("%d to %q, want a 400 page", got.Status, got.Location)
		}
	})
	t.Run("expired request", func(t *testing.T) {
		o.Clock.Advance(11 * time.Minute)
		got := b.submit(p, url.Values{"username": {testUser}, "password": {testPassword}})
		if got.Status != http.StatusBadRequest || got.Location != "" {
			t.Fatalf("%d to %q, want a 400 page", got.Status, got.Location)
		}
	})
}

// TestLoginPageLimits: the provider's login page has the login API's
// brute-force limits: repeated wrong passwords are refused with 429 and
// Retry-After before any hashing.
func TestLoginPageLimits(t *testing.T) {
	o := newOP(t, func(opts *app.Options) { opts.Limiter = nil })
	id, _ := o.register(provider.Spec{})
	_, challenge := pkce()
	b := o.browser()
	p := b.get(o.authorizeURL(id, challenge, nil))
	var last page
	for range 30 {
		last = b.submit(p, url.Values{"username": {testUser}, "password": {"wrong"}})
		if last.Status == http.StatusTooManyRequests {
			break
		}
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || !strings.Contains(last.Body, `role="alert"`) {
		t.Fatalf("after repeated failures: %d Retry-After %q", last.Status, last.Header.Get("Retry-After"))
	}
}
