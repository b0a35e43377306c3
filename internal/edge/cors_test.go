package edge

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestCredentialFree: a cross-site script may call a path no cookie
// authenticates (a public client at the token endpoint) and read the
// answer, without credentials; every other path keeps the cross-origin
// defence and the allow-list, and the authorization endpoint answers no
// CORS at all.
func TestCredentialFree(t *testing.T) {
	pub, _ := url.Parse("https://id.example")
	e, err := New(Config{PublicURL: pub, CredentialFree: []string{"/oauth2/token"}, NoCORS: []string{"/oauth2/authorize"},
		AllowedOrigins: []string{"https://spa.example"}})
	if err != nil {
		t.Fatal(err)
	}
	h := e.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	for _, tt := range []struct {
		name, method, path string
		origin             string
		preflight          bool
		wantStatus         int
		wantACAO, wantACAC string
	}{
		{"cross-site POST to the token endpoint", http.MethodPost, "/oauth2/token", "", false, http.StatusOK, "*", ""},
		{"its preflight", http.MethodOptions, "/oauth2/token", "", true, http.StatusNoContent, "*", ""},
		{"cross-site POST elsewhere", http.MethodPost, "/auth/login", "", false, http.StatusForbidden, "", ""},
		{"a path that only starts like it", http.MethodPost, "/oauth2/token/x", "", false, http.StatusForbidden, "", ""},
		{"an allowed origin elsewhere", http.MethodGet, "/auth/session", "https://spa.example", false, http.StatusOK, "https://spa.example", "true"},
		{"an allowed origin at the authorization endpoint (RFC 9700 §2.6)", http.MethodGet, "/oauth2/authorize", "https://spa.example", false, http.StatusOK, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "https://id.example"+tt.path, nil)
			origin := tt.origin
			if origin == "" {
				origin = "https://evil.example"
			}
			r.Header.Set("Origin", origin)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			if tt.preflight {
				r.Header.Set("Access-Control-Request-Method", "POST")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || w.Header().Get("Access-Control-Allow-Origin") != tt.wantACAO ||
				w.Header().Get("Access-Control-Allow-Credentials") != tt.wantACAC {
				t.Fatalf("status %d ACAO %q ACAC %q, want %d %q %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"),
					w.Header().Get("Access-Control-Allow-Credentials"), tt.wantStatus, tt.wantACAO, tt.wantACAC)
			}
		})
	}
}
