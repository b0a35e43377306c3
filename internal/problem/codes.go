package problem

// Stable problem codes of Gatehouse's answers, the server's and the
// guard's alike, every one listed in docs/errors.md: clients
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
	CodeAmbiguousFraming    = "ambiguous_framing"       // answered by internal/httpserve, in front of the handler
	CodeInvalidMetadata     = "invalid_client_metadata" // RFC 7591 §3.2.2's name
	CodeInvalidCredentials  = "invalid_credentials"     // #nosec G101 -- an error code, not a credential
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
	CodeNotReady            = "not_ready"
	CodeRateLimited         = "rate_limited"
	CodeConflict            = "conflict"
	CodeForbidden           = "forbidden"
	CodeInternal            = "internal_error"
)
