package session_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
)

// TestCSRFHashClaim: every access token carries the hash of the CSRF token
// handed out with it, including the pair a grace-window duplicate gets
// again, so a guard without the CSRF key can check the pair.
func TestCSRFHashClaim(t *testing.T) {
	f := newFixture(t, grace, cheap)
	withUser(t, f)
	check := func(name string, g *session.Grant) {
		t.Helper()
		c, err := f.Guard.Verify(context.Background(), g.AccessToken)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := csrf.ClaimHash(g.CSRFToken); c.CSRFHash != want || len(want) != 43 {
			t.Errorf("%s: csrf_hash %q, want %q", name, c.CSRFHash, want)
		}
	}
	g := f.login(t)
	check("login", g)
	next := mustRefresh(t, f, g.RefreshToken)
	check("refresh", next)
	f.Clock.Advance(grace / 2)
	dup := mustRefresh(t, f, g.RefreshToken)
	check("grace duplicate", dup)
	if dup.AccessToken != next.AccessToken || dup.CSRFToken != next.CSRFToken || dup.RefreshToken != next.RefreshToken {
		t.Error("the grace-window duplicate did not get the identical successor pair")
	}
}

// TestEveryRevocationIsPublished: each engine path that ends sessions
// explicitly appends one feed entry per session it ends and calls Notify
// after committing.
func TestEveryRevocationIsPublished(t *testing.T) {
	ctx := context.Background()
	var notified atomic.Int64
	f := &fixture{Fixture: sessiontest.New(t, sessiontest.Options{Notify: func() { notified.Add(1) }})}
	withUser(t, f, "admin")
	cl := session.Client{IP: "192.0.2.9"}
	userID := func() string {
		u, err := f.Engine.User(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	logins := func(n int) []*session.Grant {
		var gs []*session.Grant
		for range n {
			gs = append(gs, f.login(t))
		}
		return gs
	}
	for _, tt := range []struct {
		name string
		do   func(t *testing.T) (ended int)
	}{
		{"logout", func(t *testing.T) int {
			g := logins(1)[0]
			return 1 + errCount(t, f.Engine.Logout(ctx, g.Session, cl))
		}},
		{"logout all but this one", func(t *testing.T) int {
			g := logins(3)[2]
			n, err := f.Engine.LogoutAll(ctx, userID(), g.Session.ID, cl)
			errCount(t, err)
			f.Engine.Logout(ctx, g.Session, cl) // tidy: counted below
			return n + 1
		}},
		{"revoke one device", func(t *testing.T) int {
			g := logins(1)[0]
			_, err := f.Engine.RevokeSession(ctx, session.CLI, g.Session.ID, "")
			return 1 + errCount(t, err)
		}},
		{"force logout", func(t *testing.T) int {
			logins(2)
			n, err := f.Engine.ForceLogout(ctx, session.CLI, userID())
			return n + errCount(t, err)
		}},
		{"password set by an admin", func(t *testing.T) int {
			logins(2)
			_, err := f.Engine.SetPassword(ctx, session.CLI, userID(), pass)
			return 2 + errCount(t, err)
		}},
		{"own password change (the new session stays)", func(t *testing.T) int {
			logins(2)
			_, err := f.Engine.ChangePassword(ctx, userID(), pass, pass, cl)
			return 2 + errCount(t, err)
		}},
		{"refresh token reuse", func(t *testing.T) int {
			g := logins(1)[0]
			mustRefresh(t, f, g.RefreshToken)
			f.Clock.Advance(2 * grace)
			if _, err := f.refresh(g.RefreshToken); !errors.Is(err, session.ErrRefreshReuse) {
				t.Fatalf("err = %v, want reuse", err)
			}
			return 1
		}},
		{"idle session ended at refresh", func(t *testing.T) int {
			g := logins(1)[0]
			f.Clock.Advance(idle)
			if _, err := f.refresh(g.RefreshToken); !errors.Is(err, session.ErrSessionEnded) {
				t.Fatalf("err = %v, want ended", err)
			}
			return 1
		}},
		{"disable", func(t *testing.T) int {
			// The session of the password change above is still live.
			logins(1)
			_, err := f.Engine.SetDisabled(ctx, session.CLI, userID(), true)
			errCount(t, err)
			_, err = f.Engine.SetDisabled(ctx, session.CLI, userID(), false)
			return 2 + errCount(t, err)
		}},
		{"delete user", func(t *testing.T) int {
			logins(2)
			return 2 + errCount(t, f.Engine.DeleteUser(ctx, session.CLI, userID()))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			head, err := f.DB.RevocationHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := notified.Load()
			want := tt.do(t)
			rs, err := f.DB.Revocations(ctx, head, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != want {
				t.Errorf("feed entries added: %d, want %d", len(rs), want)
			}
			for _, r := range rs {
				if !r.RevokedAt.Equal(f.Clock.Now()) {
					t.Errorf("entry %+v not stamped with the engine's clock %v", r, f.Clock.Now())
				}
			}
			if notified.Load() == before {
				t.Error("Notify was not called")
			}
		})
	}
	t.Run("prune drops entries older than the revocation window", func(t *testing.T) {
		f.Clock.Advance(sessiontest.AccessTTL + sessiontest.Leeway + time.Second)
		if _, err := f.Engine.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if rs, err := f.DB.Revocations(ctx, 0, 0); err != nil || len(rs) != 0 {
			t.Errorf("after pruning: %d entries, %v", len(rs), err)
		}
	})
}

func errCount(t *testing.T, err error) int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return 0
}
