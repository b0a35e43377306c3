package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/store/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// The suite's Store must cover everything the engine and the keyring ask
// of storage, so that a method added there cannot escape the suite.
var (
	_ storetest.Store = (*sqlite.DB)(nil)
	_ interface {
		session.Store
		token.KeyStore
	} = storetest.Store(nil)
)

// mustOpen opens the database at path and closes it when the test ends.
func mustOpen(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return mustOpen(t, filepath.Join(t.TempDir(), sqlite.FileName))
	})
}

// TestReopen checks that what one Open wrote is there after Close and a
// second Open of the same file (migrations are not re-applied destructively).
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", sqlite.FileName)
	now := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)

	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	s := store.Session{ID: "s1", UserID: "u1", ClientID: "gatehouse", AuthTime: now, CreatedAt: now,
		LastUsedAt: now, ExpiresAt: now.Add(time.Hour), CredentialVersion: 1}
	rt := store.RefreshToken{Hash: []byte("0123456789abcdef0123456789abcdef"), SessionID: "s1", CreatedAt: now}
	key := store.SigningKey{KID: "k1", Alg: "ES256", Private: []byte("der"), CreatedAt: now, ActivatesAt: now}
	for _, step := range []func() error{
		func() error { return db.CreateUser(ctx, u) },
		func() error { return db.CreateSession(ctx, s, rt) },
		func() error { return db.AddSigningKey(ctx, key, time.Hour, "") },
		func() error {
			return db.AppendAudit(ctx, store.AuditEvent{Time: now, Type: "login_success", UserID: "u1", Outcome: "success"})
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	secret, err := db.Secret(ctx, "csrf", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	db = mustOpen(t, path)
	if got, err := db.UserByUsername(ctx, "alice"); err != nil || got.ID != "u1" {
		t.Errorf("user after reopen: %+v, %v", got, err)
	}
	if got, err := db.SessionByID(ctx, "s1"); err != nil || !got.ExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("session after reopen: %+v, %v", got, err)
	}
	if _, err := db.RefreshToken(ctx, rt.Hash); err != nil {
		t.Errorf("refresh token after reopen: %v", err)
	}
	if keys, err := db.SigningKeys(ctx); err != nil || len(keys) != 1 || keys[0].KID != "k1" {
		t.Errorf("keys after reopen: %+v, %v", keys, err)
	}
	if evs, err := db.AuditEvents(ctx, store.AuditFilter{}); err != nil || len(evs) != 1 {
		t.Errorf("audit after reopen: %+v, %v", evs, err)
	}
	if again, err := db.Secret(ctx, "csrf", 32); err != nil || !bytes.Equal(again, secret) {
		t.Errorf("secret changed across reopen: %v", err)
	}
	if err := db.CreateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateUser after reopen: err = %v, want ErrConflict", err)
	}
}

// TestFileMode checks that the database, which holds the signing keys and
// the CSRF secret, and its WAL companions are readable by the owner only.
func TestFileMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, sqlite.FileName)
	db := mustOpen(t, path)
	// A write makes sure the -wal and -shm files exist.
	if _, err := db.Secret(context.Background(), "csrf", 32); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("%s mode = %v, want 0600", sqlite.FileName, got)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&0o077 != 0 {
			t.Errorf("%s%s mode = %v, want no group or other access", sqlite.FileName, suffix, got)
		}
	}
	if fi, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	} else if got := fi.Mode().Perm(); got&0o077 != 0 {
		t.Errorf("data directory mode = %v, want no group or other access", got)
	}
}

// TestOpenPathWithURICharacters: the path goes into an SQLite URI, where
// '?' and '#' end the path and '%' starts an escape. The database must
// still be the file at the path given, with its 0600 mode.
func TestOpenPathWithURICharacters(t *testing.T) {
	parent := t.TempDir()
	for i, name := range []string{"a#b", "a?b", "a%41b", "a%b", "a b"} {
		// Subtests are numbered: a subtest's own TempDir would carry its
		// name, and so these characters, into every path it makes.
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			root := filepath.Join(parent, fmt.Sprint(i))
			path := filepath.Join(root, name, sqlite.FileName)
			db := mustOpen(t, path)
			u := store.User{ID: "u1", Username: "alice", PasswordHash: "h", CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := db.CreateUser(context.Background(), u); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(root)
			if errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s was not created", root)
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != name {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("directory holds %q, want only %q", names, name)
			}
			db = mustOpen(t, path)
			if _, err := db.UserByID(context.Background(), "u1"); err != nil {
				t.Errorf("user not in the file at the path given: %v", err)
			}
		})
	}
}
