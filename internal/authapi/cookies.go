package authapi

import (
	"net/http"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// refreshPath is the refresh cookie's Path: the auth endpoints only. The
// cookie names are the credential reader's (credential.CookieAccess, ...);
// the refresh cookie keeps its __Secure- prefix with inline_refresh's
// Path=/, so that the setting changes nothing else.
const refreshPath = "/auth"

// RefreshCookiePath is the refresh cookie's Path for Config: /auth, so
// the browser sends it to the auth endpoints only, or / with inline
// refresh, so a guard on this site can rotate it mid-request (the
// trade-off is in docs/tokens.md).
func RefreshCookiePath(inline bool) string {
	if inline {
		return "/"
	}
	return refreshPath
}

// inlineRefresh reports whether the refresh cookie reaches the whole site,
// for a guard in this process to refresh in-line.
func (s *Server) inlineRefresh() bool { return s.cfg.RefreshCookiePath != refreshPath }

// setSessionCookies writes the three cookies of a grant.
func (s *Server) setSessionCookies(w http.ResponseWriter, g *session.Grant, now time.Time) {
	rtAge := maxAge(g.RefreshExpiresAt, now)
	atAge := maxAge(g.AccessExpiresAt, now)
	if s.inlineRefresh() {
		// The browser must still send the expired access token for a guard
		// to refresh in-line: a cookie gone at the token's exp would reach
		// the guard as no credentials at all. An expired token is worthless
		// to anyone, so the cookie lives as long as the session's refresh
		// cookie and the token's own exp decides.
		atAge = rtAge
	}
	http.SetCookie(w, &http.Cookie{Name: credential.CookieAccess, Value: g.AccessToken, Path: "/", MaxAge: atAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if s.inlineRefresh() {
		// A browser keeps a cookie per (name, path): one still holding the
		// /auth refresh cookie from before inline_refresh would send both
		// to /auth/refresh and be refused as duplicate_cookie.
		http.SetCookie(w, &http.Cookie{Name: credential.CookieRefresh, Value: "", Path: refreshPath, MaxAge: -1,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	}
	http.SetCookie(w, &http.Cookie{Name: credential.CookieRefresh, Value: g.RefreshToken, Path: s.cfg.RefreshCookiePath, MaxAge: rtAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// Readable by the SPA's JavaScript: that is the point of double-submit.
	// #nosec G124 -- not HttpOnly on purpose (above); Secure and SameSite=Strict.
	http.SetCookie(w, &http.Cookie{Name: credential.CookieCSRF, Value: g.CSRFToken, Path: "/", MaxAge: rtAge,
		Secure: true, SameSite: http.SameSiteStrictMode})
}

// clearSessionCookies expires the three cookies with the same attributes
// they were set with (a browser only replaces a cookie of the same name,
// path and domain).
func (s *Server) clearSessionCookies(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: credential.CookieAccess, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: credential.CookieRefresh, Value: "", Path: s.cfg.RefreshCookiePath, MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// #nosec G124 -- the CSRF cookie is not HttpOnly (double-submit), so
	// neither is its expiry: the attributes must match to replace it.
	http.SetCookie(w, &http.Cookie{Name: credential.CookieCSRF, Value: "", Path: "/", MaxAge: -1,
		Secure: true, SameSite: http.SameSiteStrictMode})
}

func maxAge(t, now time.Time) int {
	s := int(t.Sub(now) / time.Second)
	if s < 1 {
		return -1
	}
	return s
}

// cookieNames are the session cookies as the credential reader, which
// the guard uses too, looks for them.
var cookieNames = credential.Names{Access: credential.CookieAccess, Refresh: credential.CookieRefresh, CSRF: credential.CookieCSRF}

// sessionCookies returns the request's session cookies; a name present
// twice is a *credential.DuplicateCookieError.
func sessionCookies(r *http.Request) (credential.Jar, error) {
	return credential.Cookies(r, cookieNames)
}

// csrfOK checks the double-submit: the header must equal the cookie, and
// be a token minted for this very session.
func (s *Server) csrfOK(r *http.Request, j credential.Jar, sid string) bool {
	v, ok := credential.Submitted(r, credential.HeaderCSRF, j)
	return ok && s.engine.CSRFValid(sid, v)
}
