package server

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// Response shapes.
type userView struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
}

type sessionView struct {
	ID         string    `json:"id"`
	AuthTime   time.Time `json:"auth_time"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Device     string    `json:"device"`
	IP         string    `json:"ip"`
}

type grantView struct {
	User                 userView    `json:"user"`
	Session              sessionView `json:"session"`
	AccessTokenExpiresAt time.Time   `json:"access_token_expires_at"`
}

// tokenResponse has the shape of RFC 6749 §5.1's successful token
// response. The first-party API is not an OAuth 2.0 token endpoint (its
// errors are problem+json; docs/api.md says why).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

func viewSession(s store.Session) sessionView {
	return sessionView{ID: s.ID, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
		ExpiresAt: s.ExpiresAt, Device: s.Device, IP: s.LastIP}
}

func viewUser(u store.User) userView {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return userView{ID: u.ID, Username: u.Username, Roles: roles}
}

// respondGrant sends a login or refresh result: cookies and a JSON body
// without tokens in cookie mode, an RFC 6749 token response in bearer mode.
func (s *Server) respondGrant(w http.ResponseWriter, g *session.Grant, bearer bool) {
	now := s.clock.Now()
	if bearer {
		writeJSON(w, http.StatusOK, tokenResponse{AccessToken: g.AccessToken, TokenType: "Bearer",
			ExpiresIn: max(0, int(g.AccessExpiresAt.Sub(now)/time.Second)), RefreshToken: g.RefreshToken})
		return
	}
	s.setSessionCookies(w, g, now)
	writeJSON(w, http.StatusOK, grantView{User: viewUser(g.User), Session: viewSession(g.Session),
		AccessTokenExpiresAt: g.AccessExpiresAt})
}

func (s *Server) client(r *http.Request) session.Client {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return session.Client{IP: s.clientIP(r), UserAgent: ua}
}

// engineError maps an engine error to its response.
func (s *Server) engineError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, session.ErrInvalidCredentials):
		writeProblem(w, http.StatusUnauthorized, CodeInvalidCredentials, "invalid username or password")
	case errors.Is(err, session.ErrInvalidInput):
		writeProblem(w, http.StatusBadRequest, CodeBadRequest, strings.TrimPrefix(err.Error(), "session: invalid input: "))
	case errors.Is(err, session.ErrInvalidRefreshToken):
		writeProblem(w, http.StatusUnauthorized, CodeInvalidRefreshToken, "refresh token is not valid")
	case errors.Is(err, session.ErrSessionEnded):
		writeProblem(w, http.StatusUnauthorized, CodeSessionEnded, "the session has ended; log in again")
	case errors.Is(err, guard.ErrFeedDown):
		revocationsUnavailable(w)
	case errors.Is(err, session.ErrRefreshReuse):
		writeProblem(w, http.StatusUnauthorized, CodeRefreshReused, "refresh token was already used; the session has been ended")
	case errors.Is(err, session.ErrRateLimited):
		var rl *session.RateLimitError
		retry := time.Second
		if errors.As(err, &rl) {
			retry = rl.RetryAfter
		}
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
		writeProblem(w, http.StatusTooManyRequests, CodeRateLimited, "too many login attempts; retry later")
	case errors.Is(err, session.ErrBusy):
		w.Header().Set("Retry-After", "2")
		writeProblem(w, http.StatusServiceUnavailable, CodeUnavailable, "the server is busy; retry shortly")
	case errors.Is(err, session.ErrUserNotFound):
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no such user")
	case errors.Is(err, session.ErrSessionNotFound):
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no such session")
	case errors.Is(err, session.ErrUserExists):
		writeProblem(w, http.StatusConflict, CodeConflict, "a user with this username exists")
	case errors.Is(err, store.ErrUnavailable):
		// The database is down or restarting: a transient condition
		// the client should retry, not a fault of the request or ours.
		// Logged at most once a second, so an outage under load does
		// not drown the log (the access log still counts every 503).
		if now := time.Now().Unix(); s.unavailableLogged.Swap(now) != now {
			s.log.Warn("database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, CodeUnavailable, "the database cannot be reached; retry shortly")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, CodeUnavailable, "the request took too long")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, http.StatusInternalServerError, CodeInternal, "")
	}
}

func (s *Server) decodeOrProblem(w http.ResponseWriter, r *http.Request, dst any) (empty, ok bool) {
	empty, err := decode(w, r, s.cfg.MaxBodyBytes, dst)
	var de *decodeError
	if errors.As(err, &de) {
		writeProblem(w, de.status, de.code, de.detail)
		return false, false
	}
	return empty, true
}

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
			writeProblem(w, http.StatusBadRequest, CodeBadRequest, "username and password are required")
			return
		}
		bearer := false
		switch req.Mode {
		case "", "cookie":
		case "bearer":
			bearer = true
		default:
			writeProblem(w, http.StatusBadRequest, CodeBadRequest, `mode must be "cookie" or "bearer"`)
			return
		}
		if code, detail := s.loginOriginCheck(r, bearer); code != "" {
			writeProblem(w, http.StatusForbidden, code, detail)
			return
		}
		if req.Username == "" || req.Password == "" {
			writeProblem(w, http.StatusBadRequest, CodeBadRequest, "username and password are required")
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
		if !s.origins[o] {
			return CodeForbiddenOrigin, "login is not allowed from this origin"
		}
		return "", ""
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err != nil || !s.origins[u.Scheme+"://"+u.Host] {
			return CodeForbiddenOrigin, "login is not allowed from this origin"
		}
		return "", ""
	}
	if bearer && r.Header.Get("Sec-Fetch-Site") == "" {
		return "", ""
	}
	return CodeForbiddenOrigin, "login needs an Origin or Referer header from an allowed origin"
}

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
			writeProblem(w, http.StatusBadRequest, CodeBadRequest, `grant_type must be "refresh_token"`)
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
			writeProblem(w, http.StatusBadRequest, CodeDuplicateCookie, err.Error())
			return
		}
		rt := j.Refresh
		if rt == "" {
			writeProblem(w, http.StatusUnauthorized, CodeInvalidRefreshToken, "no refresh token")
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

// authenticated is a verified access token and how it arrived. The
// principal may be shared with other requests (the guard's cache): read it,
// never change it.
type authenticated struct {
	principal *guard.Principal
	viaCookie bool
	// jar holds the session cookies of a cookie-borne request, for its
	// CSRF check.
	jar credential.Jar
}

// authenticate reads and verifies the access token from the Authorization
// header or, failing that, the access cookie. It writes the problem
// response itself and returns ok=false when the request is not
// authenticated.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (authenticated, bool) {
	raw, present, err := credential.Bearer(r)
	if err != nil {
		malformedAuthorization(w)
		return authenticated{}, false
	}
	var jar credential.Jar
	viaCookie := !present
	if viaCookie {
		if jar, err = sessionCookies(r); err != nil {
			writeProblem(w, http.StatusBadRequest, CodeDuplicateCookie, err.Error())
			return authenticated{}, false
		}
		raw = jar.Access
	}
	if raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		writeProblem(w, http.StatusUnauthorized, CodeInvalidToken, "no access token")
		return authenticated{}, false
	}
	p, err := s.verifier.Verify(r.Context(), raw)
	switch {
	case err == nil:
		return authenticated{principal: p, viaCookie: viaCookie, jar: jar}, true
	case errors.Is(err, guard.ErrRevoked):
		// The guard's revocation set already knows the session ended: the
		// same answer the database check in requireLive gives, one read
		// sooner.
		sessionEnded(w)
	case errors.Is(err, guard.ErrFeedDown):
		// The token may well be good; the revocation set cannot be trusted
		// just now. A 401 would send the client to refresh, which cannot
		// help; 503 asks it to retry.
		revocationsUnavailable(w)
	case errors.Is(err, store.ErrUnavailable):
		// The keyring had to reread the signing keys (its reload
		// interval passed, or the kid is new) and the database is out of
		// reach: the token is not known to be bad, and a 401 would send
		// the client to refresh or to log in again for nothing.
		s.engineError(w, r, err)
	default:
		detail := "access token is not valid"
		if errors.Is(err, guard.ErrExpired) {
			detail = "access token has expired"
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+detail+`"`)
		writeProblem(w, http.StatusUnauthorized, CodeInvalidToken, detail)
	}
	return authenticated{}, false
}

// malformedAuthorization answers a request whose Authorization header is
// not one Bearer token: 400 invalid_request with its challenge (RFC 6750
// §3.1), as the guard answers it. It is never read past for the cookies.
func malformedAuthorization(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
	writeProblem(w, http.StatusBadRequest, CodeBadRequest, credential.ErrMalformedAuthorization.Error())
}

// sessionEnded answers a request whose access token belongs to an ended
// session: the RFC 6750 invalid_token challenge, and the problem code
// session_ended, which tells the client that refreshing will not help.
func sessionEnded(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="session ended"`)
	writeProblem(w, http.StatusUnauthorized, CodeSessionEnded, "the session has ended; log in again")
}

// revocationsUnavailable answers a request the guard refused because its
// revocation set has not heard from the revocation feed for too long
// (guard.ErrFeedDown): it fails closed, so a revocation it has not heard
// of cannot let a token through.
func revocationsUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	writeProblem(w, http.StatusServiceUnavailable, CodeUnavailable, "revocations cannot be checked right now; retry shortly")
}

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
		writeJSON(w, http.StatusOK, grantView{
			User:                 userView{ID: c.principal.Subject, Username: c.principal.Username, Roles: roles},
			Session:              viewSession(c.session),
			AccessTokenExpiresAt: c.principal.ExpiresAt.UTC(),
		})
	})
}

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
				writeProblem(w, http.StatusBadRequest, CodeDuplicateCookie, err.Error())
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
func (s *Server) sessionForLogout(r *http.Request, req logoutRequest) (store.Session, *credential.Jar, error) {
	tok, present, err := credential.Bearer(r)
	if err != nil {
		return store.Session{}, nil, err
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
			return store.Session{}, nil, err
		}
		return store.Session{}, nil, session.ErrSessionEnded
	}
	j, err := sessionCookies(r)
	if err != nil {
		return store.Session{}, nil, err
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
			return store.Session{}, &j, feedDown
		}
		return store.Session{}, &j, session.ErrSessionEnded
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
			writeJSON(w, http.StatusOK, revokedView{Revoked: n})
			return
		}
		s.loggedOut(w)
	})
}

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
		writeJSON(w, http.StatusOK, set)
	})
}

func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func csrfFailed(w http.ResponseWriter) {
	writeProblem(w, http.StatusForbidden, CodeCSRF, "missing or invalid "+HeaderCSRF+" header")
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
