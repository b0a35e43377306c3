package bff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/sealed"
)

// Cookie names. The session cookie is __Host-: Secure, Path=/, no Domain,
// so no sibling subdomain can set or read it (draft-ietf-oauth-browser-
// based-apps §6.1.3.2); SameSite=Strict, HttpOnly. The CSRF cookie is
// readable by the SPA, which echoes it in HeaderCSRF (what axios and
// Angular do by themselves).
const (
	CookieSession     = "__Host-bff"
	CookieCSRF        = "XSRF-TOKEN"
	HeaderCSRF        = "X-XSRF-TOKEN"
	cookieTransaction = "__Host-bff_tx"
)

// tokens are what a session keeps, sealed.
type tokens struct {
	Access  string    `json:"at"`
	Refresh string    `json:"rt"`
	ID      string    `json:"idt"`
	Expiry  time.Time `json:"exp"`
}

func (b *BFF) tokenKey() []byte { return sealed.Key(b.cfg.Key, "gatehouse bff tokens v1") }
func (b *BFF) txKey() []byte    { return sealed.Key(b.cfg.Key, "gatehouse bff login v1") }
func (b *BFF) csrfKey() []byte  { return sealed.Key(b.cfg.Key, "gatehouse bff csrf v1") }

// sealTokens encrypts a session's tokens, bound to its row.
func (b *BFF) sealTokens(hash []byte, t tokens) ([]byte, error) {
	return sealed.Seal(b.tokenKey(), hash, t)
}

func (b *BFF) openTokens(s Session) (tokens, error) {
	var t tokens
	err := sealed.Open(b.tokenKey(), s.Hash, s.Tokens, &t)
	return t, err
}

// csrfToken is the session's CSRF token: an HMAC of its secret, so it is
// bound to the session and needs no storage.
func (b *BFF) csrfToken(secret string) string {
	m := hmac.New(sha256.New, b.csrfKey())
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// newSecret is a session cookie's value: 256 bits from crypto/rand.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// setSessionCookies sets the session and CSRF cookies for maxAge.
func (b *BFF) setSessionCookies(w http.ResponseWriter, secret string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: secret, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	// #nosec G124 -- the SPA reads it to echo it: that is double submit.
	http.SetCookie(w, &http.Cookie{Name: CookieCSRF, Value: b.csrfToken(secret), Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, SameSite: http.SameSiteStrictMode})
}

func clearSessionCookies(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieSession, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	// #nosec G124 -- it replaces the readable CSRF cookie.
	http.SetCookie(w, &http.Cookie{Name: CookieCSRF, Value: "", Path: "/", MaxAge: -1, Secure: true,
		SameSite: http.SameSiteStrictMode})
}

// errNoSession: the request carries no live session.
var errNoSession = errors.New("bff: no session")

// current is the request's session: its cookie's secret, and the stored
// session, which must be unexpired and not idle.
func (b *BFF) current(r *http.Request) (string, Session, error) {
	var secret string
	n := 0
	for _, c := range r.Cookies() {
		if c.Name == CookieSession {
			secret, n = c.Value, n+1
		}
	}
	if n != 1 || len(secret) != 43 { // two cookies of one name: cookie tossing; refuse both
		return "", Session{}, errNoSession
	}
	s, err := b.cfg.Store.Session(r.Context(), hashSecret(secret))
	if err != nil {
		return "", Session{}, errNoSession
	}
	now := b.cfg.Now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.LastUsedAt.Add(b.cfg.IdleTimeout)) {
		_ = b.cfg.Store.DeleteSession(r.Context(), s.Hash) // ended; the next request starts over
		return "", Session{}, errNoSession
	}
	return secret, s, nil
}

// csrfOK checks an unsafe request against cross-site forgery, every time:
// the CSRF header must echo the session's token, and Fetch Metadata and
// Origin, when the browser sends them, must say same origin.
func (b *BFF) csrfOK(r *http.Request, secret string) bool {
	if !b.sameOrigin(r) {
		return false
	}
	got := r.Header.Get(HeaderCSRF)
	want := b.csrfToken(secret)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether Fetch Metadata and Origin, when the browser
// sends them, say the request comes from the BFF's own origin.
func (b *BFF) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != origin(b.cfg.PublicURL) {
		return false
	}
	return true
}

// safeMethod: GET, HEAD, OPTIONS (RFC 9110 §9.2.1) change nothing.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// nodeName names this process as a lease holder.
func nodeName() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
}

// end deletes a session whose refresh failed or that logged out.
func (b *BFF) end(ctx context.Context, s Session) {
	if err := b.cfg.Store.DeleteSession(ctx, s.Hash); err != nil {
		b.cfg.Log.Warn("bff: deleting a session failed", "err", err)
	}
}
