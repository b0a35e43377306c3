package edge

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// securityHeaders sets the headers every response carries.
func (e *Edge) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if e.OverTLS(r) {
			// One year, as ASVS 3.4.1 asks; subdomains too, so that no
			// sibling can be reached over plain HTTP to plant cookies.
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		// Answers that describe accounts and sessions: no shared or
		// browser cache may keep them.
		if e.noStore(r.URL.Path) {
			hd.Set("Cache-Control", "no-store")
			hd.Set("Pragma", "no-cache")
		}
		h.ServeHTTP(w, r)
	})
}

// refuseTrace answers TRACE and TRACK with 405: echoing a request back can
// expose its httpOnly cookies to a script (cross-site tracing).
func refuseTrace(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "TRACE" || r.Method == "TRACK" {
			w.Header().Set("Allow", "GET, HEAD, POST")
			WriteProblem(w, http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed, r.Method+" is not allowed")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limitHeaders refuses header blocks over the configured size with a
// problem body (the listener's own, larger, limit answers in plain text).
func (e *Edge) limitHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.Method) + len(r.RequestURI)
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > e.cfg.MaxHeaderBytes {
			WriteProblem(w, http.StatusRequestHeaderFieldsTooLarge, problem.CodeHeadersTooLarge, "request headers are larger than the limit")
			return
		}
		h.ServeHTTP(w, r)
	})
}
