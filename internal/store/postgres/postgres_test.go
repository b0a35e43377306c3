package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/storetest"
)

var _ storetest.Closer = (*DB)(nil)

// defaultTestDSN is the server the tests use unless GATEHOUSE_TEST_POSTGRES
// names another (a postgres:// URL; its database is only connected to, to
// create and drop the tests' own).
const defaultTestDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// testServer is the database created for this run of the tests, once, by
// the first test that needs it; TestMain drops it.
var testServer struct {
	once    sync.Once
	admin   string // DSN of the server's maintenance database
	dsn     string // DSN of the run's database
	name    string
	err     error
	schemas atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testServer.name != "" {
		if err := dropDatabase(testServer.admin, testServer.name); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// runDatabase returns the DSN of a database created for this run of the
// tests. When the server cannot be reached the test is skipped, loudly,
// or fails under CI, where the suite must run.
func runDatabase(t *testing.T) string {
	t.Helper()
	testServer.once.Do(func() {
		admin := os.Getenv("GATEHOUSE_TEST_POSTGRES")
		if admin == "" {
			admin = defaultTestDSN
		}
		testServer.admin = admin
		testServer.name, testServer.dsn, testServer.err = createDatabase(admin)
	})
	if err := testServer.err; err != nil {
		msg := fmt.Sprintf("PostgreSQL not reachable at %s (%v): the PostgreSQL conformance suite did NOT run; "+
			"start PostgreSQL there or set GATEHOUSE_TEST_POSTGRES", redact(testServer.admin), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return testServer.dsn
}

// createDatabase creates gatehouse_test_<random> on the server of admin.
// It asks for an ICU en-US collation that ignores punctuation (ka-shifted,
// as glibc's en_US does) when the server has ICU: under it "a_b" sorts
// after "aab", so the suite's bytewise ordering tests fail unless the
// schema's COLLATE "C" does its job. The server's own default is often C
// already, which would hide such a mistake.
func createDatabase(admin string) (name, dsn string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	name = "gatehouse_test_" + randomHex(6)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident+` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US-u-ka-shifted'`); err != nil {
		if _, err := conn.Exec(ctx, `CREATE DATABASE `+ident); err != nil {
			return "", "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		dropDatabase(admin, name)
		return "", "", fmt.Errorf("GATEHOUSE_TEST_POSTGRES must be a postgres:// URL")
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

func dropDatabase(admin, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop test database %s: %w", name, err)
	}
	return nil
}

// freshSchema creates an empty schema in the run's database and returns a
// DSN whose connections use it (search_path, a run-time parameter pgx
// sends at connection start), so every store opened on it, migrations
// and goose's version table included, is separate from every other.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := runDatabase(t)
	schema := fmt.Sprintf("s%d_%s", testServer.schemas.Add(1), randomHex(3))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

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
	runDatabase(t) // skip or fail once here, not in every subtest
	storetest.Run(t, func(t *testing.T) storetest.Store { return mustOpen(t, freshSchema(t)) })
}

func TestReopen(t *testing.T) {
	dsn := freshSchema(t)
	storetest.Reopen(t, func(t *testing.T) storetest.Closer { return mustOpen(t, dsn) })
}

// TestConcurrentOpen: nodes starting at once on a fresh database all
// succeed; the migration lock lets one migrate while the others wait.
func TestConcurrentOpen(t *testing.T) {
	dsn := freshSchema(t)
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
	dsn := freshSchema(t)
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
	db := mustOpen(t, freshSchema(t))
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
	db := mustOpen(t, freshSchema(t))
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// redact hides a password in a DSN for messages.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
