package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestInlineRefresh: with inline_refresh, a browser whose access token has
// expired calls the demo API (a guard in the server's process) and the
// request succeeds: the guard rotates the session in-line and sets the new
// cookies on the response, for a read and for a write that passes CSRF
// with the token it was sent with. Without inline_refresh the same call is
// refused with 401, for the page to refresh itself.
func TestInlineRefresh(t *testing.T) {
	const pw = "inline-test-passphrase"
	for _, tc := range []struct {
		name   string
		inline bool
	}{{"on", true}, {"off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := migratedData(t)
			if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, pw+"\n", "user", "add", "ines", "--password-stdin"); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "1s", "GATEHOUSE_CLOCK_LEEWAY": "0s"}
			if tc.inline {
				env["GATEHOUSE_INLINE_REFRESH"] = "true"
			}
			srv := startChild(t, "127.0.0.1:0", data, env, "--demo")
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			base, _ := url.Parse(srv.base)
			do := func(method, path, body string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(method, srv.base+path, strings.NewReader(body))
				req.Header.Set("Origin", srv.base)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				for _, ck := range jar.Cookies(base) {
					if ck.Name == "XSRF-TOKEN" {
						req.Header.Set("X-XSRF-TOKEN", ck.Value)
					}
				}
				res, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				return res
			}
			if res := do("POST", "/auth/login", `{"username":"ines","password":"`+pw+`"}`); res.StatusCode != 200 {
				t.Fatalf("login: %d", res.StatusCode)
			}
			for _, call := range []struct{ method, path, body string }{
				{"GET", "/demo/api/me", ""},
				{"POST", "/demo/api/notes", `{"text":"written with an expired token"}`},
			} {
				time.Sleep(1500 * time.Millisecond) // the access token expires
				res := do(call.method, call.path, call.body)
				if !tc.inline {
					// The access cookie expired with its token: the guard sees
					// no credentials at all.
					if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
						t.Fatalf("%s %s without inline refresh: %d %q", call.method, call.path, res.StatusCode, res.Header.Get("WWW-Authenticate"))
					}
					continue
				}
				if res.StatusCode/100 != 2 {
					t.Fatalf("%s %s after expiry: %d, want success through in-line refresh", call.method, call.path, res.StatusCode)
				}
				var rotated bool
				for _, ck := range res.Cookies() {
					rotated = rotated || (ck.Name == "__Host-gh_at" && ck.Value != "")
				}
				if !rotated {
					t.Fatalf("%s %s: no new access cookie on the response", call.method, call.path)
				}
			}
		})
	}
}
