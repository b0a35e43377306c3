package authapi

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
	// GrantType may be given as in RFC 6749 §6; only refresh_token is valid.
	GrantType string `json:"grant_type"`
}

// handleRefresh serves POST /auth/refresh: bearer mode when the body has
// a refresh_token, cookie mode (with the CSRF check) otherwise.
func (s *Server) handleRefresh() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req refreshRequest
		if _, ok := s.decodeOrProblem(w, r, &req); !ok {
			return
		}
		if req.GrantType != "" && req.GrantType != "refresh_token" {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, `grant_type must be "refresh_token"`)
			return
		}
		if req.RefreshToken != "" {
			g, err := s.engine.Refresh(r.Context(), req.RefreshToken, s.client(r))
			if err != nil {
				s.engineError(w, r, err)
				return
			}
			s.respondGrant(w, g, true)
			return
		}

		j, err := sessionCookies(r)
		if err != nil {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeDuplicateCookie, err.Error())
			return
		}
		rt := j.Refresh
		if rt == "" {
			edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidRefreshToken, "no refresh token")
			return
		}
		sess, err := s.engine.SessionOfRefreshToken(r.Context(), rt)
		if err != nil {
			if !errors.Is(err, session.ErrSessionEnded) && !errors.Is(err, session.ErrInvalidRefreshToken) {
				s.engineError(w, r, err)
				return
			}
			// The refresh itself decides and reports ended, reused or unknown
			// tokens; an unknown token has no session to bind CSRF to.
		} else if !s.csrfOK(r, j, sess.ID) {
			csrfFailed(w)
			return
		}
		g, err := s.cookieRefresh(w, r, rt)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		s.respondGrant(w, g, false)
	})
}

// cookieRefresh rotates the refresh cookie's token. A refusal that will
// never turn into success (an ended session, reuse, an unknown token)
// expires the cookies, so the browser stops presenting them.
func (s *Server) cookieRefresh(w http.ResponseWriter, r *http.Request, rt string) (*session.Grant, error) {
	g, err := s.engine.Refresh(r.Context(), rt, s.client(r))
	if errors.Is(err, session.ErrSessionEnded) || errors.Is(err, session.ErrRefreshReuse) ||
		errors.Is(err, session.ErrInvalidRefreshToken) {
		s.clearSessionCookies(w)
	}
	return g, err
}
