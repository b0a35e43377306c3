package revocation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
)

const pass = "correct horse battery staple"

// TestFollowFeedsGuardSet: a guard in the Gatehouse process follows the
// hub directly: the backlog, then live revocations (at once when the
// engine nudges), every poll touching the set, ending with the hub.
func TestFollowFeedsGuardSet(t *testing.T) {
	ctx := context.Background()
	var hubp atomic.Pointer[revocation.Hub]
	f := sessiontest.New(t, sessiontest.Options{Notify: func() {
		if h := hubp.Load(); h != nil {
			h.Notify()
		}
	}})
	window := sessiontest.AccessTTL + sessiontest.Leeway
	hub := revocation.New(f.DB, revocation.Config{PollInterval: 50 * time.Millisecond, Window: window, Clock: f.Clock})
	hubp.Store(hub)
	hubCtx, stop := context.WithCancel(ctx)
	defer stop()
	go hub.Run(hubCtx)

	if _, err := f.Engine.AddUser(ctx, session.CLI, "alice", pass, nil); err != nil {
		t.Fatal(err)
	}
	login := func() string {
		g, err := f.Engine.Login(ctx, "alice", pass, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		return g.Session.ID
	}
	revoke := func(sid string) {
		if _, err := f.Engine.RevokeSession(ctx, session.CLI, sid, ""); err != nil {
			t.Fatal(err)
		}
	}
	old := login()
	revoke(old) // backlog

	set := guard.NewRevocations()
	done := make(chan struct{})
	go func() { defer close(done); hub.Follow(ctx, set) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the backlog", func() bool { return set.Revoked(old) })
	if set.Cursor() != 1 {
		t.Errorf("cursor %d after the backlog, want 1", set.Cursor())
	}
	live := login()
	start := time.Now()
	revoke(live)
	waitFor("the live entry", func() bool { return set.Revoked(live) })
	t.Logf("live entry in the set %v after the revocation", time.Since(start))

	// Every poll touches the set: with the fake clock moved on, the next
	// tick records the new time.
	f.Clock.Advance(time.Minute)
	waitFor("a touch", func() bool { return set.LastContact().Equal(f.Clock.Now()) })

	// Entries are dropped once every token of their session has expired.
	f.Clock.Advance(window + time.Minute)
	waitFor("the sweep", func() bool { return set.Len() == 0 })

	stop()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Follow did not end with the hub")
	}
}
