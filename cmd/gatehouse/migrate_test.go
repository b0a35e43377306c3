package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

func TestMigrateSQLite(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA": t.TempDir()}
	for range 2 { // the second run finds nothing to do
		out, ok := cliStep(t, env, "", []string{"migrate"}, "")
		if ok && out != "SQLite database at schema version 13\n" {
			t.Fatalf("migrate printed %q", out)
		}
	}
}

// TestDatabaseRefused: a database that is neither empty nor a PostgreSQL
// URL stops every command with one line that names the key and not the
// value (it may hold a password).
func TestDatabaseRefused(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DATA": t.TempDir(), "GATEHOUSE_DATABASE": "mysql://gh:s3cret@db/gatehouse"}
	for _, args := range [][]string{{"migrate"}, {"user", "list"}} {
		cliStep(t, env, "", args, "database must be empty")
		if _, err := cli(t, env, "", args...); strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: error echoes the password: %v", args, err)
		}
	}
}

// TestPostgres runs the commands and the server on PostgreSQL, with
// migrations left to `gatehouse migrate`: every command refuses the empty
// schema until it has run, and a key-encryption key is required.
func TestPostgres(t *testing.T) {
	dsn := pgtest.Schema(t)
	kek := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := map[string]string{
		"GATEHOUSE_DATA":               t.TempDir(),
		"GATEHOUSE_DATABASE":           dsn,
		"GATEHOUSE_MIGRATE_ON_START":   "false",
		"GATEHOUSE_KEY_ENCRYPTION_KEY": kek,
	}
	steps := []struct {
		name    string
		env     map[string]string
		stdin   string
		args    []string
		wantErr string
		wantOut string
	}{
		{"before migrating", nil, "", []string{"user", "list"}, "run gatehouse migrate", ""},
		{"migrate", nil, "", []string{"migrate"}, "", "PostgreSQL database at schema version 13\n"},
		{"migrate again", nil, "", []string{"migrate"}, "", "PostgreSQL database at schema version 13\n"},
		{"add", nil, "s3cret-passphrase\n", []string{"user", "add", "alice", "--password-stdin"}, "", "created user alice"},
		{"list", nil, "", []string{"user", "list"}, "", "alice"},
		{"keys rotate", nil, "", []string{"keys", "rotate", "--activate-in", "1m"}, "", "published key"},
		{"keys list", nil, "", []string{"keys", "list"}, "", "next"},
		{"without a key-encryption key", map[string]string{"GATEHOUSE_KEY_ENCRYPTION_KEY": ""}, "", []string{"user", "list"},
			"key_encryption_key is required", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range s.env {
				e[k] = v
			}
			out, ok := cliStep(t, e, s.stdin, s.args, s.wantErr)
			if ok && !strings.Contains(out, s.wantOut) {
				t.Fatalf("output %q does not contain %q", out, s.wantOut)
			}
		})
	}

	t.Run("serve", func(t *testing.T) {
		base, password, stop := startServerEnv(t, env, env["GATEHOUSE_DATA"])
		defer stop()
		if password != "" {
			t.Errorf("serve created an admin on a database that has a user")
		}
		c := &http.Client{Timeout: 10 * time.Second}
		type tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		post := func(path string, body map[string]string) (int, tokens) {
			t.Helper()
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", base+path, strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", base)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var tok tokens
			json.NewDecoder(res.Body).Decode(&tok)
			return res.StatusCode, tok
		}
		code, tok := post("/auth/login", map[string]string{"username": "alice", "password": "s3cret-passphrase", "mode": "bearer"})
		if code != 200 || tok.RefreshToken == "" {
			t.Fatalf("login: %d %+v", code, tok)
		}
		// Two rotations: each spends the token the one before returned.
		for i := range 2 {
			code, next := post("/auth/refresh", map[string]string{"refresh_token": tok.RefreshToken})
			if code != 200 || next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
				t.Fatalf("refresh %d: %d %+v", i, code, next)
			}
			tok = next
		}
		req, _ := http.NewRequest("GET", base+"/auth/session", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("session: %d", res.StatusCode)
		}
	})
}
