package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestAuditTrail checks that every kind of action leaves an event with its
// actor, user, session and client, in the database and in the log, and
// that no password or token reaches either.
func TestAuditTrail(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	f := &fixture{Fixture: sessiontest.New(t, sessiontest.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})}
	admin := session.Actor{ID: "ADMINID", Client: session.Client{IP: "198.51.100.7", UserAgent: "admin-console/1.0"}}
	u, err := f.Engine.AddUser(ctx, admin, user, pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := f.login(t)
	if _, err := f.Engine.Login(ctx, user, "wrong password!", session.Client{IP: "192.0.2.9", UserAgent: "attacker"}); !errors.Is(err, session.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	g2 := mustRefresh(t, f, g.RefreshToken)
	if _, err := f.Engine.RevokeSession(ctx, admin, g.Session.ID, ""); err != nil {
		t.Fatal(err)
	}
	const newPass = "another long passphrase"
	if _, err := f.Engine.SetPassword(ctx, admin, u.ID, newPass); err != nil {
		t.Fatal(err)
	}

	events, err := f.Engine.Audit(ctx, store.AuditFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ, actor, sid, ip, ua, outcome string
	}{
		{"user_created", admin.ID, "", "198.51.100.7", "admin-console/1.0", "success"},
		{"login_success", "", g.Session.ID, "192.0.2.1", "test", "success"},
		{"login_failure", "", "", "192.0.2.9", "attacker", "failure"},
		{"refresh", "", g.Session.ID, "192.0.2.2", "test2", "success"},
		{"session_revoked", admin.ID, g.Session.ID, "198.51.100.7", "admin-console/1.0", "success"},
		{"password_changed", admin.ID, "", "198.51.100.7", "admin-console/1.0", "success"},
	}
	if len(events) != len(want) {
		for _, ev := range events {
			t.Logf("%+v", ev)
		}
		t.Fatalf("got %d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		ev := events[len(events)-1-i] // newest first
		if ev.Type != w.typ || ev.ActorID != w.actor || ev.SessionID != w.sid || ev.IP != w.ip ||
			ev.UserAgent != w.ua || ev.Outcome != w.outcome || ev.Time.IsZero() {
			t.Errorf("event %d = %+v, want %+v", i, ev, w)
		}
	}

	out := logs.String()
	for _, want := range []string{"type=user_created", "actor_id=ADMINID", `user_agent=admin-console/1.0`, "type=password_changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	for _, secret := range []string{pass, newPass, "wrong password!", g.RefreshToken, g2.RefreshToken, g.AccessToken, g.CSRFToken} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %.12q…", secret)
		}
		for _, ev := range events {
			if strings.Contains(ev.Detail, secret) {
				t.Errorf("audit event %s contains a secret", ev.Type)
			}
		}
	}
}

// TestRevokeOneDevice: ending one session leaves the user's others alive;
// another user's session is indistinguishable from an unknown one; force
// logout ends the rest.
func TestRevokeOneDevice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, grace, cheap)
	withUser(t, f)
	bob, err := f.Engine.AddUser(ctx, session.CLI, "bob", pass, nil)
	if err != nil {
		t.Fatal(err)
	}
	laptop, phone := f.login(t), f.login(t)
	self := session.Actor{ID: laptop.User.ID}

	for _, tt := range []struct {
		name, sid, owner string
	}{
		{"another user's session", laptop.Session.ID, bob.ID},
		{"unknown session", "NOSUCHSESSION", laptop.User.ID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.Engine.RevokeSession(ctx, session.Actor{ID: tt.owner}, tt.sid, tt.owner); !errors.Is(err, session.ErrSessionNotFound) {
				t.Fatalf("err = %v, want ErrSessionNotFound", err)
			}
		})
	}
	if _, err := f.Engine.Live(ctx, laptop.Session.ID); err != nil {
		t.Fatalf("laptop ended by a refused revoke: %v", err)
	}

	if _, err := f.Engine.RevokeSession(ctx, self, phone.Session.ID, laptop.User.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.refresh(phone.RefreshToken); !errors.Is(err, session.ErrSessionEnded) {
		t.Fatalf("revoked phone refresh: %v", err)
	}
	if _, err := f.Engine.Live(ctx, phone.Session.ID); !errors.Is(err, session.ErrSessionEnded) {
		t.Fatalf("revoked phone live: %v", err)
	}
	laptop2 := mustRefresh(t, f, laptop.RefreshToken)
	if reason := revokeReason(t, f, phone.Session.ID); reason != "revoked_by_user" {
		t.Errorf("revoke reason %q", reason)
	}

	tablet := f.login(t)
	n, err := f.Engine.ForceLogout(ctx, session.Actor{ID: "ADMINID"}, laptop.User.ID)
	if err != nil || n != 2 {
		t.Fatalf("force logout = %d, %v; want 2 sessions", n, err)
	}
	for _, rt := range []string{laptop2.RefreshToken, tablet.RefreshToken} {
		if _, err := f.refresh(rt); !errors.Is(err, session.ErrSessionEnded) {
			t.Errorf("refresh after force logout: %v", err)
		}
	}
}
