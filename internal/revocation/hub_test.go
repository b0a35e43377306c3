package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
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

	set := revset.New()
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

// memStore is a feed in memory, for tests that need no engine.
type memStore struct {
	mu   sync.Mutex
	rows []store.Revocation
}

func (m *memStore) add(sid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows = append(m.rows, store.Revocation{Seq: int64(len(m.rows) + 1), SessionID: sid, RevokedAt: time.Now()})
}

func (m *memStore) Revocations(_ context.Context, after int64, limit int) ([]store.Revocation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Revocation
	for _, r := range m.rows {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memStore) RevocationHead(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.rows)), nil
}

// flakyWaker fails its first Listen calls at once, then listens: it wakes
// once listening and once per value sent on notify.
type flakyWaker struct {
	failures int
	calls    atomic.Int32
	notify   chan struct{}
}

func (w *flakyWaker) Listen(ctx context.Context, wake func()) error {
	if int(w.calls.Add(1)) <= w.failures {
		return errors.New("connection refused")
	}
	wake()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.notify:
			wake()
		}
	}
}

// TestWakerNudgesTheHub: a Waker whose first attempts fail is retried
// with back-off until it listens; from then on each of its wakes makes
// the hub poll at once, though its poll interval is a minute.
func TestWakerNudgesTheHub(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &memStore{}
	w := &flakyWaker{failures: 2, notify: make(chan struct{})}
	hub := revocation.New(st, revocation.Config{PollInterval: time.Minute, Window: time.Minute, Waker: w})
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx) }()
	set := revset.New()
	go hub.Follow(ctx, set)

	start := time.Now()
	for w.calls.Load() < 3 {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the waker was called %d times in 5s", w.calls.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// Back-off: 100ms, then 200ms.
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("three Listen calls within %v: no back-off", d)
	}
	for i := range 3 {
		sid := fmt.Sprintf("s%d", i)
		st.add(sid)
		sent := time.Now()
		w.notify <- struct{}{}
		for !set.Revoked(sid) {
			if time.Since(sent) > time.Second {
				t.Fatalf("%s not in the set a second after the wake", sid)
			}
			time.Sleep(time.Millisecond)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return")
	}
}
