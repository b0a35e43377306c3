// Package guard is net/http middleware for resource servers that accept
// Gatehouse access tokens: it verifies every request's token, refuses
// revoked sessions at once, checks CSRF on cookie-borne writes, and puts
// the verified caller in the request context.
//
// Verification follows RFC 9068 and RFC 8725: an algorithm allow-list
// (never "none", never HMAC), keys only from the configured source (never
// from a token's jwk, jku, x5u or x5c header), the "at+jwt" type, issuer,
// audience, exp, nbf and iat with a small leeway. A token that passed is
// kept in a bounded cache keyed by the exact token, so the next request
// with it costs a map lookup; an entry never outlives the token's exp.
//
// Revocation: a Revocations set holds the session ids (the sid claim) that
// ended; the guard refuses them on every request, cached or not. The set
// is fed by Gatehouse's revocation feed (FollowFeed), or directly when the
// guard runs in the Gatehouse process.
//
// Metrics: a guard reports what it counts to Config.Metrics, if set;
// package guardprom exposes it to Prometheus.
package guard
