// Package store holds the records Gatehouse persists and the errors its
// backends return. The interfaces over these records are declared by their
// consumers, each once (session.Store, token.KeyStore, revocation.Store,
// limiter.Store); each backend (sqlite, postgres) implements them, imports
// no consumer, and must pass the shared suite in storetest, which runs
// against those same interfaces (and limitertest for limiter.Store, which
// only the backends shared by several nodes implement).
//
// Secrets never reach a store in the clear: refresh tokens are kept as their
// SHA-256 hash, passwords as argon2id PHC strings, CSRF values as hashes,
// a BFF session's cookie as the hash of its secret.
package store

import (
	"errors"
	"time"
)

// Errors every backend returns, wrapped with %w, for callers to branch on.
var (
	// ErrNotFound: no record has the given key.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key (a username, a key id) is already taken.
	ErrConflict = errors.New("store: conflict")
	// ErrAlreadySpent: a single-use credential was used before: a
	// refresh token rotation lost to another rotation of the same token
	// (or the token's session has ended), or an authorization code was
	// redeemed before.
	ErrAlreadySpent = errors.New("store: already spent")
	// ErrLeaseLost: a write that only the holder of a lease may make was
	// made under a lease that is no longer the caller's (it was released,
	// or it lapsed and another caller took it); nothing was written.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrUnavailable: the database cannot be reached (it is down,
	// restarting, refusing connections, or dropped the connection
	// mid-statement). It is transient, so the server answers 503 with
	// Retry-After rather than 500, and the same request succeeds once the
	// database is back. A write that fails with it may nevertheless have
	// committed (the connection can drop after COMMIT was sent): callers
	// retry, and a repeated refresh is what the grace window is for.
	ErrUnavailable = errors.New("store: the database cannot be reached")
)

// User is an account that can log in.
type User struct {
	ID       string
	Username string // normalised: see session.NormalizeUsername
	// PasswordHash is an argon2id PHC string; it carries its own parameters.
	PasswordHash string
	Roles        []string
	Disabled     bool
	// CredentialVersion increases whenever the password changes or the
	// account is disabled; a session minted under an older version is ended
	// at its next refresh.
	CredentialVersion int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Session is one login: a family of refresh tokens, each rotation spending
// the previous one.
type Session struct {
	ID       string
	UserID   string
	ClientID string // "gatehouse" for the first-party login API
	// Audience are the resource servers the session's access tokens are
	// for (aud), and Scope what they may do there: both fixed at login.
	// Empty means the first-party defaults.
	Audience []string
	Scope    string
	// AccessTTL, when not zero, is the lifetime of the session's access
	// tokens, shorter than the server's: its client's registration asked
	// for it (capped by the issuer at access_token_ttl).
	AccessTTL time.Duration
	// AuthTime is when the user presented credentials; the absolute
	// lifetime counts from it.
	AuthTime   time.Time
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is the absolute end (AuthTime plus the configured lifetime).
	ExpiresAt        time.Time
	CreatedIP        string
	CreatedUserAgent string
	LastIP           string
	LastUserAgent    string
	Device           string // a short label derived from the user agent
	// CSRFHash is the SHA-256 of the last CSRF value handed out.
	CSRFHash []byte
	// LastJTI is the jti of the access token last issued for the session.
	LastJTI string
	// CredentialVersion is the user's CredentialVersion at login.
	CredentialVersion int64
	RevokedAt         time.Time // zero while the session is live
	RevokeReason      string
}

// Revoked reports whether the session was ended explicitly.
func (s Session) Revoked() bool { return !s.RevokedAt.IsZero() }

// Revocation is one entry of the revocation feed: the session SessionID
// was ended explicitly at RevokedAt. Seq is its position in the feed,
// assigned in commit order and never reused (also not after pruning), so a
// reader resuming "after seq N" misses nothing committed since.
type Revocation struct {
	Seq       int64
	SessionID string
	RevokedAt time.Time
}

// RefreshToken is the stored form of one refresh token.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token's bytes; the primary key
	SessionID string
	CreatedAt time.Time
	SpentAt   time.Time // zero while the token is the session's current one
	// SuccessorHash is the hash of the token that replaced this one.
	SuccessorHash []byte
	// GraceBlob is the successor pair sealed with a key derived from this
	// token's own bytes, so only a holder of this token can open it: it is
	// what lets a duplicate presentation inside the grace window receive the
	// same successor without the store ever holding a token in the clear.
	GraceBlob []byte
}

// Spent reports whether the token has been rotated away.
func (t RefreshToken) Spent() bool { return !t.SpentAt.IsZero() }

// Rotation is one refresh: OldHash is spent, Next becomes current, and the
// session's last use is recorded, all in one transaction.
type Rotation struct {
	OldHash   []byte
	Next      RefreshToken
	GraceBlob []byte
	Now       time.Time
	IP        string
	UserAgent string
	JTI       string
	CSRFHash  []byte
	// Audit, when its Type is set, is stored in the same transaction.
	Audit AuditEvent
}

// AuditEvent is one security-relevant fact. It never holds a password,
// a token or a CSRF value.
type AuditEvent struct {
	ID   int64
	Time time.Time
	Type string // e.g. "login_success", "refresh_token_reuse"
	// ActorID is who acted when that is not the subject: the admin who
	// disabled a user, for example. Empty when the subject acted.
	ActorID   string
	UserID    string
	SessionID string
	IP        string
	UserAgent string
	Outcome   string // "success" or "failure"
	Detail    string
}

// Signing key purposes. Each is a rotation lineage of its own: adding a
// key retires only unretired keys of its purpose, and the compare-and-set
// that adds it looks at the newest key of its purpose alone.
const (
	// PurposeAccess keys sign access tokens; every key stored before
	// purposes existed is one.
	PurposeAccess = "access"
	// PurposeID keys sign the OpenID Connect provider's ID tokens.
	PurposeID = "id"
)

// SigningKey is one token signing key and its life cycle: published from
// CreatedAt, signing from ActivatesAt until RetiresAt, published until
// ExpiresAt so tokens it signed keep verifying until they expire.
type SigningKey struct {
	KID string
	Alg string // ES256, EdDSA or RS256
	// Purpose is PurposeAccess or PurposeID; empty is PurposeAccess
	// (PurposeOrAccess). Backends store and return it as given, the empty
	// string as PurposeAccess.
	Purpose string
	// Private is the PKCS #8 DER, or, with a key-encryption key
	// configured, that DER sealed by the keyring (token.Encryption): the
	// store keeps whichever bytes it is given.
	Private     []byte
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   time.Time // zero: not retired
	ExpiresAt   time.Time // zero: published indefinitely
}

// PurposeOrAccess is k.Purpose, or PurposeAccess when it is empty.
func (k SigningKey) PurposeOrAccess() string {
	if k.Purpose == "" {
		return PurposeAccess
	}
	return k.Purpose
}

// KeyReseal replaces one signing key's stored private bytes: Old is what
// the caller read, New the same key sealed anew (encrypted at rest for the
// first time, or under a new key-encryption key). It applies only while the
// row still holds Old, so nodes resealing at the same time cannot undo one
// another's work.
type KeyReseal struct {
	KID      string
	Old, New []byte
}

// AuditFilter selects audit events, newest first (highest ID first, the
// order BeforeID pages along); zero fields match everything, and set
// fields must all match.
type AuditFilter struct {
	Type      string
	UserID    string
	ActorID   string
	SessionID string
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	// BeforeID pages backwards: only events with a smaller ID.
	BeforeID int64
	Limit    int // at most 1000; 0 means 1000
}

// UserQuery selects users ordered by username, compared byte by byte (as
// Go compares strings) whatever a backend's collation: After pages along
// that order, so a locale that ignored punctuation would skip or repeat
// users between pages.
type UserQuery struct {
	// Search matches a substring of the username, literally: the caller
	// has case-folded it like usernames and the store folds nothing, and
	// %, _, \ and quotes are characters to find, never pattern syntax (a
	// username may contain them).
	Search string
	// After pages forwards: only usernames sorting after it. It need not
	// be an existing username.
	After string
	Limit int // at most 1000; 0 means 1000
}

// SessionQuery selects sessions, newest first: by CreatedAt descending,
// ties by ID descending, a total order so that After pages without
// skipping or repeating sessions created in the same instant.
type SessionQuery struct {
	UserID string // empty: every user
	// LiveAt, when set, keeps only sessions live at that time: not revoked,
	// ExpiresAt after it, and LastUsedAt less than IdleTimeout before it.
	// This is the engine's own test of whether a session may still be
	// refreshed, so a session it would refuse is never listed as live.
	LiveAt      time.Time
	IdleTimeout time.Duration
	// After pages: only sessions after the session with this id in the
	// order above.
	After string
	Limit int // at most 1000; 0 means 1000
}

// LoginFacts are what the login limiter's policy decides on (see the
// limiter package, which declares the store of them): the failed logins
// of one (account, IP) pair, and of its account from every address.
type LoginFacts struct {
	Pair    LoginPairFacts
	Account LoginAccountFacts
}

// LoginPairFacts is what is known of one (account, IP) pair: how many
// failures its current run holds and when the latest was. A run ends at a
// success for the pair, or when a failure comes after the pair has been
// idle for the limiter's PairIdle (the pair then starts again at one).
type LoginPairFacts struct {
	Failures int
	Last     time.Time
}

// LoginAccountFacts is what is known of one account: how many failures,
// from all addresses together, fall in the hour before now (limiter.Window),
// and when the oldest of them was: an hour after Oldest the count first
// drops. A state may keep time coarser than the clock (the limiter's
// in-memory one counts per minute, drops a whole minute at once, and so
// reports the oldest minute's start).
type LoginAccountFacts struct {
	Failures int
	Oldest   time.Time
}

// Client is an OAuth 2.0 client registered with the provider (RFC 6749
// §2). The metadata names follow RFC 7591 §2 where one exists.
type Client struct {
	ID   string
	Name string
	// SecretHash is the SHA-256 of the client secret, which is shown once
	// at registration and stored nowhere else; nil for a public client.
	SecretHash []byte
	// Public: no secret, PKCE only (RFC 6749 §2.1; RFC 9700 §2.1.1).
	Public bool
	// FirstParty: the client is Gatehouse's operator's own, and skips
	// consent.
	FirstParty bool
	// TokenEndpointAuthMethod is client_secret_basic, client_secret_post,
	// private_key_jwt, or none for a public client (RFC 7591 §2).
	TokenEndpointAuthMethod string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	// GrantTypes: authorization_code, refresh_token, client_credentials.
	GrantTypes []string
	// Scopes the client may ask for, and Audiences the resource servers
	// (RFC 8707) its access tokens may be for.
	Scopes    []string
	Audiences []string
	// BackchannelLogoutURI receives OpenID back-channel logout tokens.
	BackchannelLogoutURI string
	// RequirePAR: authorization requests only through pushed
	// authorization requests (RFC 9126 §6).
	RequirePAR bool
	// AccessTokenTTL and RefreshTokenTTL override the server's token
	// lifetimes for this client; zero keeps them.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// JWKS is the client's public keys, an RFC 7517 JWK Set as JSON (RFC
	// 7591 §2 jwks), for private_key_jwt; empty for any other client.
	JWKS      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuthCode is an authorization code (RFC 6749 §4.1.2), stored under the
// SHA-256 of the code, never the code itself. It is redeemed once.
type AuthCode struct {
	Hash     []byte
	ClientID string
	UserID   string
	// SessionID is the session the code's tokens belong to.
	SessionID   string
	RedirectURI string
	Scope       string
	Audience    []string
	// CodeChallenge is the PKCE S256 challenge (RFC 7636 §4.2).
	CodeChallenge string
	Nonce         string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	// RedeemedAt is when the code was exchanged; zero until then.
	RedeemedAt time.Time
	// Grant is the session's first tokens, sealed under a key derived
	// from the code itself (see internal/sealed), which the store does
	// not hold. RedeemCode hands it to the one redeemer and clears it, so
	// a code that leaks afterwards (browser history, a Referer, a log)
	// opens nothing even together with a copy of the database.
	Grant []byte
}

// PushedRequest is a pushed authorization request (RFC 9126): the
// parameters a client posted, kept under the hash of its request_uri
// until it is used once or expires.
type PushedRequest struct {
	Hash      []byte
	ClientID  string
	Params    string // the form-encoded authorization request
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Consent is a user's grant of scopes to a client, remembered so that
// the consent page is not shown again for what was granted.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}

// Logout notice outcomes (LogoutNotice.Outcome).
const (
	// NoticeSent: the client's back-channel logout URI took the logout
	// token (a 2xx answer).
	NoticeSent = "sent"
	// NoticeFailed: every attempt failed; the sender gave up.
	NoticeFailed = "failed"
	// NoticeDropped: nothing was owed any more when the session ended
	// (the client was deleted, or no longer has a back-channel URI).
	NoticeDropped = "dropped"
)

// LogoutNotice is the OpenID Connect back-channel logout (Back-Channel
// Logout 1.0 §2.5) owed to the client of one session: the provider POSTs
// a logout token to the client's backchannel_logout_uri once the session
// ends, for whatever reason. It is created with the session, for a client
// registered with a back-channel URI, and outlives the session (a deleted
// user's sessions are deleted with it), which is why it keeps the client
// and the user (the token's aud and sub) itself.
//
// Its life: armed (EndedAt zero) while the session is live, looked at
// again at DueAt, the session's next deadline; ended (EndedAt set, with
// Reason) once the session is revoked, deleted or past its idle or
// absolute deadline; then claimed by one sender at a time (Lease, until
// LeaseUntil), attempted, rescheduled (DueAt) after a failure, and done
// (DoneAt, Outcome).
type LogoutNotice struct {
	SessionID string
	ClientID  string
	UserID    string
	// DueAt is when the notice is next looked at: while armed, the
	// session's deadline as last seen; once ended, its next attempt.
	DueAt time.Time
	// EndedAt is when the session was found to have ended, and Reason why
	// (a session's revoke reason, "user_deleted", "idle_timeout",
	// "lifetime_exceeded", or "session_gone" for a session that vanished
	// unnoticed); zero and empty while armed.
	EndedAt time.Time
	Reason  string
	// Attempts is how many deliveries were tried.
	Attempts int
	// Lease names the claim that holds the notice until LeaseUntil; empty
	// when none does.
	Lease      string
	LeaseUntil time.Time
	// DoneAt is when the notice was settled for good, with Outcome
	// (NoticeSent, NoticeFailed, NoticeDropped); zero until then.
	DoneAt  time.Time
	Outcome string
}

// NoticeClaim asks for the logout notices due at Now (ClaimLogoutNotices).
type NoticeClaim struct {
	Now time.Time
	// IdleTimeout is the engine's: a session not used for this long has
	// ended, as store.SessionQuery.LiveAt tells.
	IdleTimeout time.Duration
	// Lease names this claim; the notices it returns are held under it
	// until LeaseUntil.
	Lease      string
	LeaseUntil time.Time
	Limit      int // at most 1000; 0 means 1000
}

// NoticeResult is what became of one attempt at a claimed notice
// (SettleLogoutNotice): with RetryAt set, the notice is attempted again
// then; otherwise it is done at DoneAt with Outcome.
type NoticeResult struct {
	SessionID string
	Lease     string // the claim's, which must still hold the notice
	Attempts  int    // attempts made, this one included
	RetryAt   time.Time
	DoneAt    time.Time
	Outcome   string
}

// Check refuses a result without the claim's lease, or that is neither a
// retry nor a time and an outcome.
func (r NoticeResult) Check() error {
	switch {
	case r.Lease == "":
		return errors.New("store: a logout notice's result needs the claim's lease")
	case r.RetryAt.IsZero() && (r.DoneAt.IsZero() || r.Outcome == ""):
		return errors.New("store: a logout notice's result is a retry time, or a time and an outcome")
	}
	return nil
}

// BFFSession is one browser session of the backend for frontend (BFF): the
// tokens it holds for the browser, which sees only a cookie. The cookie's
// secret is never stored, only its SHA-256 (Hash), and the tokens only
// sealed by the BFF under a key the store does not hold.
//
// Refreshing the tokens is guarded by a lease, so that of the requests of
// one browser (several tabs, several nodes) that find the access token
// expired, one uses the refresh token while the others wait for its
// result: a refresh token rotated twice at once would be refused as
// reused by the OpenID provider, and end the session.
type BFFSession struct {
	// Hash is the SHA-256 of the session cookie's secret: the primary key.
	Hash []byte
	// Issuer is the OpenID provider's issuer, and Subject and SID the ID
	// token's sub and sid ("" when it has none): what a back-channel
	// logout token names the sessions to end by.
	Issuer  string
	Subject string
	SID     string
	// Tokens are the access, refresh and ID tokens, sealed (AES-GCM) by
	// the BFF; the store keeps whichever bytes it is given.
	Tokens          []byte
	AccessExpiresAt time.Time // zero: the provider did not say
	// Version is 1 at creation and grows by one at every token update.
	Version int64
	// LeaseHolder names the request holding the refresh lease until
	// LeaseUntil; "" and the zero time when none does.
	LeaseHolder string
	LeaseUntil  time.Time
	CreatedAt   time.Time
	LastUsedAt  time.Time
	// ExpiresAt is the absolute end: the session lives as long as its
	// refresh token can.
	ExpiresAt time.Time
}
