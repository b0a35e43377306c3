package main

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestLoadLogins fires 1,000 concurrent logins at a server process with a
// 64 MiB hash memory budget (three argon2id hashes of 19 MiB at once) and
// checks that the process's peak resident memory stays within the budget
// plus a fixed overhead: admission control, not the number of requests,
// bounds the memory password hashing takes. Unbounded, the same flood
// would ask for up to 1,000 × 19 MiB.
//
// The per-IP and per-(account, IP) login limits are opened, and the wrong
// passwords spread over 20 accounts (25 each, under the account-wide
// ceiling of 100 an hour), so that every request reaches admission: no 429
// is expected and none is allowed. Each login either hashes (200 for the
// right password, 401 for a wrong one, never the other way round) or is
// turned away by admission (503), and admission must have turned some
// away, or the test did not load the budget.
//
// It takes about 5 s and is off by default: GATEHOUSE_LOAD_TEST=1 runs it.
// The figures it logs are in docs/benchmarks.md.
func TestLoadLogins(t *testing.T) {
	if os.Getenv("GATEHOUSE_LOAD_TEST") != "1" {
		t.Skip("load test: set GATEHOUSE_LOAD_TEST=1 to run 1,000 concurrent logins against a server process")
	}
	if raceEnabled() {
		t.Skip("load test: the race detector's own memory would swamp the bound; run it without -race")
	}
	const (
		logins    = 1000
		accounts  = 20
		budgetMiB = 64
		// outsideGoMiB is resident memory the Go runtime does not count
		// against its soft limit: the binary's mapped code and data and
		// SQLite's page caches (nine connections, up to 2 MiB each, in
		// its own allocator).
		outsideGoMiB = 48
		// overheadMiB is everything besides the hashes. serve sets the
		// runtime's soft memory limit to the budget plus
		// memoryOverheadMiB, which holds the heap near its live size
		// (here ~70 MiB: three hashes and the 1,000 connections) rather
		// than the twice-live the collector would otherwise allow; what
		// lies outside the runtime's count comes on top.
		overheadMiB = memoryOverheadMiB + outsideGoMiB
		pw          = "load-test-passphrase"
	)
	data := migratedData(t)
	for i := range accounts {
		if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, pw+"\n", "user", "add", loadUser(i), "--password-stdin"); err != nil {
			t.Fatal(err)
		}
	}
	srv := startChild(t, "127.0.0.1:0", data, map[string]string{
		"GATEHOUSE_HASH_MEMORY_BUDGET_MIB":     strconv.Itoa(budgetMiB),
		"GATEHOUSE_LOGIN_LIMITS_IP_PER_MINUTE": "100000",
		"GATEHOUSE_LOGIN_LIMITS_IP_BURST":      "100000",
		"GATEHOUSE_LOGIN_LIMITS_FREE_FAILURES": "100",
		"GATEHOUSE_LOGIN_LIMITS_LOCK_AFTER":    "100",
	})
	idle, err := srv.procStatusKiB("VmRSS")
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		status  int
		valid   bool
		latency time.Duration
		err     error
	}
	c := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: logins}}
	results := make([]result, logins)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			valid := i%2 == 0
			p := pw
			if !valid {
				p = "wrong-" + strconv.Itoa(i)
			}
			<-start
			t0 := time.Now()
			r, err := bearerLogin(c, srv.base, loadUser(i%accounts), p)
			results[i] = result{status: r.Status, valid: valid, latency: time.Since(t0), err: err}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	peak, err := srv.procStatusKiB("VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	srv.stop()

	counts := map[int]int{}
	byStatus := map[int][]time.Duration{}
	var all []time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Errorf("login %d: %v", i, r.err)
			continue
		}
		counts[r.status]++
		byStatus[r.status] = append(byStatus[r.status], r.latency)
		all = append(all, r.latency)
		switch {
		case r.status == http.StatusServiceUnavailable:
		case r.valid && r.status != http.StatusOK, !r.valid && r.status != http.StatusUnauthorized:
			t.Errorf("login %d (right password: %v): %d", i, r.valid, r.status)
		}
	}
	t.Logf("%d logins in %v (%.0f/s); statuses %v", logins, wall.Round(time.Millisecond), logins/wall.Seconds(), counts)
	t.Logf("latency all: %s", percentiles(all))
	for _, st := range slices.Sorted(maps.Keys(byStatus)) {
		t.Logf("latency %d: %s", st, percentiles(byStatus[st]))
	}
	t.Logf("RSS idle %.1f MiB, peak (VmHWM) %.1f MiB; bound %d MiB (budget %d + overhead %d)",
		float64(idle)/1024, float64(peak)/1024, budgetMiB+overheadMiB, budgetMiB, overheadMiB)
	if peak > (budgetMiB+overheadMiB)<<10 {
		t.Errorf("peak RSS %.1f MiB is over the bound of %d MiB", float64(peak)/1024, budgetMiB+overheadMiB)
	}
	for _, st := range []int{http.StatusOK, http.StatusUnauthorized, http.StatusServiceUnavailable} {
		if counts[st] == 0 {
			t.Errorf("no %d answers: the test did not exercise what it is for", st)
		}
	}
	if counts[http.StatusTooManyRequests] != 0 {
		t.Errorf("%d logins rate-limited: the limits were meant to let every login reach admission", counts[http.StatusTooManyRequests])
	}
}

func loadUser(i int) string { return fmt.Sprintf("load%02d", i) }

// percentiles formats the median and the 99th percentile of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Sorted(slices.Values(ds))
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return fmt.Sprintf("n=%d p50=%v p99=%v max=%v", len(s), at(0.50).Round(time.Millisecond),
		at(0.99).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
