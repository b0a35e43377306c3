package authapi

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
)

// handleSession serves GET /auth/session: who the access token belongs
// to, and the live session it was issued for (a revoked session's token is
// refused although its signature is still good).
func (s *Server) handleSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok {
			return
		}
		roles := c.principal.Roles
		if roles == nil {
			roles = []string{}
		}
		edge.WriteJSON(w, http.StatusOK, grantView{
			User:                 userView{ID: c.principal.Subject, Username: c.principal.Username, Roles: roles},
			Session:              viewSession(c.session),
			AccessTokenExpiresAt: c.principal.ExpiresAt.UTC(),
		})
	})
}
