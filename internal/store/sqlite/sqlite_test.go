package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/store/storetest"
)

var _ storetest.Closer = (*sqlite.DB)(nil)

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

// TestReopen: what one Open wrote is there after Close and a second Open
// of the same file, in a data directory Open creates.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", sqlite.FileName)
	storetest.Reopen(t, func(t *testing.T) storetest.Closer { return mustOpen(t, path) })
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
