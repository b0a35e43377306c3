package authapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

const newPassword = "a brand new passphrase"

// TestChangePassword: the user changes their own password with the
// current one; every other session ends, this device gets a fresh session
// and stays signed in, and only the new password logs in afterwards.
func TestChangePassword(t *testing.T) {
	g := newGH(t)
	laptop := g.browser()
	laptop.login()
	var before struct{ Session struct{ ID string } }
	laptop.do("GET", "/auth/session", nil).json(t, &before)
	phone := g.bearerLogin()

	r := laptop.post("/auth/password", map[string]string{"current_password": testPassword, "new_password": newPassword})
	if r.StatusCode != 200 {
		t.Fatalf("change password: %d %s", r.StatusCode, r.Body)
	}
	var after struct{ Session struct{ ID string } }
	r.json(t, &after)
	if after.Session.ID == "" || after.Session.ID == before.Session.ID {
		t.Fatalf("the changing device should get a new session: before %q after %q", before.Session.ID, after.Session.ID)
	}
	if r := laptop.do("GET", "/auth/session", nil); r.StatusCode != 200 {
		t.Fatalf("the changing device was signed out: %d %s", r.StatusCode, r.Body)
	}
	if r, _ := g.bearerRefresh(phone.RefreshToken); r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
		t.Fatalf("other device still refreshes after a password change: %d %s", r.StatusCode, r.Body)
	}
	r = doWith(t, http.DefaultClient, g.URL, "GET", "/auth/session", nil, "Authorization", "Bearer "+phone.AccessToken)
	wantProblem(t, "other device's access token", r, 401, "session_ended")
	wantProblem(t, "old password", bearerLoginResp(t, g, testUser, testPassword), 401, "invalid_credentials")
	wantStatus(t, "new password", bearerLoginResp(t, g, testUser, newPassword), 200)

	// Bearer callers get a token response and no cookie.
	var tk tokens
	bearerLoginResp(t, g, testUser, newPassword).json(t, &tk)
	r = doWith(t, http.DefaultClient, g.URL, "POST", "/auth/password",
		map[string]string{"current_password": newPassword, "new_password": testPassword}, "Authorization", "Bearer "+tk.AccessToken)
	if r.StatusCode != 200 || len(r.Cookies()) != 0 {
		t.Fatalf("bearer change: %d, %d cookies, %s", r.StatusCode, len(r.Cookies()), r.Body)
	}
	var next tokens
	r.json(t, &next)
	if next.AccessToken == "" || next.RefreshToken == "" {
		t.Fatalf("bearer change answered no tokens: %s", r.Body)
	}
}

// TestChangePasswordRefusals: each way the change can be refused, with
// the session left as it was.
func TestChangePasswordRefusals(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.login()
	xsrf := func() string { return b.cookie("/", "XSRF-TOKEN") }
	tests := []struct {
		name       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
	}{
		{"wrong current password", map[string]string{"current_password": "not my password", "new_password": newPassword},
			[]string{"X-XSRF-TOKEN", xsrf(), "Origin", g.Origin}, 401, "invalid_credentials"},
		{"new password too short", map[string]string{"current_password": testPassword, "new_password": "short"},
			[]string{"X-XSRF-TOKEN", xsrf(), "Origin", g.Origin}, 400, "invalid_request"},
		{"missing current password", map[string]string{"new_password": newPassword},
			[]string{"X-XSRF-TOKEN", xsrf(), "Origin", g.Origin}, 400, "invalid_request"},
		{"unknown field", map[string]string{"current_password": testPassword, "new_password": newPassword, "old": "x"},
			[]string{"X-XSRF-TOKEN", xsrf(), "Origin", g.Origin}, 400, "unknown_field"},
		{"no CSRF header", map[string]string{"current_password": testPassword, "new_password": newPassword},
			[]string{"Origin", g.Origin}, 403, "csrf_failed"},
		{"cross-site", map[string]string{"current_password": testPassword, "new_password": newPassword},
			[]string{"X-XSRF-TOKEN", xsrf(), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403, "cross_origin_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, tt.name, b.do("POST", "/auth/password", tt.body, tt.headers...), tt.wantStatus, tt.wantCode)
			if r := b.do("GET", "/auth/session", nil); r.StatusCode != 200 {
				t.Fatalf("session ended by a refused change: %d %s", r.StatusCode, r.Body)
			}
		})
	}
	anon := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/password",
		map[string]string{"current_password": testPassword, "new_password": newPassword})
	wantProblem(t, "no token", anon, 401, "invalid_token")
	wantStatus(t, "password unchanged", bearerLoginResp(t, g, testUser, testPassword), 200)

	events, err := g.Engine.Audit(context.Background(), store.AuditFilter{Type: "password_change_failure"})
	if err != nil || len(events) != 1 || events[0].Detail != "wrong current password" {
		t.Fatalf("password_change_failure events: %+v, %v", events, err)
	}
}

// TestChangePasswordIsNoOracle: wrong current passwords count against the
// login limits, so a stolen access token cannot be used to guess the
// password at leisure.
func TestChangePasswordIsNoOracle(t *testing.T) {
	g := newGH(t, func(_ *config.Resolved, o *app.Options) {
		o.Limiter = limiter.New(limiter.Config{FreeFailures: 2, BaseDelay: 30 * time.Second})
	})
	tk := g.bearerLogin()
	change := func(current string) resp {
		return doWith(t, http.DefaultClient, g.URL, "POST", "/auth/password",
			map[string]string{"current_password": current, "new_password": newPassword}, "Authorization", "Bearer "+tk.AccessToken)
	}
	for i := range 2 {
		wantProblem(t, "guess", change("guess number "+string(rune('a'+i))), 401, "invalid_credentials")
	}
	r := change("guess number c")
	wantProblem(t, "guess over the limit", r, 429, "rate_limited")
	retryAfter(t, r)
	wantProblem(t, "right password over the limit", change(testPassword), 429, "rate_limited")
}
