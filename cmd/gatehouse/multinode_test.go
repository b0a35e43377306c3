package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/store/postgres/pgtest"
)

// cluster is several `gatehouse serve` processes on one PostgreSQL
// database, as behind a load balancer: they share the public URL (the
// issuer and audience), and each has its own port and data directory.
type cluster struct {
	dsn    string
	public string   // the URL every node publishes as its issuer
	nodes  []string // each node's own base URL
	client *http.Client
}

const (
	clusterUser   = "cluster"
	clusterPass   = "cluster-test-passphrase"
	clusterSecret = "a-revocation-feed-secret-of-32-bytes-or-more"
	// clusterGrace is the refresh grace window, short so that the race
	// test can wait it out.
	clusterGrace = 2 * time.Second
)

// startCluster creates a fresh schema (skipping loudly, or failing under
// CI, when PostgreSQL is unreachable), adds clusterUser, and starts n
// nodes on it. The poll interval is 10s: every revocation the tests time
// must arrive by NOTIFY, well within it, and the nodes' own guards still
// hear from their hubs well within the guard's default FeedMaxLag.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	dsn := pgtest.Schema(t)
	env := map[string]string{
		"GATEHOUSE_DATABASE":                   dsn,
		"GATEHOUSE_KEY_ENCRYPTION_KEY":         base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")),
		"GATEHOUSE_REVOCATION_FEED_SECRET":     clusterSecret,
		"GATEHOUSE_REVOCATION_POLL_INTERVAL":   "10s",
		"GATEHOUSE_REFRESH_GRACE":              clusterGrace.String(),
		"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "6000",
		"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "1000",
	}
	cliEnv := map[string]string{"GATEHOUSE_DATA": t.TempDir()}
	for k, v := range env {
		cliEnv[k] = v
	}
	// Only serve and migrate set up a database.
	if _, err := cli(t, cliEnv, "", "migrate"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, cliEnv, clusterPass+"\n", "user", "add", clusterUser, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	c := &cluster{dsn: dsn, public: "http://localhost:" + port, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	env["GATEHOUSE_PUBLIC_URL"] = c.public
	for _, addr := range addrs {
		startChild(t, addr, t.TempDir(), env)
		c.nodes = append(c.nodes, "http://"+addr)
	}
	return c
}

// freeAddr returns a loopback address with a port free a moment ago: the
// nodes need theirs before they start, since the first one's is the
// shared public URL.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (c *cluster) login(t *testing.T, node int) bearerResult {
	t.Helper()
	r, err := bearerLogin(c.client, c.nodes[node], clusterUser, clusterPass)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("login on node %d: %v %+v", node+1, err, r)
	}
	return r
}

// call sends a bearer request to a node and returns the status and the
// problem code, if any.
func (c *cluster) call(node int, method, path, access string) (int, string, error) {
	req, _ := http.NewRequest(method, c.nodes[node]+path, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	b, _ := io.ReadAll(res.Body)
	json.Unmarshal(b, &p)
	return res.StatusCode, p.Code, nil
}

// sessionStatus is GET /auth/session on a node.
func (c *cluster) sessionStatus(t *testing.T, node int, access string) (int, string) {
	t.Helper()
	st, code, err := c.call(node, http.MethodGet, "/auth/session", access)
	if err != nil {
		t.Fatal(err)
	}
	return st, code
}

// followingGuard is a resource server's guard following one node.
func (c *cluster) followingGuard(t *testing.T, ctx context.Context, node int) func(access string) (int, string) {
	t.Helper()
	return followingGuard(t, ctx, c.nodes[node], c.public, clusterSecret)
}

// TestMultiNode runs three Gatehouse processes on one PostgreSQL database.
// A session lives across them (login on one, refresh on another, revoked
// on the third, refused by the first and by a guard following the
// first's feed); revocation propagation between nodes is measured; and
// one refresh token presented to all three at once yields one successor.
func TestMultiNode(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("one JWKS", func(t *testing.T) {
		var first string
		for i, base := range c.nodes {
			res, err := c.client.Get(base + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			var v any
			err = json.NewDecoder(res.Body).Decode(&v)
			res.Body.Close()
			if err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("node %d JWKS: %d %v", i+1, res.StatusCode, err)
			}
			b, _ := json.Marshal(v) // map keys sorted: a canonical form
			if i == 0 {
				first = string(b)
			} else if string(b) != first {
				t.Errorf("node %d publishes %s\nnode 1 publishes %s", i+1, b, first)
			}
		}
	})

	guarded := c.followingGuard(t, ctx, 0)

	t.Run("login, refresh and revoke on three nodes", func(t *testing.T) {
		a := c.login(t, 0)
		sid, err := sessionOf(a.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := bearerRefresh(c.client, c.nodes[1], a.RefreshToken)
		if err != nil || a2.Status != http.StatusOK {
			t.Fatalf("refresh on node 2: %v %+v", err, a2)
		}
		for i := range c.nodes {
			if st, code := c.sessionStatus(t, i, a2.AccessToken); st != http.StatusOK {
				t.Fatalf("node %d /auth/session before the revocation: %d %s", i+1, st, code)
			}
		}
		if st, code := guarded(a2.AccessToken); st != http.StatusOK {
			t.Fatalf("guard before the revocation: %d %s", st, code)
		}
		// Another session of the same user ends it from node 3.
		other := c.login(t, 1)
		st, code, err := c.call(2, http.MethodDelete, "/auth/sessions/"+sid, other.AccessToken)
		if err != nil || st != http.StatusNoContent {
			t.Fatalf("DELETE /auth/sessions/{id} on node 3: %d %s %v", st, code, err)
		}
		revoked := time.Now()
		if st, code := c.sessionStatus(t, 0, a2.AccessToken); st != http.StatusUnauthorized || code != problem.CodeSessionEnded {
			t.Errorf("node 1 /auth/session after the revocation on node 3: %d %s, want 401 %s", st, code, problem.CodeSessionEnded)
		}
		for {
			st, code := guarded(a2.AccessToken)
			if st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
				break
			}
			if st != http.StatusOK {
				t.Fatalf("guard after the revocation: %d %s", st, code)
			}
			if time.Since(revoked) > time.Second {
				t.Fatal("the guard following node 1 still accepts the session a second after node 3 revoked it")
			}
			time.Sleep(100 * time.Microsecond)
		}
		t.Logf("the guard following node 1 refused the session %v after node 3's revocation returned", time.Since(revoked))
	})

	t.Run("revocation propagation", func(t *testing.T) {
		const n = 50
		// Sessions first, in parallel over the nodes: logins hash, and
		// only the revocations are timed.
		access := make([]string, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for w := range 6 {
			wg.Go(func() {
				for i := w; i < n; i += 6 {
					r, err := bearerLogin(c.client, c.nodes[i%3], clusterUser, clusterPass)
					if err == nil && r.Status != http.StatusOK {
						err = fmt.Errorf("status %d %s", r.Status, r.Code)
					}
					if err != nil {
						errs <- fmt.Errorf("login %d: %w", i, err)
						return
					}
					access[i] = r.AccessToken
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var toNode, toGuard []time.Duration
		for i, tok := range access {
			if st, code := c.sessionStatus(t, 0, tok); st != http.StatusOK {
				t.Fatalf("session %d on node 1 before its revocation: %d %s", i, st, code)
			}
			if st, code := guarded(tok); st != http.StatusOK {
				t.Fatalf("session %d at the guard before its revocation: %d %s", i, st, code)
			}
			if st, code, err := c.call(2, http.MethodPost, "/auth/logout", tok); err != nil || st != http.StatusNoContent {
				t.Fatalf("logout %d on node 3: %d %s %v", i, st, code, err)
			}
			answered := time.Now()
			var nodeAt, guardAt time.Duration
			for nodeAt == 0 || guardAt == 0 {
				if guardAt == 0 {
					if st, code := guarded(tok); st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
						guardAt = time.Since(answered)
					} else if st != http.StatusOK {
						t.Fatalf("session %d at the guard: %d %s", i, st, code)
					}
				}
				if nodeAt == 0 {
					if st, code := c.sessionStatus(t, 0, tok); st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
						nodeAt = time.Since(answered)
					} else if st != http.StatusOK {
						t.Fatalf("session %d on node 1: %d %s", i, st, code)
					}
				}
				if time.Since(answered) > time.Second {
					t.Fatalf("session %d still accepted a second after node 3 revoked it (node 1 refused after %v, the guard after %v; 0: not yet)",
						i, nodeAt, guardAt)
				}
			}
			toNode, toGuard = append(toNode, nodeAt), append(toGuard, guardAt)
		}
		slices.Sort(toNode)
		slices.Sort(toGuard)
		pct := func(d []time.Duration, p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
		t.Logf("over %d revocations on node 3, after the logout returned: node 1's /auth/session refused p50 %v p99 %v max %v; "+
			"the guard following node 1 refused p50 %v p99 %v max %v",
			n, pct(toNode, .5), pct(toNode, .99), toNode[n-1], pct(toGuard, .5), pct(toGuard, .99), toGuard[n-1])
	})

	t.Run("refresh race", func(t *testing.T) { refreshRace(t, c, guarded) })
}

// refreshRace presents one refresh token to every node at once, 50 times,
// inside the grace window. The design answers every one with 200 and the
// very same successor pair: the first rotation spends the token under the
// session row's lock; a request that read the token unspent finds it spent
// when its own conditional update runs, reads again and takes the
// duplicate path, which unseals the successor the first one stored. So
// exactly one successor exists. After the window, the original token is
// theft: 401 refresh_token_reused, and the session ends on every node.
func refreshRace(t *testing.T, c *cluster, guarded func(string) (int, string)) {
	const n = 50
	ctx := context.Background()
	first := c.login(t, 0)
	sid, err := sessionOf(first.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	results := make([]bearerResult, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], errs[i] = bearerRefresh(c.client, c.nodes[i%3], first.RefreshToken)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	if took > clusterGrace/2 {
		t.Fatalf("the %d refreshes took %v: too close to the %v grace window to test it", n, took, clusterGrace)
	}
	successor := results[0]
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("refresh %d on node %d: %v", i, i%3+1, errs[i])
		}
		if r.Status != http.StatusOK {
			t.Errorf("refresh %d on node %d: %d %s, want 200", i, i%3+1, r.Status, r.Code)
			continue
		}
		if r.RefreshToken != successor.RefreshToken || r.AccessToken != successor.AccessToken {
			t.Errorf("refresh %d on node %d got another pair than refresh 0", i, i%3+1)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if successor.RefreshToken == first.RefreshToken {
		t.Fatal("the successor is the presented token")
	}
	t.Logf("%d simultaneous refreshes over %d nodes answered in %v, all 200 with one successor", n, len(c.nodes), took)

	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var tokens, unspent int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE spent_at IS NULL) FROM refresh_tokens WHERE session_id = $1`,
		sid).Scan(&tokens, &unspent); err != nil {
		t.Fatal(err)
	}
	if tokens != 2 || unspent != 1 {
		t.Fatalf("the session has %d refresh tokens, %d unspent; want 2 (the presented one, spent, and one successor), 1 unspent", tokens, unspent)
	}
	for i := range c.nodes {
		if st, code := c.sessionStatus(t, i, successor.AccessToken); st != http.StatusOK {
			t.Fatalf("node %d /auth/session with the successor: %d %s", i+1, st, code)
		}
	}

	// Past the window the spent token is theft, whichever node sees it.
	time.Sleep(clusterGrace - time.Since(began) + 300*time.Millisecond)
	replay, err := bearerRefresh(c.client, c.nodes[1], first.RefreshToken)
	if err != nil || replay.Status != http.StatusUnauthorized || replay.Code != "refresh_token_reused" {
		t.Fatalf("replay on node 2 after the grace window: %v %+v, want 401 refresh_token_reused", err, replay)
	}
	revoked := time.Now()
	for i := range c.nodes {
		if st, code := c.sessionStatus(t, i, successor.AccessToken); st != http.StatusUnauthorized || code != problem.CodeSessionEnded {
			t.Errorf("node %d /auth/session with the successor after the replay: %d %s, want 401 %s", i+1, st, code, problem.CodeSessionEnded)
		}
		r, err := bearerRefresh(c.client, c.nodes[i], successor.RefreshToken)
		if err != nil || r.Status != http.StatusUnauthorized {
			t.Errorf("node %d refresh with the successor after the replay: %v %+v, want 401", i+1, err, r)
		}
	}
	for {
		st, code := guarded(successor.AccessToken)
		if st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
			break
		}
		if time.Since(revoked) > time.Second {
			t.Fatalf("the guard following node 1 still answers %d %s a second after the replay ended the session", st, code)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
