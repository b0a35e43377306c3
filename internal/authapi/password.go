package authapi

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handleChangePassword serves POST /auth/password: the signed-in user
// changes their own password. The engine checks the current password,
// ends every session of the user and opens a new one for this device,
// which is answered like a login in the mode the caller used: new cookies
// for a cookie caller, a token response for a bearer caller.
func (s *Server) handleChangePassword() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req changePasswordRequest
		c, ok := s.requireLiveWith(w, r, &req)
		if !ok {
			return
		}
		if req.CurrentPassword == "" || req.NewPassword == "" {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, "current_password and new_password are required")
			return
		}
		g, err := s.engine.ChangePassword(r.Context(), c.principal.Subject, req.CurrentPassword, req.NewPassword, s.client(r))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.respondGrant(w, g, !c.viaCookie)
	})
}
