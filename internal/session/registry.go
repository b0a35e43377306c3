package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// OwnSessions returns the user's live sessions, newest first.
func (e *Engine) OwnSessions(ctx context.Context, userID string) ([]store.Session, error) {
	return e.store.ListSessions(ctx, store.SessionQuery{UserID: userID, LiveAt: e.clock.Now(), IdleTimeout: e.cfg.IdleTimeout})
}

// Sessions lists sessions for the admin API. live keeps only live ones.
func (e *Engine) Sessions(ctx context.Context, q store.SessionQuery, live bool) ([]store.Session, error) {
	if live {
		q.LiveAt, q.IdleTimeout = e.clock.Now(), e.cfg.IdleTimeout
	}
	return e.store.ListSessions(ctx, q)
}

// RevokeSession ends one session. ownerID, when not empty, must own it:
// a user ending another user's session is told ErrSessionNotFound, the
// same as for a session that does not exist, so ids cannot be probed.
func (e *Engine) RevokeSession(ctx context.Context, actor Actor, sid, ownerID string) (store.Session, error) {
	s, err := e.store.SessionByID(ctx, sid)
	if errors.Is(err, store.ErrNotFound) || (err == nil && ownerID != "" && s.UserID != ownerID) {
		return store.Session{}, ErrSessionNotFound
	} else if err != nil {
		return store.Session{}, fmt.Errorf("session: revoke: %w", err)
	}
	reason := "revoked_by_admin"
	if actor.ID == s.UserID {
		reason = "revoked_by_user"
	}
	ev := e.event(store.AuditEvent{Type: "session_revoked", ActorID: actor.ID, UserID: s.UserID, SessionID: s.ID,
		Outcome: "success", Detail: reason}, actor.Client)
	if err := e.store.RevokeSession(ctx, s.ID, reason, e.clock.Now(), ev); err != nil {
		return store.Session{}, fmt.Errorf("session: revoke: %w", err)
	}
	e.notify()
	return s, nil
}

// ForceLogout ends every session of the user (an admin's "sign out
// everywhere"). Returns ErrUserNotFound for an unknown user.
func (e *Engine) ForceLogout(ctx context.Context, actor Actor, userID string) (int, error) {
	if _, err := e.UserByID(ctx, userID); err != nil {
		return 0, err
	}
	ev := e.event(store.AuditEvent{Type: "force_logout", ActorID: actor.ID, UserID: userID, Outcome: "success"}, actor.Client)
	n, err := e.store.RevokeUserSessions(ctx, userID, "", "force_logout", e.clock.Now(), ev)
	if err != nil {
		return 0, fmt.Errorf("session: force logout: %w", err)
	}
	e.notify()
	return n, nil
}

// Audit returns audit events matching f, newest first.
func (e *Engine) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	return e.store.AuditEvents(ctx, f)
}

// RecordAdminAccess audits an administrative read (a listing or lookup),
// so that who looked at what is on record as well as who changed what.
func (e *Engine) RecordAdminAccess(ctx context.Context, actor Actor, what, userID string) {
	e.audit(ctx, store.AuditEvent{Type: "admin_access", ActorID: actor.ID, UserID: userID, Outcome: "success", Detail: what}, actor.Client)
}

// Prune deletes sessions that ended more than the retention period ago,
// and revocation-feed entries older than the revocation window (no access
// token of their sessions can pass a verifier any more). It returns how
// many sessions it deleted.
func (e *Engine) Prune(ctx context.Context) (int, error) {
	now := e.clock.Now()
	n, err := e.store.PruneSessions(ctx, now.Add(-e.cfg.Retention), e.cfg.IdleTimeout)
	if err != nil {
		return n, err
	}
	if _, err := e.store.PruneRevocations(ctx, now.Add(-e.cfg.RevocationWindow)); err != nil {
		return n, fmt.Errorf("session: prune revocations: %w", err)
	}
	return n, nil
}

// RunPruner prunes every interval until ctx ends, logging what it did.
func (e *Engine) RunPruner(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := e.Prune(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("pruning ended sessions failed", "err", err)
		} else if n > 0 {
			e.log.Info("pruned ended sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EndClientSessions ends every live session of the user with the client,
// for a reason (the user withdrew the client's consent), and returns how
// many it ended.
func (e *Engine) EndClientSessions(ctx context.Context, userID, clientID, reason string, cl Client) (int, error) {
	ss, err := e.store.ListSessions(ctx, store.SessionQuery{UserID: userID})
	if err != nil {
		return 0, fmt.Errorf("session: end client sessions: %w", err)
	}
	n := 0
	for _, s := range ss {
		if s.ClientID != clientID || s.Revoked() {
			continue
		}
		ev := e.event(store.AuditEvent{Type: "session_ended", UserID: s.UserID, SessionID: s.ID, Outcome: "success", Detail: reason}, cl)
		if err := e.store.RevokeSession(ctx, s.ID, reason, e.clock.Now(), ev); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("session: end client sessions: %w", err)
		}
		n++
	}
	if n > 0 {
		e.notify()
	}
	return n, nil
}
