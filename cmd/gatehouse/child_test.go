package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// childEnv marks the test binary re-executed as a gatehouse process: with
// it set, TestMain runs the command in its arguments instead of the tests.
const childEnv = "GATEHOUSE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(runProcess(os.Args[1:]))
	}
	// pgtest drops the database the PostgreSQL tests made, if any.
	pgtest.Main(m)
}

// child is `gatehouse serve` running as a separate process (the test binary
// itself), so that a test can SIGKILL it or read its memory use.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string     // public URL
	addr string     // the address it listens on
	done chan error // receives the process's exit once
	exit error
	log  *lockedBuffer
}

// startChild starts `gatehouse serve` listening on addr (127.0.0.1:0 for
// a free port) with data as its data directory, env added to the
// environment (GATEHOUSE_* settings) and args added to the command line.
// It returns once the server listens. A restart keeps the issuer, and so
// the tokens, valid only on the same port: pass the first one's addr.
func startChild(t *testing.T, addr, data string, env map[string]string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--listen", addr, "--data", data}, args...)...)
	// Settings come from env alone, not from the shell running the tests.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"=1", "GATEHOUSE_LOG_LEVEL=warn")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	pr, pw := io.Pipe()
	c := &child{t: t, cmd: cmd, done: make(chan error, 1), log: &lockedBuffer{}}
	cmd.Stdout, cmd.Stderr = pw, c.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.done <- cmd.Wait()
		pw.Close()
	}()
	t.Cleanup(func() {
		if c.wait(0) == nil {
			cmd.Process.Signal(syscall.SIGKILL)
			c.wait(10 * time.Second)
		}
		if t.Failed() {
			t.Logf("server %d stderr:\n%s", cmd.Process.Pid, c.log.String())
		}
	})
	c.base, _ = awaitStart(t, pr, func() error { return c.wait(5 * time.Second) })
	u, err := url.Parse(c.base)
	if err != nil {
		t.Fatal(err)
	}
	c.addr = "127.0.0.1:" + u.Port()
	return c
}

// wait returns the process's exit once it has exited, waiting at most d;
// nil means it is still running.
func (c *child) wait(d time.Duration) error {
	if c.exit != nil {
		return c.exit
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-c.done:
		c.exited(err)
	default:
		select {
		case err := <-c.done:
			c.exited(err)
		case <-timer.C:
		}
	}
	return c.exit
}

func (c *child) exited(err error) {
	if err == nil {
		err = errExitedCleanly
	}
	c.exit = err
}

var errExitedCleanly = errors.New("exited with status 0")

// kill SIGKILLs the server, as a crash or an OOM kill would, and waits
// for it to be gone. It may be called from any goroutine.
func (c *child) kill() error {
	c.cmd.Process.Signal(syscall.SIGKILL)
	var ee *exec.ExitError
	if err := c.wait(10 * time.Second); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		return fmt.Errorf("server did not die by SIGKILL: %v", err)
	}
	return nil
}

// stop sends SIGTERM and expects a clean shutdown.
func (c *child) stop() {
	c.t.Helper()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.wait(15 * time.Second); err != errExitedCleanly {
		c.t.Fatalf("server shutdown: %v", err)
	}
}

// procStatusKiB reads a kB field (VmRSS, VmHWM) of the process's
// /proc status.
func (c *child) procStatusKiB(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc status", field)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// bearerResult is what the server answered a bearer-mode login or refresh:
// the status, and the tokens (200) or the problem code (otherwise).
type bearerResult struct {
	Status       int
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Code         string `json:"code"`
}

// postJSON posts body to base+path and decodes the answer. An error means
// no complete answer arrived.
func postJSON(c *http.Client, base, path string, body any) (bearerResult, error) {
	b, _ := json.Marshal(body)
	res, err := c.Post(base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return bearerResult{}, err
	}
	defer res.Body.Close()
	r := bearerResult{Status: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return bearerResult{}, fmt.Errorf("%s: status %d, body: %w", path, res.StatusCode, err)
	}
	if r.Status == http.StatusOK && (r.AccessToken == "" || r.RefreshToken == "") {
		return r, fmt.Errorf("%s: 200 without tokens", path)
	}
	return r, nil
}

func bearerLogin(c *http.Client, base, user, pw string) (bearerResult, error) {
	return postJSON(c, base, "/auth/login", map[string]string{"username": user, "password": pw, "mode": "bearer"})
}

func bearerRefresh(c *http.Client, base, rt string) (bearerResult, error) {
	return postJSON(c, base, "/auth/refresh", map[string]string{"refresh_token": rt})
}

// sessionOf returns the session id (sid claim) of an access token. It
// does not verify the token: the server does that when it is presented.
func sessionOf(accessToken string) (string, error) {
	parts := strings.Split(accessToken, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("access token is not a JWS: %q", accessToken)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err == nil {
		err = json.Unmarshal(b, &claims)
	}
	if err == nil && claims.SID == "" {
		err = errors.New("no sid claim")
	}
	return claims.SID, err
}
