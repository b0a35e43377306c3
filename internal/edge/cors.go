package edge

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
)

// cors lets the allowed origins make credentialed calls from the browser.
// The allowed origin is echoed exactly, never a wildcard (ASVS 3.4.2).
func (e *Edge) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if o != "" && e.free[r.URL.Path] {
			credentialFree(w, r, h)
			return
		}
		if o == "" || !e.origins[o] || e.noCORS[r.URL.Path] {
			h.ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		// A cross-origin script sees only CORS-safelisted response headers
		// unless told otherwise; these two say when to retry (429, 503) and
		// why a token was refused (RFC 6750 §3).
		hd.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+credential.HeaderCSRF)
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// credentialFree answers CORS for a path no cookie authenticates: any
// origin, no credentials (the browser then sends no cookies and lets the
// script read no cookie-bound answer), the Authorization header allowed
// for client credentials and Bearer tokens.
func credentialFree(w http.ResponseWriter, r *http.Request, h http.Handler) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hd.Set("Access-Control-Allow-Methods", "GET, POST")
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		hd.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.ServeHTTP(w, r)
}
