package bff

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// writeProblem answers with an RFC 9457 problem body and a stable code.
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}

// writeOAuthError answers the provider's back-channel request with an
// RFC 6749 style error (Back-Channel Logout 1.0 §2.8).
func writeOAuthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: nothing to report a failure to
}

// securityHeaders sets what every answer of the BFF's own carries; the
// upstreams' answers pass through with theirs.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
