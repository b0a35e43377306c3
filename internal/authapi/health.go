package authapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// handleHealth serves GET /healthz: the process answers.
func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		edge.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readiness says what keeps the server from serving (*app.App): nothing
// when it is ready.
type Readiness interface {
	NotReady(ctx context.Context) []string
}

// readyBound bounds the readiness checks: a database that does not answer
// within it is not ready.
const readyBound = 2 * time.Second

// handleReady serves GET /readyz: 200 when the server can serve (the
// database answers within a bound and is migrated, the keys are loaded,
// the revocation feed is live), else 503 not_ready naming what is not. A
// load balancer sends traffic only to a ready node; /healthz says only
// that the process answers.
func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyBound)
			defer cancel()
			if not := s.ready.NotReady(ctx); len(not) > 0 {
				w.Header().Set("Retry-After", "5")
				edge.WriteProblem(w, http.StatusServiceUnavailable, problem.CodeNotReady, "not ready: "+strings.Join(not, "; "))
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		edge.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
