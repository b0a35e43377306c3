// Package session is Gatehouse's session engine: login, refresh-token
// rotation with reuse (theft) detection and a grace window, logout and
// revocation, user administration, and the audit trail of all of it.
//
// A session is a family of refresh tokens. Every refresh spends the
// presented token and issues its successor; presenting a spent token again
// is either a benign duplicate (two tabs refreshing at once, a lost
// response retried) inside the grace window, which receives the very same
// successor, or theft, which ends the whole session.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/limiter"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// Errors callers branch on. Login reports every credential failure as
// ErrInvalidCredentials, whatever the cause, so that a response cannot
// tell an unknown user from a wrong password or a disabled account.
var (
	ErrInvalidCredentials = errors.New("session: invalid credentials")
	ErrInvalidInput       = errors.New("session: invalid input")
	// ErrInvalidRefreshToken: malformed or unknown refresh token.
	ErrInvalidRefreshToken = errors.New("session: invalid refresh token")
	// ErrSessionEnded: revoked, idle too long, past its absolute lifetime,
	// or its user was disabled, deleted or changed password.
	ErrSessionEnded = errors.New("session: session ended")
	// ErrRefreshReuse: a spent refresh token was presented outside the
	// grace window; the session has been revoked.
	ErrRefreshReuse = errors.New("session: refresh token reused")
	// ErrUserExists: the username is taken.
	ErrUserExists = errors.New("session: user already exists")
	// ErrUserNotFound: no such user (administration only; login never
	// says this).
	ErrUserNotFound = errors.New("session: user not found")
	// ErrSessionNotFound: no such session, or not one of the caller's.
	ErrSessionNotFound = errors.New("session: session not found")
	// ErrRateLimited is matched (errors.Is) by every *RateLimitError.
	ErrRateLimited = errors.New("session: too many login attempts")
	// ErrBusy: the password-hashing budget is exhausted; retry shortly.
	ErrBusy = errors.New("session: busy")
)

// RateLimitError is a login refused by the brute-force defence before the
// password was looked at.
type RateLimitError struct {
	RetryAfter time.Duration
	Reason     limiter.Reason
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("session: too many login attempts (%s); retry in %s", e.Reason, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Limiter is the brute-force defence the engine consults on every login.
// Its counts may live in a database shared by every node, hence the
// context and the errors: an Allow that fails refuses the attempt (the
// defence fails closed), while a Failure or Success that fails is logged,
// since the password has been checked by then and the answer stands.
type Limiter interface {
	Allow(ctx context.Context, ip, account string, now time.Time) (ok bool, retryAfter time.Duration, why limiter.Reason, err error)
	Failure(ctx context.Context, ip, account string, now time.Time) (tripped limiter.Reason, err error)
	Success(ctx context.Context, ip, account string, now time.Time) error
}

// Store is what the engine needs from storage, and each method's contract,
// which every backend is held to by the conformance suite (storetest). The
// store package's sentinel errors (store.ErrNotFound, store.ErrConflict,
// store.ErrAlreadySpent) are part of each method's contract, wrapped with
// %w.
type Store interface {
	// CreateUser inserts u; store.ErrConflict if the id or username is
	// taken.
	CreateUser(ctx context.Context, u store.User) error
	// UserByUsername and UserByID return the user or store.ErrNotFound.
	UserByUsername(ctx context.Context, username string) (store.User, error)
	UserByID(ctx context.Context, id string) (store.User, error)
	// ListUsers returns the users matching q, ordered by username, at most
	// q.Limit of them (see store.UserQuery).
	ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error)
	CountUsers(ctx context.Context) (int, error)
	// DeleteUser removes the user, its sessions and refresh tokens, and
	// appends ev and a revocation-feed entry (revoked at at) for each of
	// its sessions not already revoked, in one transaction;
	// store.ErrNotFound for an unknown id, and then nothing is written.
	// Audit events about the user are kept: they are the record of what
	// the account did. So are the logout notices of its sessions (see
	// CreateSession), marked ended in the same transaction with the
	// reason "user_deleted".
	DeleteUser(ctx context.Context, id string, at time.Time, ev store.AuditEvent) error
	// UpdateUser reads the user, applies fn and writes it back in one
	// transaction, ignoring any change fn makes to the id;
	// store.ErrNotFound, store.ErrConflict on a taken username, or fn's
	// error unchanged, and then nothing is written.
	UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error)

	// CreateSession stores a session and its first refresh token
	// atomically, and, in the same transaction, when the session's client
	// is registered with a back-channel logout URI, the session's armed
	// logout notice (store.LogoutNotice, provider.LogoutNotices).
	CreateSession(ctx context.Context, s store.Session, rt store.RefreshToken) error
	// SessionByID returns the session, revoked or not, or
	// store.ErrNotFound.
	SessionByID(ctx context.Context, id string) (store.Session, error)
	// ListSessions returns the sessions matching q, newest first, at most
	// q.Limit of them (see store.SessionQuery).
	ListSessions(ctx context.Context, q store.SessionQuery) ([]store.Session, error)
	// PruneSessions deletes, with their refresh tokens, the sessions that
	// ended before endedBefore: revoked before it, ExpiresAt before it, or
	// LastUsedAt more than idle before it. A session that ended at
	// endedBefore exactly is kept, and so is every session live then (see
	// store.SessionQuery.LiveAt). It returns how many sessions it deleted.
	PruneSessions(ctx context.Context, endedBefore time.Time, idle time.Duration) (int, error)
	// RefreshToken returns the token with the hash or store.ErrNotFound.
	RefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error)
	// RotateRefreshToken spends r.OldHash and stores r.Next atomically, or
	// returns store.ErrAlreadySpent and writes nothing.
	RotateRefreshToken(ctx context.Context, r store.Rotation) error
	// RevokeSession ends the session and appends ev in one transaction,
	// with one revocation-feed entry when it ended the session just now
	// (it was live), when it also marks the session's armed logout notice
	// ended with reason; revoking twice is not an error and appends no
	// entry; an unknown id is store.ErrNotFound.
	RevokeSession(ctx context.Context, id, reason string, at time.Time, ev store.AuditEvent) error
	// RevokeUserSessions ends all the user's live sessions but except, and
	// appends ev and one revocation-feed entry per session ended, and
	// marks their armed logout notices ended with reason, in one
	// transaction, returning how many it ended.
	RevokeUserSessions(ctx context.Context, userID, except, reason string, at time.Time, ev store.AuditEvent) (int, error)
	// PruneRevocations deletes the revocation-feed entries revoked before
	// before (one revoked at before exactly is kept) and returns how many.
	PruneRevocations(ctx context.Context, before time.Time) (int, error)

	// AppendAudit stores one event.
	AppendAudit(ctx context.Context, ev store.AuditEvent) error
	// AuditEvents returns the events matching f, newest first, at most
	// f.Limit of them (see store.AuditFilter).
	AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
}

// DefaultScope is the scope of first-party access tokens unless configured.
const DefaultScope = "api"

// Grantee is whom a session's tokens are issued to: the client (the
// client_id claim, RFC 9068 §2.2), the resource servers they are for (aud,
// RFC 9068 §3, RFC 8707) and the scope they carry (RFC 9068 §2.2.3), fixed
// at login and issued again at every refresh. The first-party login API's
// grantee is the built-in first-party client (Engine.FirstParty); an OAuth
// client's comes from its registration and its request.
type Grantee struct {
	ClientID string
	// Audience empty means the issuer's default audience.
	Audience []string
	Scope    string
	// AccessTTL, when not zero, shortens the session's access tokens'
	// lifetime below the issuer's (never lengthens it: the revocation
	// feed keeps a revocation one issuer lifetime, so a longer-lived
	// token would outlive it at the guards). Lifetime, when not zero,
	// shortens the session's absolute lifetime below the engine's. Both
	// come from the client's registration.
	AccessTTL time.Duration
	Lifetime  time.Duration
}

// Config holds the engine's policy.
type Config struct {
	// ClientID names the first-party client in sessions and tokens.
	// Default "gatehouse".
	ClientID string
	// Scope is the scope claim (RFC 9068 §2.2.3) of first-party access
	// tokens: what a resource server's guard can require of a session
	// token, as it would of an OAuth client's. Default "api".
	Scope string
	// Grace is how long after a rotation the spent token may be presented
	// again and receive the same successor. Zero turns the window off.
	Grace time.Duration
	// IdleTimeout ends a session not refreshed for this long.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after the user authenticated,
	// however active it is.
	Lifetime time.Duration
	// Retention is how long an ended session stays in the registry (for
	// users and admins to see) before the pruning job deletes it.
	Retention time.Duration
	// RevocationWindow is how long after a revocation an access token of
	// the session can still pass a verifier: the access-token lifetime
	// plus the verifiers' clock leeway on exp (RFC 7519 §4.1.4). Feed
	// entries older than that protect nothing and are pruned. Default:
	// the issuer's token lifetime.
	RevocationWindow time.Duration
}

// Deps are the engine's collaborators. Admission and Limiter may be nil
// (no bound, no brute-force defence: tests and tools only).
type Deps struct {
	Store     Store
	Hasher    *password.Hasher
	Tokens    *token.Issuer
	CSRF      *csrf.Keyed
	Clock     clock.Clock
	Log       *slog.Logger
	Admission *password.Admission
	Limiter   Limiter
	// Notify, when set, is called after every committed revocation, so
	// that the revocation feed publishes it at once instead of at its next
	// poll. It must not block.
	Notify func()
}

// Engine runs logins, refreshes and logouts.
type Engine struct {
	store     Store
	hasher    *password.Hasher
	tokens    *token.Issuer
	csrf      *csrf.Keyed
	clock     clock.Clock
	log       *slog.Logger
	admission *password.Admission
	limiter   Limiter
	notify    func()
	cfg       Config
}

// New returns an Engine.
func New(d Deps, cfg Config) *Engine {
	if cfg.ClientID == "" {
		cfg.ClientID = "gatehouse"
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.RevocationWindow <= 0 && d.Tokens != nil {
		cfg.RevocationWindow = d.Tokens.TTL()
	}
	notify := d.Notify
	if notify == nil {
		notify = func() {}
	}
	return &Engine{store: d.Store, hasher: d.Hasher, tokens: d.Tokens, csrf: d.CSRF, clock: d.Clock, log: d.Log,
		admission: d.Admission, limiter: d.Limiter, notify: notify, cfg: cfg}
}

// hashing runs fn inside the memory budget for password hashing.
func (e *Engine) hashing(ctx context.Context, fn func()) error {
	if e.admission != nil {
		release, err := e.admission.Acquire(ctx)
		if err != nil {
			return ErrBusy
		}
		defer release()
	}
	fn()
	return nil
}

// Client describes who is on the other end of a request.
type Client struct {
	IP        string
	UserAgent string
}

// Grant is what a login or refresh hands back to the client.
type Grant struct {
	User             store.User
	Session          store.Session
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	CSRFToken        string
}

// FirstParty is the built-in first-party client, the grantee of the
// first-party login API's sessions: the configured client id and scope,
// and the issuer's default audience.
func (e *Engine) FirstParty() Grantee {
	return Grantee{ClientID: e.cfg.ClientID, Scope: e.cfg.Scope}
}

// Login is LoginFor the first-party client.
func (e *Engine) Login(ctx context.Context, username, pw string, cl Client) (*Grant, error) {
	return e.LoginFor(ctx, e.FirstParty(), username, pw, cl)
}

// LoginFor checks the credentials (Authenticate) and starts a new session
// for gr.
func (e *Engine) LoginFor(ctx context.Context, gr Grantee, username, pw string, cl Client) (*Grant, error) {
	if gr.ClientID == "" {
		return nil, fmt.Errorf("%w: no client", ErrInvalidInput)
	}
	u, err := e.Authenticate(ctx, username, pw, cl)
	if err != nil {
		return nil, err
	}
	return e.start(ctx, gr, u, cl, e.clock.Now())
}

// Authenticate checks the credentials and returns the user they prove,
// without starting a session: the provider's login page authenticates
// first and starts the session once the user has consented (Start). Every
// failure of the credentials themselves is ErrInvalidCredentials and costs
// one password hash, whether or not the user exists. The brute-force
// defence runs first: a refused attempt (*RateLimitError) never reaches
// the hash, so it is no oracle for the password.
func (e *Engine) Authenticate(ctx context.Context, username, pw string, cl Client) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	if len(pw) == 0 || len(pw) > password.MaxBytes {
		return store.User{}, fmt.Errorf("%w: password length", ErrInvalidInput)
	}
	now := e.clock.Now()
	if err := e.allow(ctx, cl, name, now); err != nil {
		return store.User{}, err
	}
	u, err := e.store.UserByUsername(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("session: login: %w", err)
	}
	found := err == nil
	var ok bool
	var pad time.Duration
	herr := e.hashing(ctx, func() {
		if !found {
			e.hasher.CheckNobody(pw)
			return
		}
		var err error
		if ok, pad, err = e.hasher.CheckLogin(pw, u.PasswordHash); err != nil {
			e.log.Error("stored password hash is malformed", "user_id", u.ID, "err", err)
		}
	})
	if herr != nil {
		return store.User{}, herr
	}
	if pad > 0 {
		// A hash older than the current parameters failed: the answer
		// waits as long as a current one would have taken, outside the
		// hashing budget (CheckLogin).
		wait(ctx, pad)
	}
	if !found || !ok || u.Disabled {
		detail := "unknown user"
		switch {
		case found && !ok:
			detail = "wrong password"
		case found:
			detail = "user disabled"
		}
		e.credentialFailure(ctx, "login_failure", u.ID, name, detail, cl, now)
		return store.User{}, ErrInvalidCredentials
	}
	e.limitSuccess(ctx, cl, name, now)
	if e.hasher.NeedsRehash(u.PasswordHash) {
		e.rehash(ctx, u, pw)
	}
	return u, nil
}

// Start opens a session of gr for the user Authenticate returned at
// authTime (the auth_time claim, OpenID Connect Core §2). The user is read
// again: one disabled, deleted or whose password changed since then
// (another CredentialVersion) gets no session, ErrInvalidCredentials.
func (e *Engine) Start(ctx context.Context, gr Grantee, authenticated store.User, authTime time.Time, cl Client) (*Grant, error) {
	if gr.ClientID == "" {
		return nil, fmt.Errorf("%w: no client", ErrInvalidInput)
	}
	u, err := e.store.UserByID(ctx, authenticated.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidCredentials
	case err != nil:
		return nil, fmt.Errorf("session: start: %w", err)
	case u.Disabled || u.CredentialVersion != authenticated.CredentialVersion:
		return nil, ErrInvalidCredentials
	}
	return e.start(ctx, gr, u, cl, authTime)
}

// wait sleeps for d of real time, or until ctx ends. It is real time on
// purpose, not the engine's clock: it pads what a client measures.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// allow asks the brute-force defence whether a password for the account
// may be tried from the client now. When the defence cannot tell (its
// shared store is unreachable) the attempt is refused with that error,
// before any hashing: no guess goes uncounted, and the answer says
// nothing about the password.
func (e *Engine) allow(ctx context.Context, cl Client, name string, now time.Time) error {
	if e.limiter == nil {
		return nil
	}
	ok, retry, why, err := e.limiter.Allow(ctx, cl.IP, name, now)
	if err != nil {
		return fmt.Errorf("session: login limits: %w", err)
	}
	if !ok {
		e.log.Info("password attempt refused by rate limit", "reason", string(why), "ip", cl.IP, "retry_after", retry)
		return &RateLimitError{RetryAfter: retry, Reason: why}
	}
	return nil
}

// credentialFailure records a wrong password (or unknown or disabled
// user) in the audit log and the brute-force defence, with the limit it
// tripped if any.
func (e *Engine) credentialFailure(ctx context.Context, event, userID, name, detail string, cl Client, now time.Time) {
	e.audit(ctx, store.AuditEvent{Type: event, UserID: userID, Outcome: "failure", Detail: detail}, cl)
	if e.limiter != nil {
		tripped, err := e.limiter.Failure(ctx, cl.IP, name, now)
		if err != nil {
			// The answer stays "invalid credentials": the guess was wrong,
			// and a 5xx would only make the client retry it. The next
			// Allow fails closed while the store stays down.
			e.log.Error("recording a failed login in the login limits failed", "ip", cl.IP, "err", err)
		} else if tripped != "" {
			e.audit(ctx, store.AuditEvent{Type: "rate_limit_tripped", UserID: userID, Outcome: "failure", Detail: string(tripped)}, cl)
		}
	}
}

// limitSuccess clears the client's back-off for the account after the
// right password. Failing that is logged, not returned: the user has
// proved who they are, and an uncleared back-off only slows their next
// wrong password from there.
func (e *Engine) limitSuccess(ctx context.Context, cl Client, name string, now time.Time) {
	if e.limiter == nil {
		return
	}
	if err := e.limiter.Success(ctx, cl.IP, name, now); err != nil {
		e.log.Warn("clearing the login back-off failed", "ip", cl.IP, "err", err)
	}
}

// start opens a new session of gr for u, who proved who they are at
// authTime, and hands out its first tokens.
func (e *Engine) start(ctx context.Context, gr Grantee, u store.User, cl Client, authTime time.Time) (*Grant, error) {
	now := e.clock.Now()
	s := store.Session{
		ID:                newID(),
		UserID:            u.ID,
		ClientID:          gr.ClientID,
		Audience:          gr.Audience,
		Scope:             gr.Scope,
		AuthTime:          authTime,
		CreatedAt:         now,
		LastUsedAt:        now,
		ExpiresAt:         authTime.Add(shorter(e.cfg.Lifetime, gr.Lifetime)),
		AccessTTL:         gr.AccessTTL,
		CreatedIP:         cl.IP,
		CreatedUserAgent:  cl.UserAgent,
		LastIP:            cl.IP,
		LastUserAgent:     cl.UserAgent,
		Device:            DeviceLabel(cl.UserAgent),
		CredentialVersion: u.CredentialVersion,
	}
	rt, rtHash := newRefreshToken()
	g, err := e.grant(ctx, u, s, rt)
	if err != nil {
		return nil, err
	}
	g.Session.LastJTI, g.Session.CSRFHash = g.jti, csrf.Hash(g.CSRFToken)
	if err := e.store.CreateSession(ctx, g.Session, store.RefreshToken{Hash: rtHash, SessionID: s.ID, CreatedAt: now}); err != nil {
		return nil, fmt.Errorf("session: create: %w", err)
	}
	e.audit(ctx, store.AuditEvent{Type: "login_success", UserID: u.ID, SessionID: s.ID, Outcome: "success"}, cl)
	return &g.Grant, nil
}

func (e *Engine) rehash(ctx context.Context, u store.User, pw string) {
	var fresh string
	if err := e.hashing(ctx, func() { fresh = e.hasher.Hash(pw) }); err != nil {
		return // busy: the next login tries again
	}
	_, err := e.store.UpdateUser(ctx, u.ID, func(x *store.User) error {
		if x.PasswordHash == u.PasswordHash { // not changed meanwhile
			x.PasswordHash = fresh
		}
		return nil
	})
	if err != nil {
		// The login itself stands; the next login tries again.
		e.log.Warn("password rehash failed", "user_id", u.ID, "err", err)
	}
}

type grant struct {
	Grant
	jti string
}

// grant mints the CSRF token and then the access token for the session.
// The CSRF token comes first because the access token carries its hash
// (csrf_hash): a guard in another process, without Gatehouse's CSRF key,
// checks a cookie-borne request's X-XSRF-TOKEN against the claim of the
// access cookie it came with, and the two were handed out as one pair.
func (e *Engine) grant(ctx context.Context, u store.User, s store.Session, rt string) (grant, error) {
	csrfToken := e.csrf.Mint(s.ID)
	at, jti, exp, err := e.tokens.Issue(ctx, token.Subject{
		UserID:    u.ID,
		Username:  u.Username,
		SessionID: s.ID,
		ClientID:  s.ClientID,
		Audience:  s.Audience,
		AuthTime:  s.AuthTime,
		Roles:     u.Roles,
		Scope:     e.scope(s),
		NotAfter:  s.ExpiresAt,
		TTL:       s.AccessTTL,
		CSRFHash:  csrf.ClaimHash(csrfToken),
	})
	if err != nil {
		return grant{}, fmt.Errorf("session: issue access token: %w", err)
	}
	return grant{jti: jti, Grant: Grant{
		User:             u,
		Session:          s,
		AccessToken:      at,
		AccessExpiresAt:  exp,
		RefreshToken:     rt,
		RefreshExpiresAt: e.refreshExpiry(s),
		CSRFToken:        csrfToken,
	}}, nil
}

// shorter is limit, or override when that is set and shorter.
func shorter(limit, override time.Duration) time.Duration {
	if override > 0 && override < limit {
		return override
	}
	return limit
}

// scope is the session's scope: the one granted at login, or for a
// session from before sessions recorded it, the first-party scope.
func (e *Engine) scope(s store.Session) string {
	if s.Scope == "" {
		return e.cfg.Scope
	}
	return s.Scope
}

// refreshExpiry is when the session's current refresh token stops working
// if unused: the idle deadline, capped by the absolute one.
func (e *Engine) refreshExpiry(s store.Session) time.Time {
	idle := s.LastUsedAt.Add(e.cfg.IdleTimeout)
	if s.ExpiresAt.Before(idle) {
		return s.ExpiresAt
	}
	return idle
}

// CSRFValid reports whether tok is a CSRF token minted for the session.
func (e *Engine) CSRFValid(sid, tok string) bool { return e.csrf.Valid(sid, tok) }

// event stamps ev with the time and client and emits it through slog; the
// caller stores it, alone or inside the transaction it describes.
func (e *Engine) event(ev store.AuditEvent, cl Client) store.AuditEvent {
	ev.Time = e.clock.Now()
	ev.IP, ev.UserAgent = cl.IP, cl.UserAgent
	e.log.LogAttrs(context.Background(), slog.LevelInfo, "audit", slog.String("type", ev.Type),
		slog.String("user_id", ev.UserID), slog.String("actor_id", ev.ActorID), slog.String("session_id", ev.SessionID),
		slog.String("ip", ev.IP), slog.String("user_agent", ev.UserAgent), slog.String("outcome", ev.Outcome),
		slog.String("detail", ev.Detail))
	return ev
}

// Record stores and logs an audit event for an act done beside the
// engine, through the same trail (the client registry's registrations):
// stamped with the time and the client, never failing the act.
func (e *Engine) Record(ctx context.Context, ev store.AuditEvent, cl Client) { e.audit(ctx, ev, cl) }

// audit stores a stand-alone event. A failed audit write is logged, not
// returned: the action it records has already happened.
func (e *Engine) audit(ctx context.Context, ev store.AuditEvent, cl Client) {
	if err := e.store.AppendAudit(ctx, e.event(ev, cl)); err != nil {
		e.log.Error("audit write failed", "type", ev.Type, "err", err)
	}
}
