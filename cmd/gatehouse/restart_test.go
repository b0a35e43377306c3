package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/guard"
)

// TestPostgresRestart restarts the PostgreSQL server under a Gatehouse
// node that is serving logins, refreshes and session checks, and checks
// that the node rides it out: while the database is down every request
// that needs it is answered 503 unavailable with Retry-After (never 500,
// never a panic), service resumes by itself once the database is back, no
// session the client was told about is lost, and a resource server's
// guard verifies access tokens throughout.
//
// It needs a PostgreSQL cluster of its own to stop and start, made in a
// temporary directory with initdb and pg_ctl (found with pg_config
// --bindir): the shared test server cannot be restarted under the other
// tests. Without those programs it is skipped, loudly, or fails under CI.
func TestPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restart test: not in -short mode")
	}
	pg := startPrivatePostgres(t)
	const (
		workers = 4
		pw      = "restart-test-passphrase"
		// dbPassword is in the DSN so the test can check it never
		// reaches the node's log; trust authentication ignores it.
		dbPassword = "restart-test-db-password"
	)
	dsn := pg.createDatabase(t, "gatehouse", dbPassword)
	env := map[string]string{
		"GATEHOUSE_DATA":                       t.TempDir(),
		"GATEHOUSE_DATABASE":                   dsn,
		"GATEHOUSE_KEY_ENCRYPTION_KEY":         base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "100000",
		"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "100000",
	}
	// Only serve and migrate set up a database.
	if _, err := cli(t, env, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	for i := range workers {
		if _, err := cli(t, env, pw+"\n", "user", "add", restartUser(i), "--password-stdin"); err != nil {
			t.Fatal(err)
		}
	}
	node := startChild(t, "127.0.0.1:0", env["GATEHOUSE_DATA"], env)

	// The resource server: a guard in this process with the node's
	// JWKS, fetched before the restart; it needs no database, and no
	// revocation feed for this test.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys := guard.RemoteJWKS(node.base+"/.well-known/jwks.json", guard.RemoteOptions{})
	if err := keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := guard.New(guard.Config{Issuer: node.base, Audience: node.base, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	var (
		mu      sync.Mutex
		results []restartResult
		// sessions holds each acknowledged session's latest refresh
		// token: the client's own record of what it was told.
		sessions = map[string]string{}
		latest   atomic.Pointer[string] // an access token for the guard
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	record := func(r restartResult) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	for w := range workers {
		wg.Go(func() {
			type sess struct{ id, access, refresh string }
			var mine []*sess
			for {
				select {
				case <-stop:
					return
				default:
				}
				if len(mine) == 0 || rand.IntN(5) == 0 {
					r := restartCall(c, "login", node.base, "/auth/login", map[string]string{"username": restartUser(w), "password": pw, "mode": "bearer"}, "")
					if r.Status == http.StatusOK {
						sid, err := sessionOf(r.AccessToken)
						if err != nil {
							r.Err = err
						} else {
							mine = append(mine, &sess{sid, r.AccessToken, r.RefreshToken})
							mu.Lock()
							sessions[sid] = r.RefreshToken
							mu.Unlock()
							latest.Store(&r.AccessToken)
						}
					}
					record(r)
					continue
				}
				s := mine[rand.IntN(len(mine))]
				r := restartCall(c, "session", node.base, "/auth/session", nil, s.access)
				record(r)
				r = restartCall(c, "refresh", node.base, "/auth/refresh", map[string]string{"refresh_token": s.refresh}, "")
				if r.Status == http.StatusOK {
					s.access, s.refresh = r.AccessToken, r.RefreshToken
					mu.Lock()
					sessions[s.id] = r.RefreshToken
					mu.Unlock()
					latest.Store(&r.AccessToken)
				}
				// On a 503 the client keeps the token it presented:
				// the rotation may have committed before the
				// connection dropped, and the grace window gives a
				// repeat the same successor.
				record(r)
			}
		})
	}
	// The guard checks the newest access token every few milliseconds.
	type check struct {
		at  time.Time
		err error
	}
	var checks []check
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if tok := latest.Load(); tok != nil {
				_, err := g.Verify(ctx, *tok)
				checks = append(checks, check{time.Now(), err})
			}
		}
	})

	time.Sleep(2 * time.Second)
	down := time.Now()
	pg.ctl(t, "stop", "-m", "fast", "-w", "-t", "30")
	time.Sleep(2 * time.Second)
	pg.ctl(t, "start", "-w", "-t", "30", "-l", pg.logFile)
	up := time.Now()
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("database down for %v", up.Sub(down).Round(time.Millisecond))

	// Requests answered while the database was down, or within this of
	// it coming back: pgxpool drops the connections the restart broke
	// as it meets them, and one in flight at the restart may fail.
	const settle = time.Second
	counts := map[string]int{}
	var after, unavailable int
	for _, r := range results {
		counts[fmt.Sprintf("%s %d", r.Op, r.Status)]++
		switch {
		case r.Err != nil:
			t.Errorf("%s at %v: %v", r.Op, r.Start.Sub(down).Round(time.Millisecond), r.Err)
		case r.Status == http.StatusOK:
			if r.Start.After(up) && r.Op != "session" {
				after++
			}
		case r.Status == http.StatusServiceUnavailable && r.Code == "unavailable" && r.RetryAfter != "":
			unavailable++
			if r.End.Before(down) || r.Start.After(up.Add(settle)) {
				t.Errorf("%s answered 503 at %v..%v, outside the outage (0..%v)", r.Op,
					r.Start.Sub(down).Round(time.Millisecond), r.End.Sub(down).Round(time.Millisecond), up.Sub(down).Round(time.Millisecond))
			}
		default:
			t.Errorf("%s at %v: %d %s (Retry-After %q), want 200 or 503 unavailable with Retry-After", r.Op,
				r.Start.Sub(down).Round(time.Millisecond), r.Status, r.Code, r.RetryAfter)
		}
	}
	keysSorted := slices.Sorted(func(yield func(string) bool) {
		for k := range counts {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keysSorted {
		t.Logf("%-12s %5d", k, counts[k])
	}
	if unavailable == 0 {
		t.Error("no request was answered 503 during the outage: the test did not catch the database down")
	}
	if after == 0 {
		t.Error("no login or refresh succeeded after the database came back")
	}

	var during, failed int
	for _, ch := range checks {
		if ch.err != nil {
			failed++
			t.Errorf("guard at %v: %v", ch.at.Sub(down).Round(time.Millisecond), ch.err)
		} else if ch.at.After(down) && ch.at.Before(up) {
			during++
		}
	}
	t.Logf("guard: %d verifications, %d during the outage, %d failed", len(checks), during, failed)
	if during == 0 {
		t.Error("the guard verified no token during the outage")
	}

	// Every session the client was told about is still there: its latest
	// refresh token refreshes.
	for sid, rt := range sessions {
		r := restartCall(c, "refresh", node.base, "/auth/refresh", map[string]string{"refresh_token": rt}, "")
		if r.Status != http.StatusOK {
			t.Errorf("session %s after the restart: refresh %d %s", sid, r.Status, r.Code)
		}
	}
	t.Logf("%d acknowledged sessions, all still refresh", len(sessions))

	if node.wait(0) != nil {
		t.Fatalf("the node exited: %v", node.exit)
	}
	log := node.log.String()
	if strings.Contains(log, "panic") {
		t.Errorf("the node's log shows a panic:\n%s", log)
	}
	if strings.Contains(log, dbPassword) {
		t.Errorf("the node's log shows the database password:\n%s", log)
	}
}

func restartUser(i int) string { return fmt.Sprintf("restart%d", i) }

// restartResult is one request of the restart test's load driver.
type restartResult struct {
	Op           string
	Start, End   time.Time
	Status       int
	Code         string `json:"code"`
	RetryAfter   string
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Err          error
}

// restartCall sends one request: a JSON POST when body is set, otherwise
// a GET with the access token.
func restartCall(c *http.Client, op, base, path string, body any, access string) restartResult {
	r := restartResult{Op: op, Start: time.Now()}
	defer func() { r.End = time.Now() }()
	var req *http.Request
	if body != nil {
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(http.MethodPost, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+access)
	}
	res, err := c.Do(req)
	if err != nil {
		r.Err = err
		r.End = time.Now()
		return r
	}
	defer res.Body.Close()
	r.Status, r.RetryAfter = res.StatusCode, res.Header.Get("Retry-After")
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		r.Err = fmt.Errorf("status %d: %w", res.StatusCode, err)
	}
	r.End = time.Now()
	return r
}

// privatePostgres is a PostgreSQL cluster of the test's own, in a
// temporary directory, on a free port, with trust authentication for
// local TCP and fsync on (the production setting, so the restart loses
// nothing a commit acknowledged).
type privatePostgres struct {
	bin     string
	dir     string // removed when the test ends
	data    string
	logFile string
	port    int
	// cred runs the server's programs as an unprivileged user when the
	// tests run as root, which initdb and postgres refuse.
	cred *syscall.Credential
}

// postgresBinDir finds initdb and pg_ctl: pg_config --bindir, then the
// PATH, then the Debian layout, where the server's programs are not on
// the PATH.
func postgresBinDir() string {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs) // the newest version first (for versions of equal length)
	for _, d := range dirs {
		if has(d) {
			return d
		}
	}
	return ""
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		msg := "initdb and pg_ctl not found (pg_config --bindir, PATH): the PostgreSQL restart test did NOT run; install the PostgreSQL server programs"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	pg := &privatePostgres{bin: bin, dir: dir, data: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "postgres.log")}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(pg.data, "postmaster.pid")); err == nil {
			pg.run("stop", "-m", "immediate", "-w", "-t", "30")
		}
		if t.Failed() {
			if b, err := os.ReadFile(pg.logFile); err == nil {
				t.Logf("PostgreSQL log:\n%s", b)
			}
		}
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := pg.command("initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pg.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf("\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = on\nmax_connections = 40\n",
		pg.port, dir)
	f, err := os.OpenFile(filepath.Join(pg.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	pg.ctl(t, "start", "-w", "-t", "30", "-l", pg.logFile)
	return pg
}

// command is one of the cluster's programs, run as its owner.
func (pg *privatePostgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

func (pg *privatePostgres) run(args ...string) ([]byte, error) {
	return pg.command("pg_ctl", append([]string{"-D", pg.data}, args...)...).CombinedOutput()
}

// ctl runs pg_ctl on the cluster and fails the test if it fails.
func (pg *privatePostgres) ctl(t *testing.T, args ...string) {
	t.Helper()
	if out, err := pg.run(args...); err != nil {
		t.Fatalf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// createDatabase creates the database and returns a DSN for it, with
// password in it (trust authentication does not ask for it).
func (pg *privatePostgres) createDatabase(t *testing.T, name, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", password, pg.port, name)
}
