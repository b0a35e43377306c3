package main

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// driven is one session as the crash test's driver knows it: only what
// responses it received told it.
type driven struct {
	id     string
	latest string   // refresh token from the last response received
	access string   // access token from the same response
	spent  []string // tokens the driver rotated and got a successor for
	// inflight is set when the driver presented latest and no answer came
	// (the server died meanwhile): the rotation may or may not have
	// committed.
	inflight bool
}

// TestCrashConsistency SIGKILLs the server in the middle of a stream of
// logins and refreshes and restarts it on the same data directory. Every
// answer the driver received must hold after the crash:
//
//   - each session it logged into is live;
//   - the latest refresh token it received refreshes exactly once (for a
//     session whose last refresh got no answer, the token either still
//     refreshes or is known as spent, never unknown);
//   - every token it saw spent is refused, and is known as spent (reuse),
//     not forgotten;
//   - no refresh token is accepted twice over the whole run.
//
// The refresh grace window is 0, so "refused" holds from the first
// re-presentation on.
func TestCrashConsistency(t *testing.T) {
	const (
		workers       = 6
		killAfter     = 200 // acknowledged operations
		refreshPerRun = 8   // refreshes per session before a new login
		pw            = "crash-test-passphrase"
	)
	data := migratedData(t)
	if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, pw+"\n", "user", "add", "crash", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	// All logins come from one address: the per-IP bucket is opened so
	// that it does not refuse them. argon2id stays at its defaults, the
	// lowest the configuration accepts.
	cfg := map[string]string{
		"GATEHOUSE_REFRESH_GRACE":              "0s",
		"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "6000",
		"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "1000",
	}
	srv := startChild(t, "127.0.0.1:0", data, cfg)
	c := &http.Client{Timeout: 10 * time.Second}

	var (
		mu       sync.Mutex
		sessions []*driven
		accepted = map[string]int{} // refresh token -> 200 answers to it
		acked    atomic.Int64
		killed   = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
	)
	ack := func() {
		if acked.Add(1) == killAfter {
			once.Do(func() {
				if err := srv.kill(); err != nil {
					t.Error(err)
				}
				close(killed)
			})
		}
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r, err := bearerLogin(c, srv.base, "crash", pw)
				if err != nil {
					return // the server is gone; the driver knows nothing of this session
				}
				if r.Status != http.StatusOK {
					t.Errorf("worker %d: login: %d %s", w, r.Status, r.Code)
					return
				}
				sid, err := sessionOf(r.AccessToken)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				s := &driven{id: sid, latest: r.RefreshToken, access: r.AccessToken}
				mu.Lock()
				sessions = append(sessions, s)
				mu.Unlock()
				ack()
				for range refreshPerRun {
					r, err := bearerRefresh(c, srv.base, s.latest)
					mu.Lock()
					switch {
					case err != nil:
						s.inflight = true
					case r.Status == http.StatusOK:
						accepted[s.latest]++
						s.spent = append(s.spent, s.latest)
						s.latest, s.access = r.RefreshToken, r.AccessToken
					default:
						t.Errorf("worker %d: refresh: %d %s", w, r.Status, r.Code)
					}
					mu.Unlock()
					if err != nil || r.Status != http.StatusOK {
						return
					}
					ack()
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the driver stopped after %d operations, before the kill", acked.Load())
	}
	if t.Failed() {
		return
	}

	srv = startChild(t, srv.addr, data, cfg)

	// Before anything is presented again: every session the driver knows
	// is live, by the CLI's reading of the registry and by the server
	// accepting its last access token.
	out, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, "", "sessions", "list", "--json", "--user", "crash")
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for id := range listed(t, out) {
		live[id] = true
	}
	inflight := 0
	for _, s := range sessions {
		if !live[s.id] {
			t.Errorf("session %s (%d refreshes acknowledged) is not live after the crash", s.id, len(s.spent))
		}
		if st := sessionStatus(t, c, srv.base, s.access); st != http.StatusOK {
			t.Errorf("session %s: GET /auth/session with its last access token: %d", s.id, st)
		}
		if s.inflight {
			inflight++
		}
	}
	t.Logf("%d acknowledged operations, %d sessions, %d refreshes unanswered at the kill", acked.Load(), len(sessions), inflight)
	if inflight > workers {
		t.Errorf("%d refreshes in flight, more than the %d workers", inflight, workers)
	}

	present := func(rt string) bearerResult {
		t.Helper()
		r, err := bearerRefresh(c, srv.base, rt)
		if err != nil {
			t.Fatalf("refresh after restart: %v", err)
		}
		if r.Status == http.StatusOK {
			accepted[rt]++
		}
		return r
	}
	committed := 0
	for _, s := range sessions {
		// The latest token refreshes: once.
		r := present(s.latest)
		switch {
		case r.Status == http.StatusOK:
			s.spent = append(s.spent, s.latest)
		case s.inflight && r.Status == http.StatusUnauthorized && r.Code == "refresh_token_reused":
			// The unanswered rotation committed; its answer was lost with
			// the process. Presenting the token again is reuse.
			committed++
			continue
		default:
			t.Errorf("session %s: latest refresh token after the crash: %d %s (in flight: %v)", s.id, r.Status, r.Code, s.inflight)
			continue
		}
		// A spent token, presented while the session is live, is known as
		// spent and refused as reuse. That revokes the session, so every
		// token presented after it is refused too.
		for i, rt := range s.spent {
			r := present(rt)
			want := "session_ended"
			if i == 0 {
				want = "refresh_token_reused"
			}
			if r.Status != http.StatusUnauthorized || r.Code != want {
				t.Errorf("session %s: spent token %d of %d: %d %s, want 401 %s", s.id, i+1, len(s.spent), r.Status, r.Code, want)
			}
		}
	}
	t.Logf("of the unanswered refreshes, %d had committed", committed)
	for rt, n := range accepted {
		if n > 1 {
			t.Errorf("refresh token %s…: accepted %d times", rt[:12], n)
		}
	}
	srv.stop()
}

// sessionStatus is the status of GET /auth/session with the access token.
func sessionStatus(t *testing.T, c *http.Client, base, access string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/auth/session", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(fmt.Errorf("GET /auth/session: %w", err))
	}
	res.Body.Close()
	return res.StatusCode
}
