// Package credential reads the credentials a request carries: the bearer
// token of its Authorization header, Gatehouse's session cookies, and the
// CSRF header of a double submit. The server and the guard both read
// requests with it, so that the two cannot disagree about what a request
// presented (a duplicated Authorization header, say, or a second copy of a
// cookie) and answer the same request differently.
package credential

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
)

// ErrMalformedAuthorization: the request has an Authorization header that
// is not exactly one "Bearer <token>" (RFC 6750 §2.1). It is refused, never
// passed over in favour of the request's cookies: a client that sent a
// header meant it, and acting on something else it did not mean (ending
// the session its cookies name while it asked about another one, or
// reporting success for neither) would be a lie either way.
var ErrMalformedAuthorization = errors.New("the Authorization header must be one Bearer token")

// DuplicateCookieError: the request carries two cookies of one of our
// names. A browser sends that when a second cookie was planted with another
// Domain or Path (cookie tossing); which one is genuine cannot be told, so
// the request is refused rather than guessed at.
type DuplicateCookieError struct{ Name string }

func (e *DuplicateCookieError) Error() string {
	return "cookie " + e.Name + " is present more than once"
}

// Gatehouse's cookie names and the CSRF header (docs/tokens.md, Cookies).
// The __Host- prefix makes the browser insist on Secure, Path=/ and no
// Domain, so a sibling subdomain cannot plant or overwrite the access
// cookie (cookie tossing); the refresh cookie needs a narrower Path and so
// can only have the __Secure- prefix. The guard's defaults are these.
const (
	CookieAccess  = "__Host-gh_at"
	CookieRefresh = "__Secure-gh_rt"
	CookieCSRF    = "XSRF-TOKEN"
	// HeaderCSRF is the request header of the double submit: the page
	// echoes the XSRF-TOKEN cookie in it.
	HeaderCSRF = "X-XSRF-TOKEN"
)

// SafeMethod reports whether m is safe (RFC 9110 §9.2.1): such requests
// must not change state (ASVS 3.5.3), and a cookie-borne one needs no
// CSRF check.
func SafeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Names are the cookie names of one deployment.
type Names struct {
	Access, Refresh, CSRF string
}

// Jar holds the request's cookies of our names, "" for an absent one.
type Jar struct {
	Access, Refresh, CSRF string
}

// Bearer returns the token of the request's Authorization header. present
// reports whether the request has the header at all; when it has, err is
// ErrMalformedAuthorization unless the header is one value of the Bearer
// scheme (case-insensitive, RFC 9110 §11.1), one or more spaces, and one
// b64token (RFC 6750 §2.1), exactly.
func Bearer(r *http.Request) (token string, present bool, err error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return "", false, nil
	}
	if len(values) != 1 {
		return "", true, ErrMalformedAuthorization
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true, ErrMalformedAuthorization
	}
	tok = strings.TrimLeft(tok, " ")
	if !isB64Token(tok) {
		return "", true, ErrMalformedAuthorization
	}
	return tok, true, nil
}

// isB64Token reports whether s is RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". Anything
// else (white space of any kind, a control character, a quote) is no
// token a Bearer header may carry, and no verifier is asked about it.
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// Cookies returns the request's cookies of the three names. Any of them
// present twice is a *DuplicateCookieError, whichever the caller means to
// use: a second XSRF-TOKEN planted by a sibling subdomain is then refused
// as what it is on reads and writes alike, rather than passing unnoticed
// on a read and looking like a stale CSRF token on a write.
func Cookies(r *http.Request, n Names) (Jar, error) {
	var (
		j    Jar
		seen [3]bool
	)
	for _, c := range r.Cookies() {
		var i int
		var dst *string
		switch c.Name {
		case n.Access:
			i, dst = 0, &j.Access
		case n.Refresh:
			i, dst = 1, &j.Refresh
		case n.CSRF:
			i, dst = 2, &j.CSRF
		default:
			continue
		}
		if seen[i] {
			return Jar{}, &DuplicateCookieError{Name: c.Name}
		}
		seen[i], *dst = true, c.Value
	}
	return j, nil
}

// Submitted returns the CSRF value a double submit presents: the single
// value of the named header, when it equals (in constant time) the jar's
// CSRF cookie, which only a page of the cookie's site could have read.
// ok is false when the header is missing, empty, repeated or different.
// What the value must then be bound to (the session, by HMAC or by the
// access token's csrf_hash claim) is the caller's check.
func Submitted(r *http.Request, header string, j Jar) (value string, ok bool) {
	vals := r.Header.Values(header)
	if len(vals) != 1 || vals[0] == "" || j.CSRF == "" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(vals[0]), []byte(j.CSRF)) != 1 {
		return "", false
	}
	return vals[0], true
}
