package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// TestGuardInAnotherProcess: a resource server's guard, in this process,
// takes its keys from Gatehouse's JWKS and its revocations from the
// revocation feed of a Gatehouse server running as a separate process.
// Each session is logged out on the server, and the guard must refuse the
// session's next request within one second (the bound). The
// measured propagation is logged; its figures are in docs/benchmarks.md.
func TestGuardInAnotherProcess(t *testing.T) {
	const (
		sessions = 40
		secret   = "a-revocation-feed-secret-of-32-bytes-or-more"
		pw       = "feed-test-passphrase"
		bound    = time.Second
	)
	data := migratedData(t)
	if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, pw+"\n", "user", "add", "rs", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	srv := startChild(t, "127.0.0.1:0", data, map[string]string{
		"GATEHOUSE_REVOCATION_FEED_SECRET":     secret,
		"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "6000",
		"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "1000",
	})
	c := &http.Client{Timeout: 10 * time.Second}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call := followingGuard(t, ctx, srv.base, srv.base, secret)

	// logout ends the session with the access token and returns when the
	// server has answered that it did.
	logout := func(access string) {
		req, _ := http.NewRequest(http.MethodPost, srv.base+"/auth/logout", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", res.StatusCode)
		}
	}
	// The command line writes to the database from another process; the
	// server's feed finds the revocation at its next poll.
	cliRevoke := func(access string) {
		sid, err := sessionOf(access)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, "", "sessions", "revoke", sid); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		n      int
		revoke func(access string)
	}{
		{"logout through the server", sessions, logout},
		{"sessions revoke from the command line", 5, cliRevoke},
	} {
		t.Run(tc.name, func(t *testing.T) {
			measure(t, tc.n, bound, func() string {
				login, err := bearerLogin(c, srv.base, "rs", pw)
				if err != nil || login.Status != http.StatusOK {
					t.Fatalf("login: %v %+v", err, login)
				}
				return login.AccessToken
			}, tc.revoke, call)
		})
	}
}

// followingGuard is a resource server's guard in the test process, with
// its keys and revocations from the Gatehouse node at base: RemoteJWKS and
// FollowFeed, as a resource server next to that node would have. It
// returns once the feed has reached the node, with a function that asks
// the guard about an access token (status and problem code).
func followingGuard(t *testing.T, ctx context.Context, base, issuer, secret string) func(access string) (int, string) {
	t.Helper()
	keys := guard.RemoteJWKS(base+"/.well-known/jwks.json", guard.RemoteOptions{})
	if err := keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	revoked := guard.NewRevocations()
	go guard.FollowFeed(ctx, base+"/auth/revocations", guard.FeedOptions{Secret: secret, Set: revoked})
	g, err := guard.New(guard.Config{Issuer: issuer, Audience: issuer, Keys: keys, Revocations: revoked})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); revoked.LastContact().IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the guard's feed never reached the node")
		}
	}
	api := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	return func(access string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/api/thing", nil)
		req.Header.Set("Authorization", "Bearer "+access)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		var p struct{ Code string } // the problem details' code member (docs/guard.md)
		json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, p.Code
	}
}

// measure starts n sessions one after another, revokes each, and times
// how long the guard (call) keeps accepting its token after revoke
// returned; every one must be refused within bound.
func measure(t *testing.T, n int, bound time.Duration, login func() string, revoke func(string), call func(string) (int, string)) {
	var afterAnswer, afterCall []time.Duration
	for i := range n {
		access := login()
		if st, code := call(access); st != http.StatusOK {
			t.Fatalf("session %d before revocation: %d %s", i, st, code)
		}
		start := time.Now()
		revoke(access)
		answered := time.Now()
		for {
			st, code := call(access)
			if st == http.StatusUnauthorized && code == problem.CodeSessionEnded {
				break
			}
			if st != http.StatusOK {
				t.Fatalf("session %d after revocation: %d %s, want 200 until refused as session_ended", i, st, code)
			}
			if time.Since(answered) > bound {
				t.Fatalf("session %d: the guard still accepts its token %v after the revocation", i, bound)
			}
			time.Sleep(50 * time.Microsecond)
		}
		now := time.Now()
		afterAnswer = append(afterAnswer, now.Sub(answered))
		afterCall = append(afterCall, now.Sub(start))
	}
	slices.Sort(afterAnswer)
	slices.Sort(afterCall)
	pct := func(d []time.Duration, p float64) time.Duration { return d[int(p*float64(len(d)-1))] }
	t.Logf("propagation to the guard over %d revocations: after the revocation returned p50 %v p99 %v max %v; after it started p50 %v p99 %v",
		n, pct(afterAnswer, .5), pct(afterAnswer, .99), afterAnswer[len(afterAnswer)-1], pct(afterCall, .5), pct(afterCall, .99))
}
