// Package reason names why a guard refused a request: the reason values
// guard.Metrics.Refused receives, which guardprom exposes as the reason
// label of gatehouse_guard_refused_total. It is shared by package guard
// and its Prometheus adapter so that the two cannot disagree; the list is
// documented in docs/guard.md and in guard.Metrics.
package reason

// Reason is one refusal reason.
type Reason uint8

// The reasons. N is their number.
const (
	Malformed Reason = iota
	Signature
	Expired
	NotYetValid
	Claims
	Revoked
	FeedUnavailable
	NoToken
	InvalidRequest
	CSRF
	CrossOrigin
	DuplicateCookie
	RefreshFailed
	N
)

var names = [N]string{
	Malformed:       "malformed",
	Signature:       "signature",
	Expired:         "expired",
	NotYetValid:     "not_yet_valid",
	Claims:          "claims",
	Revoked:         "revoked",
	FeedUnavailable: "feed_unavailable",
	NoToken:         "no_token",
	InvalidRequest:  "invalid_request",
	CSRF:            "csrf_failed",
	CrossOrigin:     "cross_origin",
	DuplicateCookie: "duplicate_cookie",
	RefreshFailed:   "refresh_failed",
}

// String returns the reason's label value; it allocates nothing.
func (r Reason) String() string { return names[r] }

// Parse returns the reason whose label value is s.
func Parse(s string) (Reason, bool) {
	for r := range N {
		if names[r] == s {
			return r, true
		}
	}
	return 0, false
}
