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

	handle("/admin/users", map[string]http.Handler{
		http.MethodGet:  s.handleAdminListUsers(),
		http.MethodPost: s.handleAdminCreateUser(),
	})
	handle("/admin/users/{id}", map[string]http.Handler{
		http.MethodGet:    s.handleAdminGetUser(),
		http.MethodDelete: s.handleAdminDeleteUser(),
	})
	handle("/admin/users/{id}/disable", map[string]http.Handler{http.MethodPost: s.handleAdminSetDisabled(true)})
	handle("/admin/users/{id}/enable", map[string]http.Handler{http.MethodPost: s.handleAdminSetDisabled(false)})
	handle("/admin/users/{id}/roles", map[string]http.Handler{http.MethodPut: s.handleAdminSetRoles()})
	handle("/admin/users/{id}/password", map[string]http.Handler{http.MethodPost: s.handleAdminSetPassword()})
	handle("/admin/users/{id}/sessions", map[string]http.Handler{
		http.MethodGet:    s.handleAdminUserSessions(),
		http.MethodDelete: s.handleAdminForceLogout(),
	})
	handle("/admin/sessions", map[string]http.Handler{http.MethodGet: s.handleAdminListSessions()})
	handle("/admin/sessions/{id}", map[string]http.Handler{http.MethodDelete: s.handleAdminRevokeSession()})
	handle("/admin/audit", map[string]http.Handler{http.MethodGet: s.handleAdminAudit()})

	handle("/.well-known/jwks.json", map[string]http.Handler{http.MethodGet: s.handleJWKS()})
	handle("/healthz", map[string]http.Handler{http.MethodGet: s.handleHealth()})

	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no such endpoint")
	}))
	return mux
}
