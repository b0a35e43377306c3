package authapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// loginAs logs the browser in (cookie mode) as the given user and returns
// the new session's id.
func (b *browser) loginAs(user, pw string) string {
	b.t.Helper()
	r := b.do("POST", "/auth/login", map[string]string{"username": user, "password": pw}, "Origin", b.g.Origin)
	if r.StatusCode != 200 {
		b.t.Fatalf("login as %s: %d %s", user, r.StatusCode, r.Body)
	}
	var v struct{ Session struct{ ID string } }
	r.json(b.t, &v)
	return v.Session.ID
}

// send is an unsafe request with the double-submit header, as the browser
// client sends DELETE and PUT.
func (b *browser) send(method, path string, body any) resp {
	b.t.Helper()
	return b.do(method, path, body, "X-XSRF-TOKEN", b.cookie("/", "XSRF-TOKEN"), "Origin", b.g.Origin)
}

// client is a non-browser client holding bearer tokens.
type client struct {
	t   *testing.T
	g   *gh
	tk  tokens
	sid string
}

// bearerAs logs in in bearer mode as the given user.
func (g *gh) bearerAs(user, pw string) *client {
	g.t.Helper()
	r := doWith(g.t, http.DefaultClient, g.URL, "POST", "/auth/login",
		map[string]string{"username": user, "password": pw, "mode": "bearer"})
	if r.StatusCode != 200 {
		g.t.Fatalf("bearer login as %s: %d %s", user, r.StatusCode, r.Body)
	}
	c := &client{t: g.t, g: g}
	r.json(g.t, &c.tk)
	r = c.do("GET", "/auth/session", nil)
	if r.StatusCode != 200 {
		g.t.Fatalf("session after login: %d %s", r.StatusCode, r.Body)
	}
	var v struct{ Session struct{ ID string } }
	r.json(g.t, &v)
	c.sid = v.Session.ID
	return c
}

func (c *client) do(method, path string, body any) resp {
	c.t.Helper()
	return doWith(c.t, http.DefaultClient, c.g.URL, method, path, body, "Authorization", "Bearer "+c.tk.AccessToken)
}

// wantProblem fails the test unless r is a problem with the status and code.
func wantProblem(t *testing.T, what string, r resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode, status, r.Body)
	}
	if p := r.problem(t); p.Code != code {
		t.Fatalf("%s: code %q, want %q (%s)", what, p.Code, code, p.Detail)
	}
}

func wantStatus(t *testing.T, what string, r resp, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.StatusCode, status, r.Body)
	}
}

// assertNoSecrets fails if any key of a JSON response body names a
// stored secret or what checks one.
func assertNoSecrets(t *testing.T, body []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, body)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				for _, bad := range []string{"hash", "csrf", "jti", "credential", "password", "token"} {
					if strings.Contains(strings.ToLower(k), bad) {
						t.Fatalf("response has field %q: %s", k, body)
					}
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

type ownSession struct {
	ID         string `json:"id"`
	Client     string `json:"client"`
	AuthTime   string `json:"auth_time"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	ExpiresAt  string `json:"expires_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	Device     string `json:"device"`
	Current    bool   `json:"current"`
}

func listOwn(t *testing.T, r resp) []ownSession {
	t.Helper()
	wantStatus(t, "GET /auth/sessions", r, 200)
	assertNoSecrets(t, r.Body)
	var v struct{ Sessions []ownSession }
	r.json(t, &v)
	return v.Sessions
}

// TestOwnSessions: a user sees their own live sessions, and only theirs,
// with the current one marked, whether asking with the cookie or a Bearer
// token.
func TestOwnSessions(t *testing.T) {
	g := newGH(t)
	if _, err := g.Engine.AddUser(t.Context(), session.CLI, "bob", "another good password", nil); err != nil {
		t.Fatal(err)
	}
	b := g.browser()
	browserSID := b.loginAs(testUser, testPassword)
	cli := g.bearerAs(testUser, testPassword)
	g.bearerAs("bob", "another good password") // someone else's session
	ended := g.bearerAs(testUser, testPassword)
	wantStatus(t, "logout", ended.do("POST", "/auth/logout", nil), 204)

	for _, tc := range []struct {
		name    string
		get     func() resp
		current string
	}{
		{"cookie", func() resp { return b.do("GET", "/auth/sessions", nil) }, browserSID},
		{"bearer", func() resp { return cli.do("GET", "/auth/sessions", nil) }, cli.sid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			list := listOwn(t, tc.get())
			if len(list) != 2 {
				t.Fatalf("got %d sessions, want the 2 live ones of alice: %+v", len(list), list)
			}
			ids := map[string]bool{}
			for _, s := range list {
				ids[s.ID] = true
				if s.Current != (s.ID == tc.current) {
					t.Errorf("session %s current=%v, caller is %s", s.ID, s.Current, tc.current)
				}
				if s.Client == "" || s.AuthTime == "" || s.CreatedAt == "" || s.LastUsedAt == "" || s.ExpiresAt == "" ||
					s.IP != "127.0.0.1" || s.UserAgent == "" || s.Device == "" {
					t.Errorf("session fields missing: %+v", s)
				}
			}
			if !ids[browserSID] || !ids[cli.sid] {
				t.Fatalf("list %v lacks %s or %s", ids, browserSID, cli.sid)
			}
		})
	}
}

// TestRevokeOwnDevice: ending one device stops that device at once
// (access token and refresh token alike) and leaves the user's other
// session working.
func TestRevokeOwnDevice(t *testing.T) {
	g := newGH(t)
	laptop, phone := g.browser(), g.browser()
	laptop.loginAs(testUser, testPassword)
	phoneSID := phone.loginAs(testUser, testPassword)
	phoneRT := phone.cookie("/auth/refresh", "__Secure-gh_rt")

	wantStatus(t, "revoke phone", laptop.send("DELETE", "/auth/sessions/"+phoneSID, nil), 204)

	// The phone's access token is still unexpired and validly signed; the
	// server must refuse it all the same.
	wantProblem(t, "phone GET /auth/session", phone.do("GET", "/auth/session", nil), 401, "session_ended")
	wantProblem(t, "phone GET /auth/sessions", phone.do("GET", "/auth/sessions", nil), 401, "session_ended")
	wantProblem(t, "phone refresh", phone.post("/auth/refresh", nil), 401, "session_ended")
	r, _ := g.bearerRefresh(phoneRT)
	wantProblem(t, "phone refresh token in bearer mode", r, 401, "session_ended")

	wantStatus(t, "laptop session", laptop.do("GET", "/auth/session", nil), 200)
	wantStatus(t, "laptop refresh", laptop.post("/auth/refresh", nil), 200)
	if list := listOwn(t, laptop.do("GET", "/auth/sessions", nil)); len(list) != 1 || !list[0].Current {
		t.Fatalf("laptop's list after revoking the phone: %+v", list)
	}
}

// TestRevokeOwnCurrentSession: ending the session one is using is a
// logout, cookies and all.
func TestRevokeOwnCurrentSession(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	sid := b.loginAs(testUser, testPassword)
	r := b.send("DELETE", "/auth/sessions/"+sid, nil)
	wantStatus(t, "revoke current", r, 204)
	if got := r.Header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("Clear-Site-Data = %q, want none (logout_clear_site_data is off)", got)
	}
	for _, name := range []string{"__Host-gh_at", "XSRF-TOKEN", "__Secure-gh_rt"} {
		if v := b.cookie("/auth/refresh", name); v != "" {
			t.Errorf("cookie %s survived", name)
		}
	}
	wantProblem(t, "session afterwards", b.do("GET", "/auth/session", nil), 401, "invalid_token")
}

// TestRevokeOthersSessionLooksUnknown: another user's session id and a
// made-up one get byte-identical 404s, and the other session lives on.
func TestRevokeOthersSessionLooksUnknown(t *testing.T) {
	g := newGH(t)
	if _, err := g.Engine.AddUser(t.Context(), session.CLI, "bob", "another good password", nil); err != nil {
		t.Fatal(err)
	}
	bob := g.bearerAs("bob", "another good password")
	alice := g.bearerAs(testUser, testPassword)

	other := alice.do("DELETE", "/auth/sessions/"+bob.sid, nil)
	wantProblem(t, "another user's session", other, 404, "not_found")
	unknown := alice.do("DELETE", "/auth/sessions/"+strings.Repeat("A", len(bob.sid)), nil)
	wantProblem(t, "unknown session", unknown, 404, "not_found")
	if string(other.Body) != string(unknown.Body) {
		t.Errorf("responses differ:\n%s\n%s", other.Body, unknown.Body)
	}
	wantStatus(t, "bob's session", bob.do("GET", "/auth/session", nil), 200)
}

// TestLogoutAllKeepCurrent: keep_current ends every other session and
// leaves the caller signed in; without it everything ends.
func TestLogoutAllKeepCurrent(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.loginAs(testUser, testPassword)
	others := []*client{g.bearerAs(testUser, testPassword), g.bearerAs(testUser, testPassword)}

	r := b.post("/auth/logout-all", map[string]bool{"keep_current": true})
	wantStatus(t, "logout-all keep_current", r, 200)
	var v struct{ Revoked int }
	r.json(t, &v)
	if v.Revoked != 2 {
		t.Errorf("revoked %d, want 2", v.Revoked)
	}
	if b.cookie("/", "__Host-gh_at") == "" {
		t.Error("keep_current cleared the caller's cookies")
	}
	for i, o := range others {
		wantProblem(t, fmt.Sprintf("other session %d", i), o.do("GET", "/auth/session", nil), 401, "session_ended")
	}
	wantStatus(t, "caller's session", b.do("GET", "/auth/session", nil), 200)

	// keep_current false, like no body at all, ends the caller's too.
	wantStatus(t, "logout-all", b.post("/auth/logout-all", map[string]bool{"keep_current": false}), 204)
	wantProblem(t, "caller after logout-all", b.do("GET", "/auth/session", nil), 401, "invalid_token")
	wantProblem(t, "unknown field", others[0].do("POST", "/auth/logout-all", map[string]bool{"keep": true}), 400, "unknown_field")
}

// TestSessionsAPINeedsAuthAndCSRF: no token is 401; a cookie-borne unsafe
// request without the double-submit header is 403 and changes nothing.
func TestSessionsAPINeedsAuthAndCSRF(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	sid := b.loginAs(testUser, testPassword)
	anon := func(method, path string) func() resp {
		return func() resp { return doWith(t, http.DefaultClient, g.URL, method, path, nil) }
	}
	cases := []struct {
		name   string
		do     func() resp
		status int
		code   string
	}{
		{"list without token", anon("GET", "/auth/sessions"), 401, "invalid_token"},
		{"delete without token", anon("DELETE", "/auth/sessions/"+sid), 401, "invalid_token"},
		{"delete with cookie, no CSRF header", func() resp {
			return b.do("DELETE", "/auth/sessions/"+sid, nil, "Origin", g.Origin)
		}, 403, "csrf_failed"},
		{"logout-all keep_current with cookie, no CSRF header", func() resp {
			return b.do("POST", "/auth/logout-all", map[string]bool{"keep_current": true}, "Origin", g.Origin)
		}, 403, "csrf_failed"},
		{"PUT on /auth/sessions/{id}", func() resp { return b.send("PUT", "/auth/sessions/"+sid, nil) }, 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantProblem(t, tc.name, tc.do(), tc.status, tc.code) })
	}
	wantStatus(t, "session survives", b.do("GET", "/auth/session", nil), 200)
}

// TestSessionEndpointRefusesRevokedSession: GET /auth/session checks the
// registry, not only the token's signature.
func TestSessionEndpointRefusesRevokedSession(t *testing.T) {
	g := newGH(t)
	c := g.bearerAs(testUser, testPassword)
	if _, err := g.Engine.RevokeSession(t.Context(), session.CLI, c.sid, ""); err != nil {
		t.Fatal(err)
	}
	r := c.do("GET", "/auth/session", nil)
	wantProblem(t, "revoked session's access token", r, 401, "session_ended")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}
}
