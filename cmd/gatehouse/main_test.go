package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// cli runs one gatehouse command in-process.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), args, envFrom(env), strings.NewReader(stdin), &out, io.Discard)
	return out.String(), err
}

func TestCLIUsers(t *testing.T) {
	data := migratedData(t)
	env := map[string]string{"GATEHOUSE_DATA": data}
	steps := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string // substring; "" means success
		wantOut string
	}{
		{"add", "s3cret-passphrase\n", []string{"user", "add", "Alice", "--role", "admin", "--role", "reader", "--password-stdin"}, "", "created user alice"},
		{"add duplicate (case-folded)", "s3cret-passphrase\n", []string{"user", "add", " ALICE ", "--password-stdin"}, "already exists", ""},
		{"add short password", "short\n", []string{"user", "add", "bob", "--password-stdin"}, "at least 8", ""},
		{"add empty password", "\n", []string{"user", "add", "bob", "--password-stdin"}, "no password", ""},
		{"add bad username", "s3cret-passphrase\n", []string{"user", "add", "bad name", "--password-stdin"}, "not allowed", ""},
		{"add bad role", "s3cret-passphrase\n", []string{"user", "add", "bob", "--role", "a b", "--password-stdin"}, "role", ""},
		{"add generated password", "", []string{"user", "add", "carol"}, "", "password: "},
		{"add without name", "", []string{"user", "add"}, "accepts 1 arg", ""},
		{"list", "", []string{"user", "list"}, "", "alice"},
		{"roles show", "", []string{"user", "roles", "alice"}, "", "admin reader"},
		{"roles set", "", []string{"user", "roles", "alice", "writer"}, "", "roles of alice: writer"},
		{"roles clear", "", []string{"user", "roles", "alice", "--clear"}, "", "roles of alice: "},
		{"disable", "", []string{"user", "disable", "alice"}, "", "disabled user alice"},
		{"enable", "", []string{"user", "enable", "alice"}, "", "enabled user alice"},
		{"disable unknown", "", []string{"user", "disable", "nobody"}, "user not found", ""},
		{"passwd needs stdin flag", "", []string{"user", "passwd", "alice"}, "--password-stdin is required", ""},
		{"passwd", "another-passphrase\n", []string{"user", "passwd", "alice", "--password-stdin"}, "", "password changed for alice"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command", ""},
		{"unknown flag", "", []string{"user", "list", "--nope"}, "unknown flag", ""},
		{"keys list", "", []string{"keys", "list"}, "", "KID"},
		{"keys rotate", "", []string{"keys", "rotate", "--alg", "EdDSA", "--activate-in", "1m"}, "", "published key"},
		{"keys rotate bad alg", "", []string{"keys", "rotate", "--alg", "HS256"}, "unsupported algorithm", ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out, ok := cliStep(t, env, s.stdin, s.args, s.wantErr)
			if !ok {
				return
			}
			if !strings.Contains(out, s.wantOut) {
				t.Fatalf("output %q does not contain %q", out, s.wantOut)
			}
		})
	}
	out, _ := cli(t, env, "", "keys", "list")
	if !strings.Contains(out, "EdDSA") || !strings.Contains(out, "next") {
		t.Fatalf("keys list after rotate:\n%s", out)
	}
}

// cliStep runs one command of a table-driven CLI test. With wantErr set
// the command must fail with a one-line error containing it, and ok is
// false; otherwise it must succeed, and ok is true.
func cliStep(t *testing.T, env map[string]string, stdin string, args []string, wantErr string) (out string, ok bool) {
	t.Helper()
	out, err := cli(t, env, stdin, args...)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		if strings.Contains(oneLine(err), "\n") {
			t.Fatalf("error is not one line: %q", oneLine(err))
		}
		return out, false
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	return out, true
}

func TestServeRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"public address without TLS", nil, []string{"serve", "--listen", "0.0.0.0:0"}, "without TLS"},
		{"bad duration in env", map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}, []string{"serve", "--listen", "127.0.0.1:0"}, "GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"weak argon2 in env", map[string]string{"GATEHOUSE_ARGON2_MEMORY_KIB": "1024"}, []string{"serve", "--listen", "127.0.0.1:0"}, "argon2"},
		{"missing config file", nil, []string{"serve", "--config", "does-not-exist.yaml"}, "does-not-exist.yaml"},
		{"bad allowed origin", nil, []string{"serve", "--listen", "127.0.0.1:0", "--allowed-origin", "https://x.test/path"}, "allowed_origins"},
		{"stray argument", nil, []string{"serve", "now"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"GATEHOUSE_DATA": t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := cli(t, env, "", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// startServer runs `gatehouse serve` in-process on a free port and returns
// its public URL, the admin password it printed (if any), and a stop
// function that cancels the context as SIGTERM would and returns run's
// result.
func startServer(t *testing.T, data string, args ...string) (base, password string, stop func() error) {
	t.Helper()
	return startServerEnv(t, nil, data, args...)
}

// startServerEnv is startServer with env as the environment.
func startServerEnv(t testing.TB, env map[string]string, data string, args ...string) (base, password string, stop func() error) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0", "--data", data}, args...), envFrom(env), strings.NewReader(""), pw, io.Discard)
		pw.Close()
	}()
	base, password = awaitStart(t, pr, func() error { return <-done })
	stop = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("server did not shut down")
			return nil
		}
	}
	return base, password, stop
}

// awaitStart reads a starting server's standard output until it says where
// it listens, and returns its public URL and the admin password it printed
// on a first start (or ""). It keeps draining out afterwards. exited
// reports why the server stopped, when out ends before that.
func awaitStart(t testing.TB, out io.Reader, exited func() error) (base, password string) {
	t.Helper()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	passRE := regexp.MustCompile(`with password (\S+)`)
	listenRE := regexp.MustCompile(`public URL (\S+)\)`)
	deadline := time.After(30 * time.Second)
	for base == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("server exited: %v", exited())
			}
			if m := passRE.FindStringSubmatch(line); m != nil {
				password = m[1]
			}
			if m := listenRE.FindStringSubmatch(line); m != nil {
				base = m[1]
			}
		case <-deadline:
			t.Fatal("server did not start")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return base, password
}

// TestQuickStart runs `gatehouse serve` as the README's first command does
// (with a free port and a temporary data directory) and follows the
// README's walkthrough: the demo page, login, session, refresh, logout.
// Cancelling the context stands in for SIGTERM and must shut down cleanly.
func TestQuickStart(t *testing.T) {
	data := t.TempDir()
	base, password, stop := startServer(t, data, "--demo")
	if password == "" {
		t.Fatal("no admin password printed on first start")
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	u, _ := url.Parse(base)
	xsrf := func() string {
		for _, ck := range jar.Cookies(u) {
			if ck.Name == "XSRF-TOKEN" {
				return ck.Value
			}
		}
		return ""
	}
	send := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Origin", base)
		if x := xsrf(); x != "" {
			req.Header.Set("X-XSRF-TOKEN", x)
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	login, _ := json.Marshal(map[string]string{"username": "admin", "password": password})
	for _, step := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/", "", 200}, // the demo app
		{"GET", "/gatehouse.js", "", 200},
		{"POST", "/auth/login", string(login), 200},
		{"GET", "/auth/session", "", 200},
		{"POST", "/auth/refresh", "", 200},
		{"GET", "/auth/session", "", 200},
		{"POST", "/auth/logout", "", 204},
		{"GET", "/auth/session", "", 401},
	} {
		if res := send(step.method, step.path, step.body); res.StatusCode != step.want {
			t.Fatalf("%s %s: %d, want %d", step.method, step.path, res.StatusCode, step.want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// A restart keeps users and keys and prints no new password; the
	// admin logs in with the first password still.
	base, again, stop := startServer(t, data)
	defer stop()
	if again != "" {
		t.Fatal("restart printed a new admin password")
	}
	if res := send("POST", "/auth/login", string(login)); res.StatusCode != 200 {
		t.Fatalf("login after restart: %d", res.StatusCode)
	}
	_ = base
}

// TestCLIVersion: `gatehouse version` and `--version` print the same
// facts, among them the schema version this binary migrates to.
func TestCLIVersion(t *testing.T) {
	out, err := cli(t, nil, "", "version")
	if err != nil {
		t.Fatal(err)
	}
	flag, err := cli(t, nil, "", "--version")
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("schema version %d\n", app.Build().Schema)
	if out != flag || !strings.HasPrefix(out, "gatehouse ") || !strings.Contains(out, "\ncommit ") || !strings.HasSuffix(out, want) ||
		app.Build().Schema < 13 {
		t.Fatalf("version %q and --version %q, want the same, ending %q", out, flag, want)
	}
}
