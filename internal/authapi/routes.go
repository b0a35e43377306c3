package authapi

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"

	"github.com/gatehouse-auth/gatehouse/web"
)

// route is one path of the API and its handler per method.
type route struct {
	path    string
	methods map[string]http.Handler
}

// routeTable lists the whole API in one place. docs/openapi.yaml documents
// exactly these paths and methods; a test keeps the two in step.
func (s *Server) routeTable() []route {
	one := func(method string, h http.Handler) map[string]http.Handler { return map[string]http.Handler{method: h} }
	return []route{
		{"/auth/login", one(http.MethodPost, s.handleLogin())},
		{"/auth/refresh", one(http.MethodPost, s.handleRefresh())},
		{"/auth/logout", one(http.MethodPost, s.handleLogout())},
		{"/auth/logout-all", one(http.MethodPost, s.handleLogoutAll())},
		{"/auth/session", one(http.MethodGet, s.handleSession())},
		{"/auth/password", one(http.MethodPost, s.handleChangePassword())},
		{"/auth/sessions", one(http.MethodGet, s.handleOwnSessions())},
		{"/auth/sessions/{id}", one(http.MethodDelete, s.handleRevokeOwnSession())},
		{"/auth/consents", one(http.MethodGet, s.handleOwnConsents())},
		{"/auth/consents/{client_id}", one(http.MethodDelete, s.handleRevokeOwnConsent())},
		{revocationsPath, one(http.MethodGet, s.handleRevocations())},

		{"/admin/users", map[string]http.Handler{
			http.MethodGet:  s.handleAdminListUsers(),
			http.MethodPost: s.handleAdminCreateUser(),
		}},
		{"/admin/users/{id}", map[string]http.Handler{
			http.MethodGet:    s.handleAdminGetUser(),
			http.MethodDelete: s.handleAdminDeleteUser(),
		}},
		{"/admin/users/{id}/disable", one(http.MethodPost, s.handleAdminSetDisabled(true))},
		{"/admin/users/{id}/enable", one(http.MethodPost, s.handleAdminSetDisabled(false))},
		{"/admin/users/{id}/roles", one(http.MethodPut, s.handleAdminSetRoles())},
		{"/admin/users/{id}/password", one(http.MethodPost, s.handleAdminSetPassword())},
		{"/admin/users/{id}/sessions", map[string]http.Handler{
			http.MethodGet:    s.handleAdminUserSessions(),
			http.MethodDelete: s.handleAdminForceLogout(),
		}},
		{"/admin/sessions", one(http.MethodGet, s.handleAdminListSessions())},
		{"/admin/sessions/{id}", one(http.MethodDelete, s.handleAdminRevokeSession())},
		{"/admin/audit", one(http.MethodGet, s.handleAdminAudit())},

		{"/admin/clients", map[string]http.Handler{
			http.MethodGet:  s.handleAdminListClients(),
			http.MethodPost: s.handleAdminCreateClient(),
		}},
		{"/admin/clients/{id}", map[string]http.Handler{
			http.MethodGet:    s.handleAdminGetClient(),
			http.MethodDelete: s.handleAdminDeleteClient(),
		}},
		{"/admin/clients/{id}/secret", one(http.MethodPost, s.handleAdminRotateClientSecret())},

		{"/.well-known/jwks.json", one(http.MethodGet, s.handleJWKS())},
		{"/healthz", one(http.MethodGet, s.handleHealth())},
		{"/readyz", one(http.MethodGet, s.handleReady())},
		{"/openapi.json", one(http.MethodGet, s.handleOpenAPI())},
		{"/gatehouse.js", one(http.MethodGet, web.ClientHandler())},
	}
}

// Register mounts the route table on mux. Any other method on a known
// path gets 405 with Allow, as problem+json (ServeMux's own 405 is plain
// text).
func (s *Server) Register(mux *http.ServeMux) {
	for _, rt := range s.routeTable() {
		allow := make([]string, 0, len(rt.methods)+1)
		for m, h := range rt.methods {
			mux.Handle(m+" "+rt.path, h)
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow) // map order is random; the Allow header is not
		mux.Handle(rt.path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			edge.WriteProblem(w, http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed, r.Method+" is not allowed here")
		}))
	}
}
