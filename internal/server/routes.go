package server

import (
	"net/http"
	"slices"
	"strings"
)

// routes lists the whole API in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, methods map[string]http.Handler) {
		allow := make([]string, 0, len(methods))
		for m, h := range methods {
			mux.Handle(m+" "+path, h)
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow) // map order is random; the Allow header is not
		// Any other method on a known path: 405 with Allow, as problem+json
		// (ServeMux's own 405 is plain text).
		mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed here")
		}))
	}

	handle("/auth/login", map[string]http.Handler{http.MethodPost: s.handleLogin()})
	handle("/auth/refresh", map[string]http.Handler{http.MethodPost: s.handleRefresh()})
	handle("/auth/logout", map[string]http.Handler{http.MethodPost: s.handleLogout()})
	handle("/auth/logout-all", map[string]http.Handler{http.MethodPost: s.handleLogoutAll()})
	handle("/auth/session", map[string]http.Handler{http.MethodGet: s.handleSession()})
	handle("/auth/sessions", map[string]http.Handler{http.MethodGet: s.handleOwnSessions()})
	handle("/auth/sessions/{id}", map[string]http.Handler{http.MethodDelete: s.handleRevokeOwnSession()})

	handle("/.well-known/jwks.json", map[string]http.Handler{http.MethodGet: s.handleJWKS()})
	handle("/healthz", map[string]http.Handler{http.MethodGet: s.handleHealth()})

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	}))
	return mux
}
