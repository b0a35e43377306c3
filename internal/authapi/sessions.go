package authapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/edge"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// caller is an authenticated request whose session is still live.
type caller struct {
	authenticated
	session session.Session
}

// actor is the caller as the audit trail records an administrative act.
func (c caller) actor(s *Server, r *http.Request) session.Actor {
	return session.Actor{ID: c.principal.Subject, Client: s.client(r)}
}

// requireLive authenticates the request and insists that the session the
// access token was issued for is still live. A verified signature is not
// enough: an access token outlives the revocation of its session by up to
// its lifetime, and an ended session must stop working at once, not when
// its last token expires. Cookie-authenticated unsafe requests must also
// pass the double-submit CSRF check, since the browser attaches the cookie
// to any site's request. It writes the problem response itself and returns
// ok=false when the request may not go on.
func (s *Server) requireLive(w http.ResponseWriter, r *http.Request) (caller, bool) {
	a, ok := s.authenticate(w, r)
	if !ok {
		return caller{}, false
	}
	if a.viaCookie && !credential.SafeMethod(r.Method) && !s.csrfOK(r, a.jar, a.principal.SessionID) {
		csrfFailed(w)
		return caller{}, false
	}
	sess, err := s.engine.Live(r.Context(), a.principal.SessionID)
	if errors.Is(err, session.ErrSessionEnded) {
		sessionEnded(w)
		return caller{}, false
	}
	if err != nil {
		s.engineError(w, r, err)
		return caller{}, false
	}
	return caller{authenticated: a, session: sess}, true
}

// requireLiveWith decodes the request body into dst and then does
// requireLive: the order every authenticated endpoint with a body uses, so
// a malformed body is refused the same way whoever sends it.
func (s *Server) requireLiveWith(w http.ResponseWriter, r *http.Request, dst any) (caller, bool) {
	if _, ok := s.decodeOrProblem(w, r, dst); !ok {
		return caller{}, false
	}
	return s.requireLive(w, r)
}

// registrySessionView is a session as the session lists show it: the
// fields of sessionView plus what tells one device from another. Hashes
// (refresh token, CSRF), the last jti and the credential version stay
// inside: they are for the server to check, not for anyone to read.
type registrySessionView struct {
	sessionView
	Client    string `json:"client"`
	UserAgent string `json:"user_agent"`
}

func viewRegistrySession(s session.Session) registrySessionView {
	return registrySessionView{sessionView: viewSession(s), Client: s.ClientID, UserAgent: s.LastUserAgent}
}

// ownSessionView is one of the caller's sessions; Current marks the one
// the request came from, so a device list can say "this device".
type ownSessionView struct {
	registrySessionView
	Current bool `json:"current"`
}

// handleOwnSessions serves GET /auth/sessions: the caller's live sessions,
// newest first.
func (s *Server) handleOwnSessions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok {
			return
		}
		list, err := s.engine.OwnSessions(r.Context(), c.principal.Subject)
		if err != nil {
			s.engineError(w, r, err)
			return
		}
		out := make([]ownSessionView, len(list))
		for i, x := range list {
			out[i] = ownSessionView{registrySessionView: viewRegistrySession(x), Current: x.ID == c.session.ID}
		}
		edge.WriteJSON(w, http.StatusOK, map[string]any{"sessions": out})
	})
}

// handleRevokeOwnSession serves DELETE /auth/sessions/{id}: the caller
// signs one of its devices out. Another user's session id gets the same
// 404 as an unknown one (the engine sees to that), so ids cannot be
// probed. Ending the current session is a logout and clears the cookies.
func (s *Server) handleRevokeOwnSession() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.requireLive(w, r)
		if !ok || !s.noBody(w, r) {
			return
		}
		sid := r.PathValue("id")
		if _, err := s.engine.RevokeSession(r.Context(), c.actor(s, r), sid, c.principal.Subject); err != nil {
			s.engineError(w, r, err)
			return
		}
		if sid == c.session.ID {
			s.loggedOut(w)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// noBody refuses a request body on an endpoint that takes none, with the
// same strict decoder as every other body (an empty JSON object passes).
func (s *Server) noBody(w http.ResponseWriter, r *http.Request) bool {
	var none struct{}
	_, ok := s.decodeOrProblem(w, r, &none)
	return ok
}

// revokedView is the answer of a call that ends several sessions at once.
type revokedView struct {
	Revoked int `json:"revoked"`
}

// timePtr returns nil for the zero time, so that "not yet" is omitted
// rather than sent as year 1.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
