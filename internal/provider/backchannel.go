package provider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// OpenID Connect Back-Channel Logout 1.0, the sending side: when a session
// of a client registered with a backchannel_logout_uri ends, for whatever
// reason, the provider POSTs a logout token to that URI (§2.5).
//
// What is owed is kept in the store, not in memory, so that it survives a
// restart and is sent by one node of many: every session of such a client
// has a logout notice from its start (store.LogoutNotice), which the
// transaction that ends the session marks ended (a revocation, the user's
// deletion, which deletes the session itself), or which a claim finds
// ended (the idle or absolute deadline passed, which changes no row). A
// Backchannel claims due notices under a lease, sends them, and settles
// them: sent, rescheduled with back-off, or given up.

// LogoutTokenType is the JOSE typ of a logout token: explicit typing
// (Back-Channel Logout 1.0 §2.4, RFC 8725 §3.11), so that it cannot be
// taken for an ID token, which ID-token keys also sign.
const LogoutTokenType = "logout+jwt" // #nosec G101 -- a JOSE typ, not a credential

// BackchannelLogoutEvent is the member of a logout token's events claim
// that makes it one (§2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// Audit event types of back-channel logout: one per notice, when it is
// sent, or when every attempt has failed.
const (
	EventBackchannelSent   = "backchannel_logout_sent"
	EventBackchannelFailed = "backchannel_logout_failed"
)

const (
	defaultBackchannelPoll    = 5 * time.Second
	defaultBackchannelTimeout = 5 * time.Second
	defaultLogoutTokenTTL     = 2 * time.Minute
	// noticeBatch is how many notices one claim takes, all sent at once:
	// a claim's lease must outlast the slowest of them.
	noticeBatch = 16
	// noticeRetention is how long settled notices are kept (for an
	// operator to look at; the audit trail is the record).
	noticeRetention = 7 * 24 * time.Hour
)

// DefaultBackchannelRetries are the waits after each failed attempt: five
// attempts, the last about ten minutes after the first.
var DefaultBackchannelRetries = []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 7 * time.Minute}

// BackchannelDeps are the sender's collaborators, all required but Log.
type BackchannelDeps struct {
	Store   LogoutNotices
	Clients *Registry
	// IDKeys sign the logout tokens: relying parties verify them as they
	// verify ID tokens, with the provider's JWKS.
	IDKeys Keys
	Audit  Recorder
	// HTTP posts the tokens. It must bound every request (a timeout) and
	// follow no redirect: the token goes to the registered URI or nowhere.
	HTTP  *http.Client
	Clock clock.Clock
	Log   *slog.Logger
}

// BackchannelConfig is the sender's policy.
type BackchannelConfig struct {
	// Issuer is the provider's: the iss of every logout token.
	Issuer *url.URL
	// IdleTimeout is the engine's (session.Config.IdleTimeout): a
	// session unused that long has ended.
	IdleTimeout time.Duration
	// PollInterval is how often the store is looked at without a Wake
	// (default 5 s): sessions that time out, and revocations made by
	// another node or the command line, are found then.
	PollInterval time.Duration
	// Timeout bounds one delivery (default 5 s).
	Timeout time.Duration
	// Retries are the waits after each failed attempt; there are
	// len(Retries)+1 attempts (default DefaultBackchannelRetries).
	Retries []time.Duration
	// TokenTTL is a logout token's life (default 2 min): it is sent at
	// once, and a new one is signed for every attempt.
	TokenTTL time.Duration
}

// Backchannel sends the logout tokens the store says are owed.
type Backchannel struct {
	d     BackchannelDeps
	cfg   BackchannelConfig
	lease time.Duration
	wake  chan struct{}
	done  chan struct{}
}

// NewBackchannel returns a Backchannel; Run runs it.
func NewBackchannel(d BackchannelDeps, cfg BackchannelConfig) (*Backchannel, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("provider: back-channel logout: no issuer")
	}
	if d.Store == nil || d.Clients == nil || d.IDKeys == nil || d.Audit == nil || d.HTTP == nil || d.Clock == nil {
		return nil, errors.New("provider: back-channel logout: a dependency is missing")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = defaultBackchannelPoll
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultBackchannelTimeout
	}
	if cfg.Retries == nil {
		cfg.Retries = DefaultBackchannelRetries
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = defaultLogoutTokenTTL
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	// A claim's notices are sent at once, each bounded by the timeout;
	// the lease outlasts them with room to spare, so that no other node
	// takes a notice still being sent.
	return &Backchannel{d: d, cfg: cfg, lease: max(2*time.Minute, 4*cfg.Timeout),
		wake: make(chan struct{}, 1), done: make(chan struct{})}, nil
}

// Wake makes Run look at the store now rather than at its next poll: the
// engine calls it after every revocation it commits (session.Deps.Notify).
// It never blocks.
func (b *Backchannel) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Done is closed when Run has returned.
func (b *Backchannel) Done() <-chan struct{} { return b.done }

// Run sends what is owed, at every poll and Wake, until ctx ends, and
// prunes settled notices hourly. Call it once.
func (b *Backchannel) Run(ctx context.Context) {
	defer close(b.done)
	poll := time.NewTicker(b.cfg.PollInterval)
	defer poll.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		b.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-b.wake:
		case <-prune.C:
			if n, err := b.d.Store.PruneLogoutNotices(ctx, b.d.Clock.Now().Add(-noticeRetention)); err != nil && ctx.Err() == nil {
				b.d.Log.Warn("pruning back-channel logout notices failed", "err", err)
			} else if n > 0 {
				b.d.Log.Info("pruned back-channel logout notices", "count", n)
			}
		}
	}
}

// sweep claims and sends due notices until none are left.
func (b *Backchannel) sweep(ctx context.Context) {
	for ctx.Err() == nil {
		now := b.d.Clock.Now()
		ns, err := b.d.Store.ClaimLogoutNotices(ctx, store.NoticeClaim{Now: now, IdleTimeout: b.cfg.IdleTimeout,
			Lease: rand.Text(), LeaseUntil: now.Add(b.lease), Limit: noticeBatch})
		if err != nil {
			if ctx.Err() == nil {
				b.d.Log.Warn("claiming back-channel logout notices failed", "err", err)
			}
			return
		}
		var wg sync.WaitGroup
		for _, n := range ns {
			wg.Go(func() { b.deliver(ctx, n) })
		}
		wg.Wait()
		if len(ns) < noticeBatch {
			return
		}
	}
}

// deliver makes one attempt at a claimed notice and settles it.
func (b *Backchannel) deliver(ctx context.Context, n store.LogoutNotice) {
	log := b.d.Log.With("session_id", n.SessionID, "client_id", n.ClientID, "reason", n.Reason)
	c, err := b.d.Clients.Get(ctx, n.ClientID)
	if errors.Is(err, ErrUnknownClient) || (err == nil && c.BackchannelLogoutURI == "") {
		// Nobody to tell: the client was deleted, or has no URI any more.
		log.Info("back-channel logout dropped: the client no longer takes it")
		b.settle(ctx, log, store.NoticeResult{SessionID: n.SessionID, Lease: n.Lease, Attempts: n.Attempts,
			DoneAt: b.d.Clock.Now(), Outcome: store.NoticeDropped})
		return
	}
	if err == nil {
		err = b.post(ctx, c.BackchannelLogoutURI, n)
	}
	if ctx.Err() != nil {
		return // shutting down: the lease lapses and the attempt is made again
	}
	attempts := n.Attempts + 1
	r := store.NoticeResult{SessionID: n.SessionID, Lease: n.Lease, Attempts: attempts, DoneAt: b.d.Clock.Now()}
	ev := store.AuditEvent{UserID: n.UserID, SessionID: n.SessionID}
	switch {
	case err == nil:
		r.Outcome = store.NoticeSent
		ev.Type, ev.Outcome = EventBackchannelSent, "success"
		ev.Detail = fmt.Sprintf("client %s, session ended: %s, attempt %d", n.ClientID, n.Reason, attempts)
	case attempts > len(b.cfg.Retries):
		r.Outcome = store.NoticeFailed
		ev.Type, ev.Outcome = EventBackchannelFailed, "failure"
		ev.Detail = fmt.Sprintf("client %s, session ended: %s, gave up after %d attempts, last: %v", n.ClientID, n.Reason, attempts, err)
		log.Warn("back-channel logout failed for good", "attempts", attempts, "err", err)
	default:
		r.RetryAt = r.DoneAt.Add(b.cfg.Retries[attempts-1])
		log.Warn("back-channel logout attempt failed", "attempt", attempts, "retry_at", r.RetryAt, "err", err)
	}
	b.settle(ctx, log, r)
	if ev.Type != "" {
		b.d.Audit.Record(ctx, ev, session.Client{})
	}
}

func (b *Backchannel) settle(ctx context.Context, log *slog.Logger, r store.NoticeResult) {
	err := b.d.Store.SettleLogoutNotice(ctx, r)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The lease lapsed and another claim took the notice: it is that
		// claim's now.
		log.Warn("back-channel logout notice was taken over before it was settled")
	case err != nil && ctx.Err() == nil:
		log.Error("settling a back-channel logout notice failed", "err", err)
	}
}

// logoutClaims are a logout token's claims (Back-Channel Logout 1.0
// §2.4): never a nonce, which would let it pass for an ID token.
type logoutClaims struct {
	Issuer    string              `json:"iss"`
	Audience  []string            `json:"aud"`
	IssuedAt  int64               `json:"iat"`
	Expiry    int64               `json:"exp"`
	ID        string              `json:"jti"`
	Subject   string              `json:"sub"`
	SessionID string              `json:"sid"`
	Events    map[string]struct{} `json:"events"`
}

// logoutToken signs the logout token of the notice's session for its
// client, with an ID-token key and typ logout+jwt.
func (b *Backchannel) logoutToken(ctx context.Context, n store.LogoutNotice) (string, error) {
	key, err := b.d.IDKeys.Signing(ctx)
	if err != nil {
		return "", fmt.Errorf("ID-token key: %w", err)
	}
	now := b.d.Clock.Now()
	return key.SignTyped(LogoutTokenType, logoutClaims{
		Issuer:    b.cfg.Issuer.String(),
		Audience:  []string{n.ClientID},
		IssuedAt:  now.Unix(),
		Expiry:    now.Add(b.cfg.TokenTTL).Unix(),
		ID:        rand.Text(),
		Subject:   n.UserID,
		SessionID: n.SessionID,
		Events:    map[string]struct{}{BackchannelLogoutEvent: {}},
	})
}

// post delivers a fresh logout token to uri (§2.5): a form POST, done
// when the answer is 2xx (§2.8 names 200; 204 is what some frameworks
// send for it).
func (b *Backchannel) post(ctx context.Context, uri string, n store.LogoutNotice) error {
	tok, err := b.logoutToken(ctx, n)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, uri,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Gatehouse back-channel logout")
	resp, err := b.d.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused; the body says nothing we need
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// NoRedirects is an http.Client.CheckRedirect that follows no redirect:
// the answer is the redirect itself, which is not a 2xx and so a failed
// delivery. A logout token goes to the registered URI or nowhere.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
