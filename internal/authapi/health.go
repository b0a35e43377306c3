package authapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-auth/gatehouse/docs"
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

// openAPIJSON is the OpenAPI description as JSON, converted once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(docs.OpenAPI, &doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
})

// handleOpenAPI serves GET /openapi.json: the OpenAPI 3.1 description of
// this server's API and provider (docs/openapi.yaml), as JSON, for client
// generators and API explorers.
func (s *Server) handleOpenAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := openAPIJSON()
		if err != nil {
			s.log.Error("the embedded OpenAPI description does not parse", "err", err)
			edge.WriteProblem(w, http.StatusInternalServerError, problem.CodeInternal, "the API description is unavailable")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(b) // the status is sent: nothing to report a failure to
	})
}
