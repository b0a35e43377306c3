package guard

import (
	"net/http"

	"github.com/gatehouse-auth/gatehouse/guard/internal/reason"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// Problem codes the guard answers with, the code member of its RFC 9457
// problem details (docs/guard.md, "Answers"); clients branch on them,
// never on title or detail.
// The codes Gatehouse answers with too are the shared list's
// (internal/problem), so that the guard and the server cannot spell one
// refusal two ways; the last two are the guard's own.
const (
	codeInvalidToken        = problem.CodeInvalidToken
	codeSessionEnded        = problem.CodeSessionEnded
	codeInvalidRequest      = problem.CodeBadRequest
	codeCSRFFailed          = problem.CodeCSRF
	codeCrossOriginRequest  = problem.CodeCrossOrigin
	codeDuplicateCookie     = problem.CodeDuplicateCookie
	codeInsufficientScope   = "insufficient_scope"
	codeRevocationFeedDown  = "revocation_feed_unavailable"
	challengeNoCredentials  = `Bearer`
	challengeInvalidRequest = `Bearer error="invalid_request"`
)

// writeProblem sends an RFC 9457 problem+json response; challenge, if not
// empty, is the WWW-Authenticate value (RFC 6750 §3).
func writeProblem(w http.ResponseWriter, status int, code, detail, challenge string) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	problem.Write(w, status, code, detail)
}

// invalidToken answers 401 with the RFC 6750 §3.1 invalid_token challenge.
// description is one of the fixed texts of describe, never token content.
func invalidToken(w http.ResponseWriter, description string) {
	writeProblem(w, http.StatusUnauthorized, codeInvalidToken, description,
		`Bearer error="invalid_token", error_description="`+description+`"`)
}

// describe is the fixed, client-facing description of a Verify error: it
// says which check failed without echoing anything from the token.
func describe(err error) string {
	switch reasonOf(err) {
	case reason.Expired:
		return "the access token expired"
	case reason.NotYetValid:
		return "the access token is not valid yet"
	case reason.Claims:
		return "the access token's claims are not acceptable"
	case reason.Signature:
		return "the access token's signature or key is not valid"
	case reason.Revoked:
		return "the session has ended"
	}
	return "the access token is malformed"
}
