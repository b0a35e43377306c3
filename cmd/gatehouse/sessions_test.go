package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestCLISessions lists and ends sessions from the command line while the
// server runs on the same data directory, and checks at the server that
// what the CLI revoked is refused and what it left alone still works.
func TestCLISessions(t *testing.T) {
	data := migratedData(t)
	env := map[string]string{"GATEHOUSE_DATA": data}
	const pw = "s3cret-passphrase"
	for _, name := range []string{"alice", "bob"} {
		if _, err := cli(t, env, pw+"\n", "user", "add", name, "--password-stdin"); err != nil {
			t.Fatal(err)
		}
	}
	base, _, stop := startServer(t, data)
	defer stop()
	c := &http.Client{Timeout: 10 * time.Second}
	login := func(user string) (sid, refresh string) {
		t.Helper()
		r, err := bearerLogin(c, base, user, pw)
		if err != nil || r.Status != http.StatusOK {
			t.Fatalf("login %s: %+v %v", user, r, err)
		}
		sid, err = sessionOf(r.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return sid, r.RefreshToken
	}
	a1, a1rt := login("alice")
	a2, a2rt := login("alice")
	b1, b1rt := login("bob")

	steps := []struct {
		name    string
		args    []string
		wantErr string   // substring; "" means success
		wantOut []string // substrings of the output
		notOut  []string // must not appear in the output
		// wantJSON, when set, is the whole --json result: session id ->
		// "username status revoke_reason".
		wantJSON map[string]string
	}{
		{name: "list all live", args: []string{"sessions", "list"}, wantOut: []string{"ID", "STATUS", a1, a2, b1, "alice", "bob", "live"}},
		{name: "list by user", args: []string{"sessions", "list", "--user", "ALICE"}, wantOut: []string{a1, a2}, notOut: []string{b1}},
		{name: "list json", args: []string{"sessions", "list", "--json", "--user", "bob"},
			wantJSON: map[string]string{b1: "bob live "}},
		{name: "list unknown user", args: []string{"sessions", "list", "--user", "nobody"}, wantErr: "user not found"},
		{name: "list stray argument", args: []string{"sessions", "list", "alice"}, wantErr: "unknown command"},
		{name: "revoke one", args: []string{"sessions", "revoke", a1}, wantOut: []string{"revoked session " + a1}},
		{name: "revoke it again", args: []string{"sessions", "revoke", a1}, wantOut: []string{"already been revoked (revoked_by_admin)"}},
		{name: "revoke unknown session", args: []string{"sessions", "revoke", "no-such-session"}, wantErr: "session not found"},
		{name: "revoke nothing", args: []string{"sessions", "revoke"}, wantErr: "give one session id, or --user NAME"},
		{name: "revoke two ids", args: []string{"sessions", "revoke", a1, a2}, wantErr: "give one session id, or --user NAME"},
		{name: "revoke id and user", args: []string{"sessions", "revoke", a2, "--user", "alice"}, wantErr: "not both"},
		{name: "live list drops the revoked", args: []string{"sessions", "list", "--json", "--user", "alice"},
			wantJSON: map[string]string{a2: "alice live "}},
		{name: "all keeps the revoked", args: []string{"sessions", "list", "--all", "--json", "--user", "alice"},
			wantJSON: map[string]string{a1: "alice revoked revoked_by_admin", a2: "alice live "}},
		{name: "all as a table", args: []string{"sessions", "list", "--all"}, wantOut: []string{a1, "revoked (revoked_by_admin)"}},
		{name: "force logout", args: []string{"sessions", "revoke", "--user", "alice"}, wantOut: []string{"ended 1 session(s) of user alice"}},
		{name: "force logout unknown user", args: []string{"sessions", "revoke", "--user", "nobody"}, wantErr: "user not found"},
		{name: "only bob is left", args: []string{"sessions", "list", "--json"}, wantJSON: map[string]string{b1: "bob live "}},
		{name: "all after force logout", args: []string{"sessions", "list", "--all", "--json"},
			wantJSON: map[string]string{a1: "alice revoked revoked_by_admin", a2: "alice revoked force_logout", b1: "bob live "}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out, ok := cliStep(t, env, "", s.args, s.wantErr)
			if !ok {
				return
			}
			for _, w := range s.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output does not contain %q:\n%s", w, out)
				}
			}
			for _, w := range s.notOut {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q:\n%s", w, out)
				}
			}
			if s.wantJSON != nil {
				if got := listed(t, out); !maps.Equal(got, s.wantJSON) {
					t.Errorf("sessions = %v, want %v", got, s.wantJSON)
				}
			}
		})
	}

	// The server agrees: alice's sessions are over, bob's is not.
	for _, tc := range []struct {
		who, rt string
		want    int
	}{{"alice 1", a1rt, 401}, {"alice 2", a2rt, 401}, {"bob", b1rt, 200}} {
		r, err := bearerRefresh(c, base, tc.rt)
		if err != nil || r.Status != tc.want {
			t.Errorf("refresh of %s's session: %d %v, want %d", tc.who, r.Status, err, tc.want)
		}
	}

	// The audit trail names the command line as the actor of each change
	// and of the listings.
	withTestApp(t, env, func(ctx context.Context, a *app.App) error {
		for _, tc := range []struct {
			f    store.AuditFilter
			want int // at least
		}{
			{store.AuditFilter{Type: "session_revoked", SessionID: a1}, 1},
			{store.AuditFilter{Type: "force_logout"}, 1},
			{store.AuditFilter{Type: "admin_access"}, 8}, // one per listing above
		} {
			tc.f.ActorID = session.CLI.ID
			evs, err := a.Engine.Audit(ctx, tc.f)
			if err != nil {
				return err
			}
			if len(evs) < tc.want {
				t.Errorf("%d %s events by the CLI, want %d", len(evs), tc.f.Type, tc.want)
			}
		}
		return nil
	})
}

// listed decodes `sessions list --json` into session id -> "username
// status revoke_reason".
func listed(t *testing.T, out string) map[string]string {
	t.Helper()
	var rows []sessionRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	m := map[string]string{}
	for _, r := range rows {
		m[r.ID] = r.Username + " " + r.Status + " " + r.RevokeReason
	}
	return m
}

// withTestApp opens the core on the data directory in getenv's
// environment, as a CLI command does, and runs fn with it.
func withTestApp(t *testing.T, environ map[string]string, fn func(ctx context.Context, a *app.App) error) {
	t.Helper()
	e := &env{getenv: envFrom(environ), stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, clock: clock.System{}}
	cmd := &cobra.Command{}
	cmd.SetContext(context.Background())
	if err := e.withApp(cmd, fn); err != nil {
		t.Fatal(err)
	}
}
