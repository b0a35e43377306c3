package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/internal/store/storetest"
)

var _ storetest.Closer = (*DB)(nil)

func TestMain(m *testing.M) { pgtest.Main(m) }

// mustOpen opens the store at dsn, migrating it, and closes it when the
// test ends.
func mustOpen(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dsn, Options{MigrateOnStart: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	pgtest.Require(t) // skip or fail once here, not in every subtest
	storetest.Run(t, func(t *testing.T) storetest.Store { return mustOpen(t, pgtest.Schema(t)) })
}

func TestReopen(t *testing.T) {
	dsn := pgtest.Schema(t)
	storetest.Reopen(t, func(t *testing.T) storetest.Closer { return mustOpen(t, dsn) })
}

// TestConcurrentOpen: nodes starting at once on a fresh database all
// succeed; the migration lock lets one migrate while the others wait.
func TestConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			db, err := Open(context.Background(), dsn, Options{MigrateOnStart: true})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	db := mustOpen(t, dsn)
	if v, err := db.SchemaVersion(context.Background()); err != nil || v != latestVersion(t) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latestVersion(t))
	}
}

// TestMigrateOnStartOff: without MigrateOnStart, Open refuses a schema
// behind the binary and names the command that fixes it; after Migrate it
// opens.
func TestMigrateOnStartOff(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Schema(t)
	_, err := Open(ctx, dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "gatehouse migrate") {
		t.Fatalf("Open of an empty schema without migrating: %v, want an error naming gatehouse migrate", err)
	}
	db := mustOpen(t, dsn)
	db.Close()
	db, err = Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatalf("Open of a migrated schema: %v", err)
	}
	db.Close()
}

// TestOpenBadDSN: a DSN that does not parse fails at Open, without echoing
// the password it holds.
func TestOpenBadDSN(t *testing.T) {
	_, err := Open(context.Background(), "postgres://u:hunter2@127.0.0.1:notaport/db", Options{MigrateOnStart: true})
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error echoes the password: %v", err)
	}
}

// TestFeedLockOrdersCommits is the ordering test the suite's
// RevocationFeedFollow can only make likely, made certain: a revocation
// that starts while another is uncommitted must not become visible before
// it, or a follower would move its cursor past the earlier one's seq.
// Without feedLock the second transaction takes a higher seq, commits
// first, and is visible alone while the first is still open.
func TestFeedLockOrdersCommits(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, pgtest.Schema(t))
	now := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	if err := db.CreateUser(ctx, store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "s2"} {
		s := store.Session{ID: id, UserID: "u1", ClientID: "gatehouse", AuthTime: now, CreatedAt: now,
			LastUsedAt: now, ExpiresAt: now.Add(time.Hour), CredentialVersion: 1}
		if err := db.CreateSession(ctx, s, store.RefreshToken{Hash: []byte("rt-" + id), SessionID: id, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}

	// The first revocation, held open just after its row took a seq: the
	// moment another append could overtake it. (Held after the whole of
	// revokeSession instead, the head row's lock would also hold the
	// second back; the advisory lock must not depend on that.)
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := lockFeed(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1 WHERE id = 's1'`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO revocations (session_id, revoked_at) VALUES ('s1', $1)`, now); err != nil {
		t.Fatal(err)
	}

	second := make(chan error, 1)
	go func() { second <- db.RevokeSession(ctx, "s2", "logout", now, store.AuditEvent{}) }()
	select {
	case err := <-second:
		t.Fatalf("the second revocation committed (%v) while the first was open", err)
	case <-time.After(500 * time.Millisecond):
	}
	if rs, err := db.Revocations(ctx, 0, 0); err != nil || len(rs) != 0 {
		t.Fatalf("feed while the first revocation is open: %+v, %v; want nothing visible", rs, err)
	}
	if h, err := db.RevocationHead(ctx); err != nil || h != 0 {
		t.Fatalf("head while the first revocation is open: %d, %v; want 0", h, err)
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	rs, err := db.Revocations(ctx, 0, 0)
	if err != nil || len(rs) != 2 || rs[0].SessionID != "s1" || rs[1].SessionID != "s2" {
		t.Fatalf("feed = %+v, %v; want s1 then s2", rs, err)
	}
	if rs[0].Seq >= rs[1].Seq {
		t.Errorf("seqs %d then %d", rs[0].Seq, rs[1].Seq)
	}
}

// TestRollbackKeepsHead: an append that rolls back burns a sequence value
// but leaves the head alone, and the next entry is still above the head.
func TestRollbackKeepsHead(t *testing.T) {
	ctx := context.Background()
	db := mustOpen(t, pgtest.Schema(t))
	now := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	if err := db.CreateUser(ctx, store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := store.Session{ID: "s1", UserID: "u1", ClientID: "gatehouse", AuthTime: now, CreatedAt: now,
		LastUsedAt: now, ExpiresAt: now.Add(time.Hour), CredentialVersion: 1}
	if err := db.CreateSession(ctx, s, store.RefreshToken{Hash: []byte("rt"), SessionID: "s1", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	errRollback := errors.New("roll back")
	err := db.feedTx(ctx, func(tx pgx.Tx) error {
		if err := revokeSession(ctx, tx, "s1", "logout", now, store.AuditEvent{}); err != nil {
			return err
		}
		return &passThrough{errRollback}
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("feedTx = %v", err)
	}
	if h, err := db.RevocationHead(ctx); err != nil || h != 0 {
		t.Fatalf("head after a rolled-back append = %d, %v; want 0", h, err)
	}
	if err := db.RevokeSession(ctx, "s1", "logout", now, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Revocations(ctx, 0, 0)
	if err != nil || len(rs) != 1 {
		t.Fatalf("feed = %+v, %v", rs, err)
	}
	if h, err := db.RevocationHead(ctx); err != nil || h != rs[0].Seq {
		t.Errorf("head = %d, %v; want %d", h, err, rs[0].Seq)
	}
}

func latestVersion(t *testing.T) int64 {
	t.Helper()
	entries, err := migrations.ReadDir("migrations")
	if err != nil || len(entries) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	var v int64
	fmt.Sscanf(entries[len(entries)-1].Name(), "%d", &v)
	return v
}
