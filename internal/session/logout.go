package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// SessionOfRefreshToken returns the live session a refresh token belongs
// to, without rotating it: logout uses it when the access token has
// already expired.
func (e *Engine) SessionOfRefreshToken(ctx context.Context, presented string) (store.Session, error) {
	raw, err := ParseRefreshToken(presented)
	if err != nil {
		return store.Session{}, err
	}
	t, err := e.store.RefreshToken(ctx, hashRefreshToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrInvalidRefreshToken
	} else if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	return e.Live(ctx, t.SessionID)
}

// Live returns the session if it is still live (not revoked, not idle, not
// past its lifetime), or ErrSessionEnded.
func (e *Engine) Live(ctx context.Context, sid string) (store.Session, error) {
	s, err := e.store.SessionByID(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrSessionEnded
	} else if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	if s.Revoked() || e.expired(s, e.clock.Now()) != "" {
		return store.Session{}, ErrSessionEnded
	}
	return s, nil
}

// Logout revokes one session. Logging out an ended session is not an error.
func (e *Engine) Logout(ctx context.Context, s store.Session, cl Client) error {
	ev := e.event(store.AuditEvent{Type: "logout", UserID: s.UserID, SessionID: s.ID, Outcome: "success"}, cl)
	if err := e.store.RevokeSession(ctx, s.ID, "logout", e.clock.Now(), ev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("session: logout: %w", err)
	}
	e.notify()
	return nil
}

// LogoutAll revokes every live session of the user except keep (which may
// be empty) and returns how many it ended.
func (e *Engine) LogoutAll(ctx context.Context, userID, keep string, cl Client) (int, error) {
	ev := e.event(store.AuditEvent{Type: "logout_all", UserID: userID, SessionID: keep, Outcome: "success"}, cl)
	n, err := e.store.RevokeUserSessions(ctx, userID, keep, "logout_all", e.clock.Now(), ev)
	if err != nil {
		return 0, fmt.Errorf("session: logout all: %w", err)
	}
	e.notify()
	return n, nil
}

// CurrentRefreshToken returns the live session of a refresh token that is
// its session's current one: neither spent by a rotation nor of an ended
// session (RFC 7662 introspection of a refresh token). It does not rotate.
func (e *Engine) CurrentRefreshToken(ctx context.Context, presented string) (store.Session, error) {
	raw, err := ParseRefreshToken(presented)
	if err != nil {
		return store.Session{}, err
	}
	t, err := e.store.RefreshToken(ctx, hashRefreshToken(raw))
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, ErrInvalidRefreshToken
	} else if err != nil {
		return store.Session{}, fmt.Errorf("session: %w", err)
	}
	if t.Spent() {
		return store.Session{}, ErrInvalidRefreshToken
	}
	return e.Live(ctx, t.SessionID)
}

// EndSession ends a live session for a reason of the protocol's (a
// replayed authorization code, a revoked token), recording it as a
// session_ended audit event. Ending an ended or unknown session is not an
// error.
func (e *Engine) EndSession(ctx context.Context, sid, reason string, cl Client) error {
	s, err := e.store.SessionByID(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	if s.Revoked() {
		return nil
	}
	if err := e.end(ctx, s, reason, cl); !errors.Is(err, ErrSessionEnded) {
		return err
	}
	return nil
}
