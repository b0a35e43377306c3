package authapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
)

// handleJWKS serves the published public keys.
func (s *Server) handleJWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := s.keys.JWKS(r.Context())
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cfg.JWKSMaxAge/time.Second)))
		w.Header().Set("Content-Type", "application/jwk-set+json")
		edge.WriteJSON(w, http.StatusOK, set)
	})
}
