package authapi

import (
	"fmt"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// CookieRefresher refreshes a browser's session in the middle of another
// request: a guard in this process that meets an expired access cookie
// calls it, and the request goes on with the fresh access token instead
// of failing with 401 and making the page call /auth/refresh itself.
// It satisfies the guard package's Refresher interface.
type CookieRefresher struct{ s *Server }

// InlineRefresher returns the in-line refresher. The refresh cookie only
// reaches paths outside /auth with inline_refresh (RefreshCookiePath "/").
func (s *Server) InlineRefresher() *CookieRefresher { return &CookieRefresher{s: s} }

// Refresh rotates the request's refresh cookie exactly as POST
// /auth/refresh does in cookie mode, sets the new cookies on w and returns
// the new access token. It checks nothing else: the caller has already
// checked CSRF for the request (an unsafe cookie-borne request must pass
// the double-submit check before it may cause a rotation). Errors are the
// engine's (session.ErrSessionEnded, ErrRefreshReuse,
// ErrInvalidRefreshToken, ...), and for those that are final the cookies
// are expired on w, as /auth/refresh does.
func (c *CookieRefresher) Refresh(w http.ResponseWriter, r *http.Request) (string, error) {
	s := c.s
	j, err := sessionCookies(r)
	if err != nil {
		return "", fmt.Errorf("%w: %w", session.ErrInvalidRefreshToken, err)
	}
	rt := j.Refresh
	if rt == "" {
		return "", session.ErrInvalidRefreshToken
	}
	g, err := s.cookieRefresh(w, r, rt)
	if err != nil {
		return "", err
	}
	s.setSessionCookies(w, g, s.clock.Now())
	return g.AccessToken, nil
}
