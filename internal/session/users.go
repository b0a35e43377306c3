package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// MaxRoles and MaxRoleLen bound what a user's roles add to every token.
const (
	MaxRoles   = 32
	MaxRoleLen = 40
)

// NormalizeRoles trims, de-duplicates and sorts roles, refusing empty,
// overlong or oddly-charactered ones (roles travel in every access token).
func NormalizeRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r == "" || len(r) > MaxRoleLen || strings.IndexFunc(r, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c))
		}) >= 0 {
			return nil, fmt.Errorf("%w: role %q: use 1 to %d of a-z A-Z 0-9 and %q", ErrInvalidInput, r, MaxRoleLen, "-_.:")
		}
		out = append(out, r)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxRoles {
		return nil, fmt.Errorf("%w: at most %d roles", ErrInvalidInput, MaxRoles)
	}
	return out, nil
}

// Actor is who performs an administrative action, for the audit trail:
// an admin's user id, or "cli" for the command line.
type Actor struct {
	ID     string
	Client Client
}

// CLI is the actor for the gatehouse command line.
var CLI = Actor{ID: "cli"}

// AddUser creates a user. Returns ErrUserExists or ErrInvalidInput.
func (e *Engine) AddUser(ctx context.Context, actor Actor, username, pw string, roles []string) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if err := password.Validate(pw); err != nil {
		return store.User{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	if roles, err = NormalizeRoles(roles); err != nil {
		return store.User{}, err
	}
	var hash string
	if err := e.hashing(ctx, func() { hash = e.hasher.Hash(pw) }); err != nil {
		return store.User{}, err
	}
	now := e.clock.Now()
	u := store.User{ID: newID(), Username: name, PasswordHash: hash, Roles: roles, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
		return store.User{}, ErrUserExists
	} else if err != nil {
		return store.User{}, fmt.Errorf("session: add user: %w", err)
	}
	e.audit(ctx, store.AuditEvent{Type: "user_created", ActorID: actor.ID, UserID: u.ID, Outcome: "success"}, actor.Client)
	return u, nil
}

// User returns the user with the username. Returns ErrUserNotFound.
func (e *Engine) User(ctx context.Context, username string) (store.User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return store.User{}, ErrUserNotFound
	}
	u, err := e.store.UserByUsername(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrUserNotFound
	}
	return u, err
}

// UserByID returns the user with the id. Returns ErrUserNotFound.
func (e *Engine) UserByID(ctx context.Context, id string) (store.User, error) {
	u, err := e.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrUserNotFound
	}
	return u, err
}

// Users lists users matching q (search is case-folded like usernames).
func (e *Engine) Users(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	q.Search = strings.ToLower(strings.TrimSpace(q.Search))
	return e.store.ListUsers(ctx, q)
}

// HasUsers reports whether any user exists (first start creates an admin).
func (e *Engine) HasUsers(ctx context.Context) (bool, error) {
	n, err := e.store.CountUsers(ctx)
	return n > 0, err
}

// update applies fn to the user with the id and records the change. When
// end is set the user's credential version moves on and every session of
// the user is revoked at once (ASVS 7.4.2), not only at its next refresh.
func (e *Engine) update(ctx context.Context, actor Actor, id, event string, end bool, fn func(*store.User) error) (store.User, error) {
	u, err := e.store.UpdateUser(ctx, id, func(x *store.User) error {
		if err := fn(x); err != nil {
			return err
		}
		if end {
			x.CredentialVersion++
		}
		x.UpdatedAt = e.clock.Now()
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrUserNotFound
	} else if err != nil {
		return store.User{}, err
	}
	ev := e.event(store.AuditEvent{Type: event, ActorID: actor.ID, UserID: u.ID, Outcome: "success"}, actor.Client)
	if end {
		if _, err := e.store.RevokeUserSessions(ctx, u.ID, "", event, e.clock.Now(), ev); err != nil {
			return u, fmt.Errorf("session: end sessions: %w", err)
		}
		e.notify()
		return u, nil
	}
	if err := e.store.AppendAudit(ctx, ev); err != nil {
		e.log.Error("audit write failed", "type", event, "err", err)
	}
	return u, nil
}

// SetPassword replaces the user's password and ends all the user's
// sessions.
func (e *Engine) SetPassword(ctx context.Context, actor Actor, id, pw string) (store.User, error) {
	if err := password.Validate(pw); err != nil {
		return store.User{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	var hash string
	if err := e.hashing(ctx, func() { hash = e.hasher.Hash(pw) }); err != nil {
		return store.User{}, err
	}
	return e.update(ctx, actor, id, "password_changed", true, func(u *store.User) error {
		u.PasswordHash = hash
		return nil
	})
}

// ChangePassword is the user's own password change. It needs the current
// password (ASVS 6.2.3), so a stolen access token or an unattended
// browser is not enough to take the account over; a wrong one counts
// against the login limits like a failed login, so the endpoint is no
// password oracle either. Success ends every session of the user: a
// password is changed because it may be known to someone else, and a
// device that learnt the old one must not stay signed in (ASVS 7.4.3).
// The device making the change gets a fresh session at once, so its user
// stays signed in. Returns ErrInvalidCredentials, ErrInvalidInput,
// *RateLimitError, ErrBusy, ErrSessionEnded or ErrUserNotFound.
func (e *Engine) ChangePassword(ctx context.Context, userID, current, next string, cl Client) (*Grant, error) {
	if err := password.Validate(next); err != nil {
		return nil, fmt.Errorf("%w: new password: %w", ErrInvalidInput, err)
	}
	if len(current) > password.MaxBytes {
		return nil, fmt.Errorf("%w: password length", ErrInvalidInput)
	}
	u, err := e.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.Disabled { // its sessions ended when it was disabled
		return nil, ErrSessionEnded
	}
	now := e.clock.Now()
	if err := e.allow(ctx, cl, u.Username, now); err != nil {
		return nil, err
	}
	var ok bool
	var hash string
	if err := e.hashing(ctx, func() {
		if ok, err = e.hasher.Check(current, u.PasswordHash); ok {
			hash = e.hasher.Hash(next)
		}
	}); err != nil {
		return nil, err
	}
	if err != nil {
		e.log.Error("stored password hash is malformed", "user_id", u.ID, "err", err)
	}
	if !ok {
		e.credentialFailure(ctx, "password_change_failure", u.ID, u.Username, "wrong current password", cl, now)
		return nil, ErrInvalidCredentials
	}
	e.limitSuccess(ctx, cl, u.Username, now)
	u, err = e.update(ctx, Actor{ID: u.ID, Client: cl}, u.ID, "password_changed", true, func(x *store.User) error {
		x.PasswordHash = hash
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e.start(ctx, e.FirstParty(), u, cl, now)
}

// SetDisabled disables (ending every session) or re-enables the user.
func (e *Engine) SetDisabled(ctx context.Context, actor Actor, id string, disabled bool) (store.User, error) {
	event := "user_enabled"
	if disabled {
		event = "user_disabled"
	}
	return e.update(ctx, actor, id, event, disabled, func(u *store.User) error {
		u.Disabled = disabled
		return nil
	})
}

// SetRoles replaces the user's roles; they show in the next access token
// (at the latest after one access-token lifetime).
func (e *Engine) SetRoles(ctx context.Context, actor Actor, id string, roles []string) (store.User, error) {
	roles, err := NormalizeRoles(roles)
	if err != nil {
		return store.User{}, err
	}
	return e.update(ctx, actor, id, "roles_changed", false, func(u *store.User) error {
		u.Roles = roles
		return nil
	})
}

// DeleteUser removes the user and every session of it. The audit trail
// about the user is kept.
func (e *Engine) DeleteUser(ctx context.Context, actor Actor, id string) error {
	ev := e.event(store.AuditEvent{Type: "user_deleted", ActorID: actor.ID, UserID: id, Outcome: "success"}, actor.Client)
	err := e.store.DeleteUser(ctx, id, e.clock.Now(), ev)
	if errors.Is(err, store.ErrNotFound) {
		return ErrUserNotFound
	} else if err != nil {
		return fmt.Errorf("session: delete user: %w", err)
	}
	e.notify()
	return nil
}
