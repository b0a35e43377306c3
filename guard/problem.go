package guard

import (
	"encoding/json"
	"net/http"
)

// Problem codes the guard answers with, the code member of its RFC 9457
// problem details; clients branch on them, never on title or detail.
const (
	CodeInvalidToken        = "invalid_token"
	CodeSessionEnded        = "session_ended"
	CodeInvalidRequest      = "invalid_request"
	CodeInsufficientScope   = "insufficient_scope"
	CodeCSRFFailed          = "csrf_failed"
	CodeCrossOriginRequest  = "cross_origin_request"
	CodeDuplicateCookie     = "duplicate_cookie"
	CodeRevocationFeedDown  = "revocation_feed_unavailable"
	problemTypePrefix       = "urn:gatehouse:problem:"
	problemContentType      = "application/problem+json"
	challengeNoCredentials  = `Bearer`
	challengeInvalidRequest = `Bearer error="invalid_request"`
)

// Problem is an RFC 9457 problem details body, as Gatehouse itself sends.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
}

// writeProblem sends an RFC 9457 problem+json response that no cache may
// keep (RFC 9111 §5.2.2.5): it is about this request's credentials.
// challenge, if not empty, is the WWW-Authenticate value (RFC 6750 §3).
func writeProblem(w http.ResponseWriter, status int, code, detail, challenge string) {
	h := w.Header()
	if challenge != "" {
		h.Set("WWW-Authenticate", challenge)
	}
	h.Set("Content-Type", problemContentType)
	h.Set("Cache-Control", "no-store")
	h.Del("Content-Length")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(Problem{
		Type:   problemTypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Code:   code,
		Detail: detail,
	})
}

// invalidToken answers 401 with the RFC 6750 §3.1 invalid_token challenge.
// description is one of the fixed texts of describe, never token content.
func invalidToken(w http.ResponseWriter, description string) {
	writeProblem(w, http.StatusUnauthorized, CodeInvalidToken, description,
		`Bearer error="invalid_token", error_description="`+description+`"`)
}

// describe is the fixed, client-facing description of a Verify error: it
// says which check failed without echoing anything from the token.
func describe(err error) string {
	switch reasonOf(err) {
	case rExpired:
		return "the access token expired"
	case rNotYetValid:
		return "the access token is not valid yet"
	case rClaims:
		return "the access token's claims are not acceptable"
	case rSignature:
		return "the access token's signature or key is not valid"
	case rRevoked:
		return "the session has ended"
	}
	return "the access token is malformed"
}
