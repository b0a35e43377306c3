package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

var (
	demoSecretRE = regexp.MustCompile(`^Revocation feed secret for this --demo run \(generated, shown only now\): (\S+)$`)
	listeningRE  = regexp.MustCompile(`^Gatehouse is listening on \S+ \(public URL (\S+)\)$`)
	adminPassRE  = regexp.MustCompile(`with password (\S+)`)
)

// readStart reads a starting server's standard output up to the line
// saying where it listens, returns those lines and the public URL, and
// keeps draining the rest.
func readStart(t *testing.T, out io.Reader) (base string, lines []string) {
	t.Helper()
	got := make(chan string)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	deadline := time.After(30 * time.Second)
	for base == "" {
		select {
		case line, ok := <-got:
			if !ok {
				t.Fatalf("the server's output ended before it listened:\n%s", strings.Join(lines, "\n"))
			}
			lines = append(lines, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				base = m[1]
			}
		case <-deadline:
			t.Fatal("server did not start")
		}
	}
	go func() {
		for range got {
		}
	}()
	return base, lines
}

// TestDemoFeedSecret: `serve --demo` without revocation_feed_secret makes
// its revocation feed usable by a guard in another process. It prints a
// generated secret once, on standard output only, with the URL to follow;
// a guard (in this test process) following the feed of the server (a
// separate process) with that secret refuses a logged-out session's
// token.
func TestDemoFeedSecret(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--demo", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// debug: the most the log ever says, and the secret must be in none of it.
	cmd.Env = append(cmd.Env, childEnv+"=1", "GATEHOUSE_LOG_LEVEL=debug")
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Error("server did not shut down")
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})

	base, lines := readStart(t, stdout)
	var secret, password string
	for _, l := range lines {
		if m := demoSecretRE.FindStringSubmatch(l); m != nil {
			secret = m[1]
		}
		if m := adminPassRE.FindStringSubmatch(l); m != nil {
			password = m[1]
		}
	}
	if secret == "" || password == "" {
		t.Fatalf("no feed secret or admin password in the output:\n%s", strings.Join(lines, "\n"))
	}
	if len(secret) < 32 {
		t.Errorf("generated secret is %d bytes, want at least 32", len(secret))
	}
	out := strings.Join(lines, "\n")
	if n := strings.Count(out, secret); n != 1 {
		t.Errorf("the secret is printed %d times, want once:\n%s", n, out)
	}
	if want := "follows " + base + "/auth/revocations with it"; !strings.Contains(out, want) {
		t.Errorf("the output does not say %q:\n%s", want, out)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	feed := func(secret string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/auth/revocations", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Accept", "application/json")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := feed(secret); st != http.StatusOK {
		t.Fatalf("feed with the printed secret: %d", st)
	}
	if st := feed(secret + "x"); st != http.StatusUnauthorized {
		t.Fatalf("feed with another secret: %d, want 401", st)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call := followingGuard(t, ctx, base, base, secret)
	login, err := bearerLogin(c, base, "admin", password)
	if err != nil || login.Status != http.StatusOK {
		t.Fatalf("login: %v %+v", err, login)
	}
	if st, code := call(login.AccessToken); st != http.StatusOK {
		t.Fatalf("guard before logout: %d %s", st, code)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, code := call(login.AccessToken)
		if st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard still answers %d %s for the logged-out session's token", st, code)
		}
	}

	stop() // the log is complete once the process has exited
	if strings.Contains(stderr.String(), secret) {
		t.Error("the feed secret is in the server's log")
	}
}

// TestDemoFeedSecretOnlyWhenNeeded: a configured revocation_feed_secret
// is used as it is and never printed, and without --demo no secret is
// made up: the feed stays off (404).
func TestDemoFeedSecretOnlyWhenNeeded(t *testing.T) {
	const configured = "a-configured-revocation-feed-secret-0123456789"
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		withFeed string // secret the feed answers 200 to; "" for a feed that is off
	}{
		{"demo with a configured secret", map[string]string{"GATEHOUSE_REVOCATION_FEED_SECRET": configured}, []string{"--demo"}, configured},
		{"no demo", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)
				done <- run(ctx, args, envFrom(tc.env), strings.NewReader(""), pw, io.Discard)
				pw.Close()
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			base, lines := readStart(t, pr)
			if out := strings.Join(lines, "\n"); strings.Contains(out, "Revocation feed secret") || strings.Contains(out, configured) {
				t.Errorf("serve printed a feed secret:\n%s", out)
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/auth/revocations", nil)
			req.Header.Set("Authorization", "Bearer "+configured)
			req.Header.Set("Accept", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			want := http.StatusNotFound
			if tc.withFeed != "" {
				want = http.StatusOK
			}
			if res.StatusCode != want {
				t.Fatalf("feed: %d, want %d", res.StatusCode, want)
			}
		})
	}
}
