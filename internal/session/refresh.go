package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// RefreshTokenPrefix marks Gatehouse refresh tokens, so that secret
// scanners and humans can recognise one that leaked into a log or a paste.
const RefreshTokenPrefix = "ghr_"

const refreshTokenBytes = 32 // 256 bits from crypto/rand

var refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(refreshTokenBytes)

// newRefreshToken returns a fresh refresh token and its stored hash.
func newRefreshToken() (string, []byte) {
	b := make([]byte, refreshTokenBytes)
	rand.Read(b)
	tok := RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return tok, hashRefreshToken(b)
}

// ParseRefreshToken checks a presented refresh token's format and returns
// its raw bytes. It does no I/O, so garbage costs nothing.
func ParseRefreshToken(tok string) ([]byte, error) {
	if len(tok) != refreshTokenLen || !strings.HasPrefix(tok, RefreshTokenPrefix) {
		return nil, ErrInvalidRefreshToken
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok[len(RefreshTokenPrefix):])
	if err != nil || len(b) != refreshTokenBytes {
		return nil, ErrInvalidRefreshToken
	}
	return b, nil
}

func hashRefreshToken(raw []byte) []byte {
	h := sha256.Sum256(raw)
	return h[:]
}

// successor is what a rotation seals into the spent token's row so that a
// duplicate presentation inside the grace window receives the same pair.
type successor struct {
	RefreshToken string    `json:"rt"`
	AccessToken  string    `json:"at"`
	AccessExp    time.Time `json:"at_exp"`
	CSRFToken    string    `json:"csrf"`
}

// graceLabel names the key that seals a spent token's successor,
// derived from the spent token's own bytes (sealed.Key). The store keeps
// only SHA-256(raw), from which it cannot be computed: a stolen database
// opens no blob. The spent token's hash is the associated data, so a blob
// moved to another row does not open.
const graceLabel = "gatehouse refresh grace v1"

func seal(raw, hash []byte, s successor) ([]byte, error) {
	return sealed.Seal(sealed.Key(raw, graceLabel), hash, s)
}

func unseal(raw, hash, blob []byte) (successor, error) {
	var s successor
	err := sealed.Open(sealed.Key(raw, graceLabel), hash, blob, &s)
	return s, err
}

// Refresh rotates a refresh token: the presented token is spent and a new
// access token, refresh token and CSRF token are issued. The user is
// re-checked, so a disabled user or a changed password ends the session and
// changed roles show in the new access token.
//
// A spent token presented again within the grace window, while its
// successor is still the session's current token, gets that same successor
// (RFC 9700 §4.14.2 allows this leniency; it keeps two tabs refreshing at
// once, or a retry after a lost response, from logging the user out).
// Any other presentation of a spent token is treated as theft: the session
// is revoked in its own committed transaction, a refresh_token_reuse audit
// event is written with it, and ErrRefreshReuse is returned.
func (e *Engine) Refresh(ctx context.Context, presented string, cl Client) (*Grant, error) {
	return e.RefreshFor(ctx, e.cfg.ClientID, presented, cl)
}

// RefreshFor is Refresh for the client clientID: a refresh token of
// another client's session is ErrInvalidRefreshToken, before it is
// looked at any further, so presenting it neither rotates it nor counts
// as reuse. Refresh is RefreshFor the first-party client: an OAuth
// client's refresh token, which its client must authenticate to use (RFC
// 6749 §6), does not rotate at the first-party API.
func (e *Engine) RefreshFor(ctx context.Context, clientID, presented string, cl Client) (*Grant, error) {
	raw, err := ParseRefreshToken(presented)
	if err != nil {
		return nil, err
	}
	hash := hashRefreshToken(raw)
	for attempt := 0; ; attempt++ {
		t, err := e.store.RefreshToken(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrInvalidRefreshToken
		} else if err != nil {
			return nil, fmt.Errorf("session: refresh: %w", err)
		}
		s, err := e.store.SessionByID(ctx, t.SessionID)
		if err != nil {
			return nil, fmt.Errorf("session: refresh: %w", err)
		}
		if s.ClientID != clientID {
			return nil, ErrInvalidRefreshToken
		}
		if s.Revoked() {
			return nil, ErrSessionEnded
		}
		if t.Spent() {
			return e.duplicate(ctx, raw, t, s, cl)
		}
		g, err := e.rotate(ctx, raw, t, s, cl)
		if errors.Is(err, store.ErrAlreadySpent) && attempt == 0 {
			// Another request rotated this token (or ended the session)
			// between our read and our write: read again and decide.
			continue
		}
		return g, err
	}
}

func (e *Engine) rotate(ctx context.Context, raw []byte, t store.RefreshToken, s store.Session, cl Client) (*Grant, error) {
	now := e.clock.Now()
	if reason := e.expired(s, now); reason != "" {
		return nil, e.end(ctx, s, reason, cl)
	}
	u, err := e.store.UserByID(ctx, s.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, e.end(ctx, s, "user_deleted", cl)
	case err != nil:
		return nil, fmt.Errorf("session: refresh: %w", err)
	case u.Disabled:
		return nil, e.end(ctx, s, "user_disabled", cl)
	case u.CredentialVersion != s.CredentialVersion:
		return nil, e.end(ctx, s, "credentials_changed", cl)
	}

	s.LastUsedAt, s.LastIP, s.LastUserAgent = now, cl.IP, cl.UserAgent
	rt, rtHash := newRefreshToken()
	g, err := e.grant(ctx, u, s, rt)
	if err != nil {
		return nil, err
	}
	blob, err := seal(raw, t.Hash, successor{RefreshToken: rt, AccessToken: g.AccessToken, AccessExp: g.AccessExpiresAt, CSRFToken: g.CSRFToken})
	if err != nil {
		return nil, fmt.Errorf("session: seal successor: %w", err)
	}
	g.Session.LastJTI, g.Session.CSRFHash = g.jti, csrf.Hash(g.CSRFToken)
	err = e.store.RotateRefreshToken(ctx, store.Rotation{
		OldHash:   t.Hash,
		Next:      store.RefreshToken{Hash: rtHash, SessionID: s.ID, CreatedAt: now},
		GraceBlob: blob,
		Now:       now,
		IP:        cl.IP,
		UserAgent: cl.UserAgent,
		JTI:       g.jti,
		CSRFHash:  g.Session.CSRFHash,
		Audit:     e.event(store.AuditEvent{Type: "refresh", UserID: s.UserID, SessionID: s.ID, Outcome: "success"}, cl),
	})
	if err != nil {
		return nil, err
	}
	return &g.Grant, nil
}

// expired names why a live session has run out, or returns "".
func (e *Engine) expired(s store.Session, now time.Time) string {
	switch {
	case !now.Before(s.ExpiresAt):
		return "lifetime_exceeded"
	case !now.Before(s.LastUsedAt.Add(e.cfg.IdleTimeout)):
		return "idle_timeout"
	}
	return ""
}

// end revokes a session that may no longer be refreshed.
func (e *Engine) end(ctx context.Context, s store.Session, reason string, cl Client) error {
	ev := e.event(store.AuditEvent{Type: "session_ended", UserID: s.UserID, SessionID: s.ID, Outcome: "failure", Detail: reason}, cl)
	if err := e.store.RevokeSession(ctx, s.ID, reason, e.clock.Now(), ev); err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	e.notify()
	return ErrSessionEnded
}

// duplicate handles a spent token: the grace window's same successor, or
// theft.
func (e *Engine) duplicate(ctx context.Context, raw []byte, t store.RefreshToken, s store.Session, cl Client) (*Grant, error) {
	now := e.clock.Now()
	if e.cfg.Grace > 0 && now.Sub(t.SpentAt) <= e.cfg.Grace && e.expired(s, now) == "" {
		// Only the immediately previous token qualifies: its successor must
		// still be the current one (an older ancestor is stale lineage).
		next, err := e.store.RefreshToken(ctx, t.SuccessorHash)
		if err == nil && !next.Spent() && next.SessionID == s.ID {
			if succ, err := unseal(raw, t.Hash, t.GraceBlob); err == nil {
				u, err := e.store.UserByID(ctx, s.UserID)
				if err != nil {
					return nil, fmt.Errorf("session: refresh: %w", err)
				}
				return &Grant{
					User:             u,
					Session:          s,
					AccessToken:      succ.AccessToken,
					AccessExpiresAt:  succ.AccessExp,
					RefreshToken:     succ.RefreshToken,
					RefreshExpiresAt: e.refreshExpiry(s),
					CSRFToken:        succ.CSRFToken,
				}, nil
			}
		}
	}
	ev := e.event(store.AuditEvent{Type: "refresh_token_reuse", UserID: s.UserID, SessionID: s.ID, Outcome: "failure",
		Detail: "spent refresh token presented " + now.Sub(t.SpentAt).Round(time.Millisecond).String() + " after rotation"}, cl)
	if err := e.store.RevokeSession(ctx, s.ID, "refresh_token_reuse", now, ev); err != nil {
		return nil, fmt.Errorf("session: revoke after reuse: %w", err)
	}
	e.notify()
	return nil, ErrRefreshReuse
}
