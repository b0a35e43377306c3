package guard

import (
	"errors"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/guard/internal/reason"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
)

// Refresher performs an in-line refresh.
type Refresher interface {
	// Refresh rotates the refresh token the request carries, sets the new
	// session cookies on w, and returns the new access token.
	Refresh(w http.ResponseWriter, r *http.Request) (accessToken string, err error)
}

// Middleware authenticates every request before next sees it and puts
// the Principal in the request context (PrincipalFrom).
//
// The token comes from "Authorization: Bearer" (RFC 6750 §2.1; the scheme
// is case-insensitive, RFC 9110 §11.1), or else from the AccessCookie.
// Answers, each a problem+json body with Cache-Control: no-store:
//
//   - no token: 401, WWW-Authenticate: Bearer (no error code, RFC 6750
//     §3.1: the request carried no credentials), code invalid_token;
//   - an Authorization header that is not one Bearer token: 400, Bearer
//     error="invalid_request", code invalid_request;
//   - a token that fails Verify: 401, Bearer error="invalid_token" with a
//     fixed error_description, code invalid_token (also for a revoked
//     session);
//   - revocation feed down and not FailOpen: 503,
//     revocation_feed_unavailable;
//   - cookie-borne only: a cookie of ours present twice: 400
//     duplicate_cookie; an unsafe request from another origin: 403
//     cross_origin_request; a failed double submit: 403 csrf_failed.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := g.authorize(w, r); ok {
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		}
	})
}

// authorize returns the request's principal, or answers the request and
// returns false.
func (g *Guard) authorize(w http.ResponseWriter, r *http.Request) (*Principal, bool) {
	raw, present, err := credential.Bearer(r)
	if err != nil {
		g.refuse(reason.InvalidRequest)
		// RFC 6750 §3.1: invalid_request is answered 400; refreshing
		// cannot mend a malformed header, so it is no 401.
		writeProblem(w, http.StatusBadRequest, codeInvalidRequest,
			"the Authorization header must be one Bearer token", challengeInvalidRequest)
		return nil, false
	}
	if present {
		// A bearer token needs no CSRF check: browsers never attach it.
		return g.verifyRequest(w, r, raw)
	}
	return g.authorizeCookie(w, r)
}

// verifyRequest verifies raw and checks its session, answering failures.
func (g *Guard) verifyRequest(w http.ResponseWriter, r *http.Request, raw string) (*Principal, bool) {
	now := g.now()
	p, err := g.authenticate(r.Context(), raw, now)
	if err == nil {
		err = g.checkSession(p, now)
	}
	if err != nil {
		g.refuseToken(w, err)
		return nil, false
	}
	return p, true
}

// refuseToken counts and answers a Verify error.
func (g *Guard) refuseToken(w http.ResponseWriter, err error) {
	r := reasonOf(err)
	g.refuse(r)
	if r == reason.FeedUnavailable {
		writeProblem(w, http.StatusServiceUnavailable, codeRevocationFeedDown,
			"revocations cannot be checked right now; try again shortly", "")
		return
	}
	if r == reason.Revoked {
		// Still the RFC 6750 invalid_token challenge, but the problem code
		// is Gatehouse's session_ended, as the server answers it: a client
		// can tell that refreshing is pointless and go straight to login.
		writeProblem(w, http.StatusUnauthorized, codeSessionEnded, describe(err),
			`Bearer error="invalid_token", error_description="`+describe(err)+`"`)
		return
	}
	invalidToken(w, describe(err))
}

// authorizeCookie handles a request without Authorization: the access
// token, if any, is the AccessCookie, and unsafe methods need CSRF checks.
func (g *Guard) authorizeCookie(w http.ResponseWriter, r *http.Request) (*Principal, bool) {
	j, ok := g.readCookies(r)
	if !ok {
		g.refuse(reason.DuplicateCookie)
		writeProblem(w, http.StatusBadRequest, codeDuplicateCookie, "a session cookie is present more than once", "")
		return nil, false
	}
	if j.Access == "" {
		g.refuse(reason.NoToken)
		writeProblem(w, http.StatusUnauthorized, codeInvalidToken, "the request carries no access token", challengeNoCredentials)
		return nil, false
	}
	unsafe := !credential.SafeMethod(r.Method)
	if unsafe {
		if err := g.cop.Check(r); err != nil {
			g.refuse(reason.CrossOrigin)
			writeProblem(w, http.StatusForbidden, codeCrossOriginRequest, "cross-origin request refused", "")
			return nil, false
		}
	}
	now := g.now()
	p, err := g.authenticate(r.Context(), j.Access, now)
	if err != nil && errors.Is(err, ErrExpired) && p != nil && g.cfg.Refresher != nil && j.Refresh != "" {
		return g.refreshInline(w, r, j, p, unsafe)
	}
	if err == nil {
		err = g.checkSession(p, now)
	}
	if err != nil {
		g.refuseToken(w, err)
		return nil, false
	}
	if unsafe && !g.csrfOK(r, j, p) {
		g.refuse(reason.CSRF)
		writeProblem(w, http.StatusForbidden, codeCSRFFailed, "the CSRF token is missing or does not match the session", "")
		return nil, false
	}
	return p, true
}

// refreshInline handles a cookie-borne token that failed only because it
// expired: its signature, typ, iss and aud held, so it is the issuer's
// token for us and the session's own. The CSRF check of an unsafe request
// is made against the expired token (the request's XSRF header belongs to
// it), then the Refresher rotates the session once, and the request goes
// on with the new token, verified like any other.
func (g *Guard) refreshInline(w http.ResponseWriter, r *http.Request, j credential.Jar, expired *Principal, unsafe bool) (*Principal, bool) {
	if unsafe && !g.csrfOK(r, j, expired) {
		g.refuse(reason.CSRF)
		writeProblem(w, http.StatusForbidden, codeCSRFFailed, "the CSRF token is missing or does not match the session", "")
		return nil, false
	}
	if rv := g.revoked; rv != nil && rv.Revoked(expired.SessionID) {
		g.refuseToken(w, ErrRevoked)
		return nil, false
	}
	raw, err := g.cfg.Refresher.Refresh(w, r)
	if err != nil || raw == "" {
		g.refreshed(false)
		g.refuse(reason.RefreshFailed)
		invalidToken(w, "the access token expired and the session could not be refreshed")
		return nil, false
	}
	p, ok := g.verifyRequest(w, r, raw)
	if !ok {
		g.refreshed(false)
		return nil, false
	}
	if p.SessionID != expired.SessionID || p.Subject != expired.Subject {
		// A refresh continues the same session of the same user; anything
		// else is a Refresher bug, and the request must not change hands.
		g.refreshed(false)
		g.refuse(reason.RefreshFailed)
		invalidToken(w, "the access token expired and the session could not be refreshed")
		return nil, false
	}
	g.refreshed(true)
	return p, true
}
