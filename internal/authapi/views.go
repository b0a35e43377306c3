package authapi

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// The JSON shapes of the first-party API's answers, and the one writer
// of a login or refresh result.

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

func viewSession(s session.Session) sessionView {
	return sessionView{ID: s.ID, AuthTime: s.AuthTime, CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt,
		ExpiresAt: s.ExpiresAt, Device: s.Device, IP: s.LastIP}
}

func viewUser(u session.User) userView {
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
		edge.WriteJSON(w, http.StatusOK, tokenResponse{AccessToken: g.AccessToken, TokenType: "Bearer",
			ExpiresIn: max(0, int(g.AccessExpiresAt.Sub(now)/time.Second)), RefreshToken: g.RefreshToken})
		return
	}
	s.setSessionCookies(w, g, now)
	edge.WriteJSON(w, http.StatusOK, grantView{User: viewUser(g.User), Session: viewSession(g.Session),
		AccessTokenExpiresAt: g.AccessExpiresAt})
}

func (s *Server) client(r *http.Request) session.Client {
	ua := r.UserAgent()
	if len(ua) > 512 {
		ua = ua[:512]
	}
	return session.Client{IP: s.edge.ClientIP(r), UserAgent: ua}
}
