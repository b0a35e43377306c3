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
			edge.WriteProblem(w, http.StatusBadRequest, problem.CodeDuplicateCookie, err.Error())
			return authenticated{}, false
		}
		raw = jar.Access
	}
	if raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidToken, "no access token")
		return authenticated{}, false
	}
	p, err := s.verifier.Verify(r.Context(), raw)
	switch {
	case err == nil && p.ClientID != s.firstParty:
		// An OAuth client's access token, valid for resource servers of
		// its audience, does not act for the user at the first-party API
		// (sessions, password, administration): a third-party client
		// granted "openid profile" would otherwise get all of that.
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="issued to another client"`)
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidToken, "the access token was issued to another client")
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
	case errors.Is(err, session.ErrUnavailable):
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
		edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeInvalidToken, detail)
	}
	return authenticated{}, false
}

// malformedAuthorization answers a request whose Authorization header is
// not one Bearer token: 400 invalid_request with its challenge (RFC 6750
// §3.1), as the guard answers it. It is never read past for the cookies.
func malformedAuthorization(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
	edge.WriteProblem(w, http.StatusBadRequest, problem.CodeBadRequest, credential.ErrMalformedAuthorization.Error())
}

// sessionEnded answers a request whose access token belongs to an ended
// session: the RFC 6750 invalid_token challenge, and the problem code
// session_ended, which tells the client that refreshing will not help.
func sessionEnded(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="session ended"`)
	edge.WriteProblem(w, http.StatusUnauthorized, problem.CodeSessionEnded, "the session has ended; log in again")
}

// revocationsUnavailable answers a request the guard refused because its
// revocation set has not heard from the revocation feed for too long
// (guard.ErrFeedDown): it fails closed, so a revocation it has not heard
// of cannot let a token through.
func revocationsUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	edge.WriteProblem(w, http.StatusServiceUnavailable, problem.CodeUnavailable, "revocations cannot be checked right now; retry shortly")
}

func csrfFailed(w http.ResponseWriter) {
	edge.WriteProblem(w, http.StatusForbidden, problem.CodeCSRF, "missing or invalid "+credential.HeaderCSRF+" header")
}
