package authapi_test

import (
	"net/url"
	"testing"
)

// TestFormLogin: an HTML form (application/x-www-form-urlencoded) logs in
// exactly as JSON does, in either mode, and the form body obeys the same
// strict rules (unknown fields refused).
func TestFormLogin(t *testing.T) {
	g := newGH(t)
	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	ct := "application/x-www-form-urlencoded"
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
		wantCookie bool
	}{
		{"cookie mode", form("username", testUser, "password", testPassword), 200, "", true},
		{"bearer mode", form("username", testUser, "password", testPassword, "mode", "bearer"), 200, "", false},
		{"wrong password", form("username", testUser, "password", "not the password"), 401, "invalid_credentials", false},
		{"unknown field", form("username", testUser, "password", testPassword, "remember", "1"), 400, "unknown_field", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := g.browser()
			r := b.do("POST", "/auth/login", tt.body, "Content-Type", ct, "Origin", g.Origin)
			if r.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.wantStatus, r.Body)
			}
			if tt.wantCode != "" {
				if p := r.problem(t); p.Code != tt.wantCode {
					t.Fatalf("code %q, want %q", p.Code, tt.wantCode)
				}
			}
			if got := b.cookie("/", "__Host-gh_at") != ""; got != tt.wantCookie {
				t.Fatalf("access cookie set = %v, want %v", got, tt.wantCookie)
			}
			if tt.wantStatus == 200 && !tt.wantCookie {
				var tk tokens
				r.json(t, &tk)
				if tk.AccessToken == "" || tk.RefreshToken == "" || tk.TokenType != "Bearer" {
					t.Fatalf("token response: %s", r.Body)
				}
			}
		})
	}
}
