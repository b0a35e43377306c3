package authapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestBadInput: malformed, oversize and hostile input gets a 4xx
// problem+json with a stable code, never a 500, and the server keeps
// serving.
func TestBadInput(t *testing.T) {
	g := newGH(t)
	js := []string{"Content-Type", "application/json", "Origin", "ORIGIN"}
	login := func(body string) string { return body }
	big := strings.Repeat("a", 10<<20)

	cases := []struct {
		name    string
		path    string
		body    string
		headers []string
		status  int
		code    string
	}{
		{"malformed JSON", "/auth/login", login(`{"username": "alice", "password": `), js, 400, "malformed_json"},
		{"JSON array", "/auth/login", `[1,2]`, js, 400, "malformed_json"},
		{"trailing data", "/auth/login", `{"username":"alice","password":"x"} {}`, js, 400, "malformed_json"},
		{"wrong field type", "/auth/login", `{"username": 42, "password": "x"}`, js, 400, "malformed_json"},
		{"unknown field", "/auth/login", `{"username":"alice","password":"x","admin":true}`, js, 400, "unknown_field"},
		{"10 MB body", "/auth/login", `{"username":"` + big + `"}`, js, 413, "body_too_large"},
		{"wrong content type", "/auth/login", `{"username":"alice","password":"x"}`,
			[]string{"Content-Type", "text/plain", "Origin", "ORIGIN"}, 415, "unsupported_media_type"},
		{"no content type", "/auth/login", `{"username":"alice","password":"x"}`, []string{"Origin", "ORIGIN"}, 415, "unsupported_media_type"},
		{"multipart", "/auth/login", "--x\r\n", []string{"Content-Type", "multipart/form-data; boundary=x", "Origin", "ORIGIN"}, 415, "unsupported_media_type"},
		{"empty body", "/auth/login", ``, js, 400, "invalid_request"},
		{"empty object", "/auth/login", `{}`, js, 400, "invalid_request"},
		{"empty username", "/auth/login", `{"username":"","password":"x"}`, js, 400, "invalid_request"},
		{"empty password", "/auth/login", `{"username":"alice","password":""}`, js, 400, "invalid_request"},
		{"10 KB username", "/auth/login", `{"username":"` + strings.Repeat("u", 10<<10) + `","password":"x"}`, js, 400, "invalid_request"},
		{"2 KB password", "/auth/login", `{"username":"alice","password":"` + strings.Repeat("p", 2048) + `"}`, js, 400, "invalid_request"},
		{"NUL in username", "/auth/login", `{"username":"ali\u0000ce","password":"x"}`, js, 400, "invalid_request"},
		{"raw NUL byte", "/auth/login", "{\"username\":\"ali\x00ce\",\"password\":\"x\"}", js, 400, "malformed_json"},
		{"invalid UTF-8", "/auth/login", "{\"username\":\"al\xffice\",\"password\":\"x\"}", js, 400, "invalid_encoding"},
		{"invalid UTF-8 in form", "/auth/login", "username=al%FFice&password=x",
			[]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "ORIGIN"}, 400, "invalid_encoding"},
		{"repeated form field", "/auth/login", "username=alice&username=bob&password=x",
			[]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", "ORIGIN"}, 400, "invalid_request"},
		{"unknown mode", "/auth/login", `{"username":"alice","password":"x","mode":"implicit"}`, js, 400, "invalid_request"},
		{"deeply nested JSON", "/auth/login", strings.Repeat("[", 20000), js, 400, "malformed_json"},
		{"huge cookie", "/auth/session", "", []string{"Cookie", "__Host-gh_at=" + strings.Repeat("x", 64<<10)}, 431, "headers_too_large"},
		{"oversize access token", "/auth/session", "", []string{"Authorization", "Bearer " + strings.Repeat("x", 9<<10)}, 401, "invalid_token"},
		{"garbage access token", "/auth/session", "", []string{"Authorization", "Bearer a.b.c"}, 401, "invalid_token"},
		{"Basic auth", "/auth/session", "", []string{"Authorization", "Basic YTpi"}, 400, "invalid_request"},
		{"garbage refresh token", "/auth/refresh", `{"refresh_token":"ghr_nope"}`, js, 401, "invalid_refresh_token"},
		{"oversize refresh token", "/auth/refresh", `{"refresh_token":"ghr_` + strings.Repeat("A", 5000) + `"}`, js, 401, "invalid_refresh_token"},
		{"wrong grant type", "/auth/refresh", `{"grant_type":"password","refresh_token":"x"}`, js, 400, "invalid_request"},
		{"refresh with no token", "/auth/refresh", ``, js, 401, "invalid_refresh_token"},
		{"logout with a JSON string", "/auth/logout", `"x"`, js, 400, "malformed_json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			headers := make([]string, len(tc.headers))
			for i, h := range tc.headers {
				headers[i] = strings.ReplaceAll(h, "ORIGIN", g.Origin)
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := doWith(t, http.DefaultClient, g.URL, "POST", tc.path, body, headers...)
			if tc.path == "/auth/session" {
				r = doWith(t, http.DefaultClient, g.URL, "GET", tc.path, nil, headers...)
			}
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", r.StatusCode, tc.status, r.Body)
			}
			p := r.problem(t)
			if p.Code != tc.code {
				t.Fatalf("code %q, want %q (%s)", p.Code, tc.code, p.Detail)
			}
			if strings.Contains(string(r.Body), "goroutine") || strings.Contains(string(r.Body), ".go:") {
				t.Fatalf("response leaks a stack trace: %s", r.Body)
			}
		})
	}
	// Still serving, and nothing was logged at error level.
	g.bearerLogin()
	if strings.Contains(g.Logs.String(), "level=ERROR") {
		t.Errorf("bad input caused an error log:\n%s", g.Logs.String())
	}
}

// TestLoginFailuresLookAlike: unknown user, wrong password and disabled
// account give byte-identical responses.
func TestLoginFailuresLookAlike(t *testing.T) {
	g := newGH(t)
	bob, err := g.Engine.AddUser(t.Context(), session.CLI, "bob", "another good password", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Engine.SetDisabled(t.Context(), session.CLI, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, creds := range [][2]string{{"nobody", "whatever pass"}, {testUser, "wrong password"}, {"bob", "another good password"}} {
		r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login",
			map[string]string{"username": creds[0], "password": creds[1], "mode": "bearer"})
		if r.StatusCode != 401 || r.problem(t).Code != "invalid_credentials" {
			t.Fatalf("%s: %d %s", creds[0], r.StatusCode, r.Body)
		}
		bodies = append(bodies, string(r.Body))
	}
	if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
		t.Fatalf("login failures differ:\n%s", strings.Join(bodies, "\n"))
	}
}
