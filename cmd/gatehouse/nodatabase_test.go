package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
)

// migratedData returns a new data directory holding a migrated, empty
// database, for tests that add users from the command line before the
// first serve: only serve and migrate create a database.
func migratedData(t testing.TB) string {
	t.Helper()
	data := t.TempDir()
	var out strings.Builder
	if err := run(context.Background(), []string{"migrate", "--data", data}, envFrom(nil), strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	return data
}

// TestCommandsRefuseMissingDatabase: run from a directory without a
// database, the commands that only use one (user, sessions, keys) fail
// with an error naming the file they looked for and how to point them at
// the right data directory, and create nothing: no ./data, no empty
// database, no keys rotated in it. serve and migrate still create it.
func TestCommandsRefuseMissingDatabase(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	elsewhere := filepath.Join(t.TempDir(), "nothing-here")
	commands := []struct {
		stdin string
		args  []string
	}{
		{"", []string{"user", "list"}},
		{"a long passphrase\n", []string{"user", "add", "alice", "--password-stdin"}},
		{"", []string{"user", "disable", "alice"}},
		{"", []string{"keys", "list"}},
		{"", []string{"keys", "rotate"}},
		{"", []string{"sessions", "list"}},
		{"", []string{"sessions", "revoke", "--user", "alice"}},
	}
	places := []struct {
		name  string
		env   map[string]string
		flags []string
		want  string // the database file named in the error
	}{
		{"default ./data", nil, nil, filepath.Join(cwd, "data", sqlite.FileName)},
		{"GATEHOUSE_DATA", map[string]string{"GATEHOUSE_DATA": elsewhere}, nil, filepath.Join(elsewhere, sqlite.FileName)},
		{"--data", nil, []string{"--data", elsewhere}, filepath.Join(elsewhere, sqlite.FileName)},
	}
	for _, p := range places {
		for _, c := range commands {
			t.Run(p.name+"/"+strings.Join(c.args[:2], " "), func(t *testing.T) {
				_, err := cli(t, p.env, c.stdin, append(append([]string{}, c.args...), p.flags...)...)
				if err == nil {
					t.Fatal("the command succeeded without a database")
				}
				msg := oneLine(err)
				for _, want := range []string{p.want, "--data", "GATEHOUSE_DATA", "serve and migrate"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not name %q", msg, want)
					}
				}
				for _, dir := range []string{cwd, filepath.Dir(elsewhere)} {
					if entries, _ := os.ReadDir(dir); len(entries) > 0 {
						t.Errorf("the refused command created %s in %s", entries[0].Name(), dir)
					}
				}
			})
		}
	}

	t.Run("migrate creates it", func(t *testing.T) {
		if _, err := cli(t, nil, "", "migrate"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(cwd, "data", sqlite.FileName)); err != nil {
			t.Fatalf("migrate did not create the database: %v", err)
		}
		// and the other commands use it from then on
		out, err := cli(t, nil, "a long passphrase\n", "user", "add", "alice", "--password-stdin")
		if err != nil || !strings.Contains(out, "created user alice") {
			t.Fatalf("user add after migrate: %q %v", out, err)
		}
	})
	t.Run("serve creates it", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "new")
		_, password, stop := startServer(t, data)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(data, sqlite.FileName)); err != nil {
			t.Fatalf("serve did not create the database: %v", err)
		}
		if password == "" {
			t.Error("serve did not create the first admin")
		}
	})
}

// TestCommandsRefuseUnmigratedPostgres: on PostgreSQL the database exists
// by definition, but a schema no migration ever ran in is refused by the
// same commands, even with migrate_on_start (the default), before
// anything is created in it.
func TestCommandsRefuseUnmigratedPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	env := map[string]string{
		"GATEHOUSE_DATA":               t.TempDir(),
		"GATEHOUSE_DATABASE":           dsn,
		"GATEHOUSE_KEY_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
	}
	for _, args := range [][]string{{"user", "list"}, {"keys", "rotate"}, {"sessions", "list"}} {
		cliStep(t, env, "", args, "never migrated")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Fatalf("the refused commands created %d tables", tables)
	}
	cliStep(t, env, "", []string{"migrate"}, "")
	if out, _ := cliStep(t, env, "", []string{"user", "list"}, ""); !strings.Contains(out, "USERNAME") {
		t.Fatalf("user list after migrate: %q", out)
	}
}
