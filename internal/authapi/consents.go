package authapi

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
)

// handleOwnConsents serves GET /auth/consents: the applications the
// caller has let act for them at the provider, and with what scopes.
func (s *Server) handleOwnConsents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok {
			return
		}
		list, err := s.clients.Consents(r.Context(), c.principal.Subject)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		edge.WriteJSON(w, http.StatusOK, map[string]any{"consents": list})
	})
}

// handleRevokeOwnConsent serves DELETE /auth/consents/{client_id}: the
// caller withdraws an application's consent, which ends the caller's
// sessions with it (the provider's consent page shows again next time).
func (s *Server) handleRevokeOwnConsent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok || !s.noBody(w, r) {
			return
		}
		if err := s.clients.RevokeConsent(r.Context(), c.actor(s, r), c.principal.Subject, r.PathValue("client_id")); err != nil {
			s.engineError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
