package edge

import (
	"encoding/json"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// HeaderCSRF is the request header of the double submit: the page echoes
// the XSRF-TOKEN cookie in it.
const HeaderCSRF = "X-XSRF-TOKEN"

// Stable problem codes, every one listed in docs/errors.md: clients
// branch on them, never on a problem's title or detail.
const (
	CodeBadRequest          = "invalid_request"
	CodeMalformedJSON       = "malformed_json"
	CodeUnknownField        = "unknown_field"
	CodeInvalidEncoding     = "invalid_encoding"
	CodeBodyTooLarge        = "body_too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeHeadersTooLarge     = "headers_too_large"
	CodeDuplicateCookie     = "duplicate_cookie"
	CodeAmbiguousFraming    = "ambiguous_framing"   // answered by internal/httpserve, in front of the handler
	CodeInvalidCredentials  = "invalid_credentials" // #nosec G101 -- an error code, not a credential
	CodeInvalidToken        = "invalid_token"
	CodeInvalidRefreshToken = "invalid_refresh_token"
	CodeSessionEnded        = "session_ended"
	CodeRefreshReused       = "refresh_token_reused"
	CodeCSRF                = "csrf_failed"
	CodeCrossOrigin         = "cross_origin_request"
	CodeForbiddenOrigin     = "forbidden_origin"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeUnavailable         = "unavailable"
	CodeRateLimited         = "rate_limited"
	CodeConflict            = "conflict"
	CodeForbidden           = "forbidden"
	CodeInternal            = "internal_error"
)

// WriteProblem sends an RFC 9457 problem+json response that no cache may
// keep.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}

// WriteJSON sends v as a JSON body (application/json unless the handler
// chose a more specific JSON media type).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent: nothing to report a failure to
}
