package authapi

import (
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	// Mode is "cookie" (default) or "bearer".
	Mode string `json:"mode"`
}

// handleLogin serves POST /auth/login.
func (s *Server) handleLogin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		empty, ok := s.decodeOrProblem(w, r, &req)
		if !ok {
			return
		}
		if empty {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, "username and password are required")
			return
		}
		bearer := false
		switch req.Mode {
		case "", "cookie":
		case "bearer":
			bearer = true
		default:
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, `mode must be "cookie" or "bearer"`)
			return
		}
		if code, detail := s.loginOriginCheck(r, bearer); code != "" {
			edge.WriteProblem(w, http.StatusForbidden, code, detail)
			return
		}
		if req.Username == "" || req.Password == "" {
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, "username and password are required")
			return
		}
		g, err := s.engine.Login(r.Context(), req.Username, req.Password, s.client(r))
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		if !bearer {
			s.endReplacedSession(r, g.Session.ID)
		}
		s.respondGrant(w, g, bearer)
	})
}

// endReplacedSession ends the session a browser held before it logged in
// again (ASVS 7.2.4): the new cookies replace the old ones, so the old
// session would otherwise stay live, unseen and unused, until it timed
// out. It is identified by the browser's refresh cookie; a cookie that is
// unknown, already ended or duplicated is simply ignored, and a failure
// does not fail the login.
func (s *Server) endReplacedSession(r *http.Request, newID string) {
	j, err := sessionCookies(r)
	if err != nil || j.Refresh == "" {
		return
	}
	old, err := s.engine.SessionOfRefreshToken(r.Context(), j.Refresh)
	if err != nil || old.ID == newID {
		return
	}
	if err := s.engine.Logout(r.Context(), old, s.client(r)); err != nil {
		s.log.Warn("ending the session a new login replaced failed", "session_id", old.ID, "err", err)
	}
}

// loginOriginCheck is the login-CSRF defence: a browser's login must come
// from an allowed origin, or an attacker's page could log the victim into
// the attacker's account. The Origin header decides; Referer stands in
// when Origin is absent.
//
// A request with neither is let through only in bearer mode, and only when
// it is not a browser's. What tells a browser is what browsers send: every
// current one attaches Origin to a POST and Sec-Fetch-Site to every
// request (Fetch Metadata, W3C; Chromium 76, Firefox 90, Safari 16.4), and
// Sec-Fetch-Site is the header a page cannot suppress. Sec-Fetch-Mode alone
// does not: Node's built-in fetch (undici) sends "Sec-Fetch-Mode: cors" on
// every request and nothing else of Fetch Metadata. Such a client receives
// tokens in the body and no cookie, so it cannot plant a session in anyone's
// browser.
func (s *Server) loginOriginCheck(r *http.Request, bearer bool) (code, detail string) {
	if o := r.Header.Get("Origin"); o != "" {
		if !s.edge.Trusted(o) {
			return problem.CodeForbiddenOrigin, "login is not allowed from this origin"
		}
		return "", ""
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err != nil || !s.edge.Trusted(u.Scheme+"://"+u.Host) {
			return problem.CodeForbiddenOrigin, "login is not allowed from this origin"
		}
		return "", ""
	}
	if bearer && r.Header.Get("Sec-Fetch-Site") == "" {
		return "", ""
	}
	return problem.CodeForbiddenOrigin, "login needs an Origin or Referer header from an allowed origin"
}
