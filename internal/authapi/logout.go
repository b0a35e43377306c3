package authapi

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

type logoutRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// handleLogout serves POST /auth/logout. It ends the session identified by
// the access token, or by the refresh token when the access token has
// expired, and always clears the cookies; logging out twice is not an error.
func (s *Server) handleLogout() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req logoutRequest
		if _, ok := s.decodeOrProblem(w, r, &req); !ok {
			return
		}
		sess, jar, err := s.sessionForLogout(r, req)
		if err != nil {
			var dup *credential.DuplicateCookieError
			if errors.As(err, &dup) {
				edge.WriteProblem(w, http.StatusBadRequest, problem.CodeDuplicateCookie, err.Error())
				return
			}
			if errors.Is(err, credential.ErrMalformedAuthorization) {
				malformedAuthorization(w)
				return
			}
			if !errors.Is(err, session.ErrSessionEnded) && !errors.Is(err, session.ErrInvalidRefreshToken) {
				s.engineError(w, r, err)
				return
			}
		}
		if sess.ID != "" {
			if jar != nil && !s.csrfOK(r, *jar, sess.ID) {
				csrfFailed(w)
				return
			}
			if err := s.engine.Logout(r.Context(), sess, s.client(r)); err != nil {
				s.engineError(w, r, err)
				return
			}
		}
		s.loggedOut(w)
	})
}

// sessionForLogout finds the session a logout ends: the one of the body's
// refresh token, else of the Authorization header's access token, else of
// the cookies (the access cookie, or the refresh cookie once that has
// expired). jar is non-nil when the cookies named it, and the request then
// needs the CSRF check. A malformed Authorization header is refused
// whatever else the request carries: answering "logged out" while the
// session its cookies name lives on would be a lie.
func (s *Server) sessionForLogout(r *http.Request, req logoutRequest) (session.Session, *credential.Jar, error) {
	tok, present, err := credential.Bearer(r)
	if err != nil {
		return session.Session{}, nil, err
	}
	if req.RefreshToken != "" {
		sess, err := s.engine.SessionOfRefreshToken(r.Context(), req.RefreshToken)
		return sess, nil, err
	}
	// A token the guard refuses has no session to end, so logging out with
	// it is a no-op, except when the guard could not check revocations
	// (guard.ErrFeedDown): then the token may be good and the session
	// live, and answering "logged out" would be a lie.
	if present {
		c, err := s.verifier.Verify(r.Context(), tok)
		if err == nil {
			sess, err := s.engine.Live(r.Context(), c.SessionID)
			return sess, nil, err
		}
		if errors.Is(err, guard.ErrFeedDown) {
			return session.Session{}, nil, err
		}
		return session.Session{}, nil, session.ErrSessionEnded
	}
	j, err := sessionCookies(r)
	if err != nil {
		return session.Session{}, nil, err
	}
	var feedDown error
	if j.Access != "" {
		c, err := s.verifier.Verify(r.Context(), j.Access)
		if err == nil {
			sess, err := s.engine.Live(r.Context(), c.SessionID)
			return sess, &j, err
		}
		if errors.Is(err, guard.ErrFeedDown) {
			feedDown = err
		}
	}
	// The refresh cookie finds the session without the guard.
	if j.Refresh == "" {
		if feedDown != nil {
			return session.Session{}, &j, feedDown
		}
		return session.Session{}, &j, session.ErrSessionEnded
	}
	sess, err := s.engine.SessionOfRefreshToken(r.Context(), j.Refresh)
	return sess, &j, err
}

// logoutAllRequest is the optional body of POST /auth/logout-all.
type logoutAllRequest struct {
	// KeepCurrent ends every session but the caller's own ("sign out my
	// other devices").
	KeepCurrent bool `json:"keep_current"`
}

// handleLogoutAll serves POST /auth/logout-all: every session of the user
// ends, this one included (204, cookies cleared), or with keep_current
// every other one (200 with how many ended; the caller stays signed in, so
// its cookies are left alone).
func (s *Server) handleLogoutAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req logoutAllRequest
		c, ok := s.requireLiveWith(w, r, &req)
		if !ok {
			return
		}
		keep := ""
		if req.KeepCurrent {
			keep = c.session.ID
		}
		n, err := s.engine.LogoutAll(r.Context(), c.principal.Subject, keep, s.client(r))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		if req.KeepCurrent {
			edge.WriteJSON(w, http.StatusOK, revokedView{Revoked: n})
			return
		}
		s.loggedOut(w)
	})
}

// loggedOut ends a logout response: Gatehouse's cookies are expired by
// name, and only with LogoutClearSiteData does Clear-Site-Data (W3C Clear
// Site Data §3.1) ask the browser to drop every cookie of the site.
func (s *Server) loggedOut(w http.ResponseWriter) {
	s.clearSessionCookies(w)
	if s.cfg.LogoutClearSiteData {
		w.Header().Set("Clear-Site-Data", `"cookies"`)
	}
	w.WriteHeader(http.StatusNoContent)
}
