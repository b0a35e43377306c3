package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/revocation"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

var _ revocation.Waker = (*DB)(nil)

// liveSessions creates user u1 and the sessions s1..sn on db.
func liveSessions(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := db.CreateUser(ctx, store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("s%d", i)
		s := store.Session{ID: id, UserID: "u1", ClientID: "gatehouse", AuthTime: now, CreatedAt: now,
			LastUsedAt: now, ExpiresAt: now.Add(time.Hour), CredentialVersion: 1}
		if err := db.CreateSession(ctx, s, store.RefreshToken{Hash: []byte("rt-" + id), SessionID: id, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListenWakesOnCommitOnly: a revocation committed through another pool
// wakes a listener; one that rolls back does not, and neither does an
// append that wrote no entry (revoking a revoked session).
func TestListenWakesOnCommitOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.Schema(t)
	db, other := mustOpen(t, dsn), mustOpen(t, dsn)
	liveSessions(t, other, 2)

	woken := make(chan struct{}, 16)
	listenErr := make(chan error, 1)
	go func() { listenErr <- db.Listen(ctx, func() { woken <- struct{}{} }) }()
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case <-woken:
			if !want {
				t.Fatalf("%s: woken", what)
			}
		case <-time.After(300 * time.Millisecond):
			if want {
				t.Fatalf("%s: not woken", what)
			}
		}
	}
	expect("listening", true)

	errRollback := errors.New("roll back")
	err := other.feedTx(ctx, func(tx pgx.Tx) error {
		if err := revokeSession(ctx, tx, "s1", "logout", time.Now(), store.AuditEvent{}); err != nil {
			return err
		}
		return &passThrough{errRollback}
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("feedTx = %v", err)
	}
	expect("a rolled-back revocation", false)

	if err := other.RevokeSession(ctx, "s1", "logout", time.Now(), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	expect("a committed revocation", true)
	if err := other.RevokeSession(ctx, "s1", "logout", time.Now(), store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	expect("revoking a revoked session", false)
	if n, err := other.RevokeUserSessions(ctx, "u1", "", "logout_all", time.Now(), store.AuditEvent{}); err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions = %d, %v", n, err)
	}
	expect("revoking a user's sessions", true)

	cancel()
	if err := <-listenErr; !errors.Is(err, context.Canceled) {
		t.Errorf("Listen returned %v after its context ended", err)
	}
}

// gatedWaker holds back every Listen after the first until the test opens
// gate, so that the test knows the channel is down while it revokes.
type gatedWaker struct {
	db    *DB
	calls chan int
	gate  chan struct{}
	n     int
}

func (g *gatedWaker) Listen(ctx context.Context, wake func()) error {
	g.n++
	g.calls <- g.n
	if g.n > 1 {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.db.Listen(ctx, wake)
}

// TestHubWokenByNotify: with a poll interval of a minute, a revocation
// committed by another pool (another node) reaches a follower of the hub
// within tens of milliseconds: NOTIFY did it. Its listening connection
// terminated by the server, the hub reconnects, and the revocation
// committed while nobody listened arrives with the reconnect's catch-up
// poll, not a minute later.
func TestHubWokenByNotify(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.Schema(t)
	db, other := mustOpen(t, dsn), mustOpen(t, dsn)
	liveSessions(t, other, 3)

	w := &gatedWaker{db: db, calls: make(chan int, 4), gate: make(chan struct{})}
	hub := revocation.New(db, revocation.Config{PollInterval: time.Minute, Window: time.Minute, Waker: w})
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); hub.Run(ctx) }()
	set := revset.New()
	go hub.Follow(ctx, set)
	if n := <-w.calls; n != 1 {
		t.Fatalf("Listen call %d first", n)
	}
	// Listening once the first wake has led to a poll (the set touched).
	waitFor(t, "the first poll", 2*time.Second, func() bool { return !set.LastContact().IsZero() })

	revoke := func(id string) time.Time {
		t.Helper()
		if err := other.RevokeSession(ctx, id, "logout", time.Now(), store.AuditEvent{}); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	committed := revoke("s1")
	waitFor(t, "s1 in the set", time.Second, func() bool { return set.Revoked("s1") })
	t.Logf("a revocation by another pool reached the hub's follower %v after its commit", time.Since(committed))

	// Kill the listener's connection, as a failover or an administrator
	// would; the hub's next Listen is held at the gate.
	// pg_stat_activity is a snapshot taken once per transaction and its
	// rows can trail a new backend for a moment: ask again until the
	// listener is found, instead of failing on one early look.
	var killed int
	var killErr error
	waitFor(t, "the listener's connection in pg_stat_activity", 5*time.Second, func() bool {
		killErr = other.pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1`, listenerAppName).Scan(&killed)
		return killErr == nil && killed >= 1
	})
	if killErr != nil || killed != 1 {
		t.Fatalf("terminated %d listener connections, %v; want 1", killed, killErr)
	}
	select {
	case n := <-w.calls:
		if n != 2 {
			t.Fatalf("Listen call %d after the kill", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hub did not listen again after its connection was terminated")
	}
	revoke("s2")
	time.Sleep(300 * time.Millisecond)
	if set.Revoked("s2") {
		t.Fatal("s2 arrived while nobody listened: the test proves nothing about the catch-up")
	}
	reopened := time.Now()
	close(w.gate)
	waitFor(t, "s2 after the reconnect", 2*time.Second, func() bool { return set.Revoked("s2") })
	t.Logf("the revocation committed while the listener was down arrived %v after it could listen again", time.Since(reopened))

	committed = revoke("s3")
	waitFor(t, "s3 on the new connection", time.Second, func() bool { return set.Revoked("s3") })
	t.Logf("and the next one %v after its commit", time.Since(committed))

	cancel()
	select {
	case <-hubDone:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return with its listener after the context ended")
	}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}
