package authapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// engineError maps an engine error to its response.
func (s *Server) engineError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, session.ErrInvalidCredentials):
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidCredentials, "invalid username or password")
	case errors.Is(err, session.ErrInvalidInput):
		edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, strings.TrimPrefix(err.Error(), "session: invalid input: "))
	case errors.Is(err, session.ErrInvalidRefreshToken):
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidRefreshToken, "refresh token is not valid")
	case errors.Is(err, session.ErrSessionEnded):
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeSessionEnded, "the session has ended; log in again")
	case errors.Is(err, guard.ErrFeedDown):
		revocationsUnavailable(w)
	case errors.Is(err, session.ErrRefreshReuse):
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeRefreshReused, "refresh token was already used; the session has been ended")
	case errors.Is(err, session.ErrRateLimited):
		var rl *session.RateLimitError
		retry := time.Second
		if errors.As(err, &rl) {
			retry = rl.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
		edge.WriteProblem(w, http.StatusTooManyRequests, problem.CodeRateLimited, "too many login attempts; retry later")
	case errors.Is(err, session.ErrBusy):
		w.Header().Set("Retry-After", "2")
		edge.WriteProblem(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "the server is busy; retry shortly")
	case errors.Is(err, session.ErrUserNotFound):
		edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no such user")
	case errors.Is(err, provider.ErrInvalidMetadata):
		edge.WriteProblem(w, http.StatusBadRequest, problem.CodeInvalidMetadata, strings.TrimPrefix(err.Error(), "provider: invalid client metadata: "))
	case errors.Is(err, provider.ErrNoConsent):
		edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no consent to this client")
	case errors.Is(err, provider.ErrUnknownClient):
		edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no such client")
	case errors.Is(err, provider.ErrKeyClient):
		edge.WriteProblem(w, http.StatusConflict, problem.CodeConflict, "the client authenticates with its keys (private_key_jwt): it has no secret")
	case errors.Is(err, provider.ErrPublicClient):
		edge.WriteProblem(w, http.StatusConflict, problem.CodeConflict, "the client is public: it has no secret")
	case errors.Is(err, session.ErrSessionNotFound):
		edge.WriteProblem(w, http.StatusNotFound, problem.CodeNotFound, "no such session")
	case errors.Is(err, session.ErrUserExists):
		edge.WriteProblem(w, http.StatusConflict, problem.CodeConflict, "a user with this username exists")
	case errors.Is(err, session.ErrUnavailable):
		// The database is down or restarting: a transient condition
		// the client should retry, not a fault of the request or ours.
		// Logged at most once a second, so an outage under load does
		// not drown the log (the access log still counts every 503).
		if now := time.Now().Unix(); s.unavailableLogged.Swap(now) != now {
			s.log.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Retry-After", "1")
		edge.WriteProblem(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "the database cannot be reached; retry shortly")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		w.Header().Set("Retry-After", "1")
		edge.WriteProblem(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "the request took too long")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		edge.WriteProblem(w, http.StatusInternalServerError, problem.CodeInternal, "")
	}
}

func (s *Server) decodeOrProblem(w http.ResponseWriter, r *http.Request, dst any) (empty, ok bool) {
	return s.edge.Decode(w, r, dst)
}
