package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/revset"
)

const testFeedSecret = "feed-secret-for-tests-0123456789abcdef"

// fakeFeed is a Gatehouse revocation feed: the protocol of
// GET /auth/revocations, with knobs for the failures a guard must survive.
type fakeFeed struct {
	t  *testing.T
	mu sync.Mutex
	// entries ascend by seq; head is the highest seq ever assigned.
	entries []feedEntry
	head    int64
	// refuseStream answers SSE requests with this status; status answers
	// every request with it.
	refuseStream, status int
	// dropFirst ends the first stream after its backlog.
	dropFirst bool
	// hugeLine sends one over-long line on every stream.
	hugeLine bool
	pings    time.Duration
	live     chan feedEntry
	streams  int
	requests []string // "sse after=N last=M" or "json after=N"
}

func newFakeFeed(t *testing.T) (*fakeFeed, *httptest.Server) {
	f := &fakeFeed{t: t, live: make(chan feedEntry, 16)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeFeed) add(sid string, until time.Time) feedEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head++
	e := feedEntry{Seq: f.head, SID: sid, Until: until}
	f.entries = append(f.entries, e)
	return e
}

func (f *fakeFeed) after(after int64) []feedEntry {
	var out []feedEntry
	for _, e := range f.entries {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeFeed) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testFeedSecret {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	f.mu.Lock()
	kind := "json"
	if sse {
		kind = "sse"
	}
	f.requests = append(f.requests, fmt.Sprintf("%s after=%d last=%s", kind, after, r.Header.Get("Last-Event-ID")))
	status := f.status
	if sse && status == 0 {
		status = f.refuseStream
	}
	f.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if !sse {
		f.mu.Lock()
		page := feedPage{Revocations: f.after(after), Head: f.head}
		f.mu.Unlock()
		if page.Revocations == nil {
			page.Revocations = []feedEntry{}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(page)
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	write := func() bool {
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		w.(http.Flusher).Flush()
		return err == nil
	}
	event := func(id int64, name string, v any) {
		if id > 0 {
			fmt.Fprintf(&buf, "id: %d\n", id)
		}
		b, _ := json.Marshal(v)
		fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", name, b)
	}
	f.mu.Lock()
	f.streams++
	first := f.streams == 1
	if after > f.head {
		event(0, "reset", feedHead{Head: f.head})
		after = 0
	}
	for _, e := range f.after(after) {
		event(e.Seq, "revoked", e)
	}
	huge, pings := f.hugeLine, f.pings
	drop := f.dropFirst && first
	f.mu.Unlock()
	if huge {
		buf.WriteString("data: " + strings.Repeat("x", maxFeedLine+1) + "\n\n")
	}
	if !write() || drop {
		return
	}
	var tick <-chan time.Time
	if pings > 0 {
		tk := time.NewTicker(pings)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-f.live:
			event(e.Seq, "revoked", e)
		case <-tick:
			f.mu.Lock()
			event(0, "ping", feedHead{Head: f.head})
			f.mu.Unlock()
		}
		if !write() {
			return
		}
	}
}

// follow runs FollowFeed against srv until the test ends.
func follow(t *testing.T, srv *httptest.Server, set *Revocations, now func() time.Time, logs *lockedWriter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.DiscardHandler)
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, nil))
	}
	go func() {
		done <- FollowFeed(ctx, srv.URL+"/auth/revocations", FeedOptions{Secret: testFeedSecret, Set: set,
			PollInterval: 20 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond,
			IdleTimeout: time.Second, Log: log, Now: now})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Errorf("FollowFeed returned %v, want context.Canceled", err)
			}
		case <-time.After(2 * time.Second):
			t.Error("FollowFeed did not return after its context ended")
		}
	})
}

type lockedWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

var feedT0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// TestFollowFeedResumes: backlog, a dropped connection resumed with
// Last-Event-ID (nothing sent twice, nothing lost), then live events.
func TestFollowFeedResumes(t *testing.T) {
	f, srv := newFakeFeed(t)
	until := feedT0.Add(time.Hour)
	f.add("s1", until)
	f.add("s2", until)
	f.dropFirst = true
	set := NewRevocations()
	follow(t, srv, set, func() time.Time { return feedT0 }, nil)

	eventually(t, "the backlog", func() bool { return set.Revoked("s1") && set.Revoked("s2") })
	eventually(t, "the reconnect", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.streams >= 2
	})
	f.live <- f.add("s3", until)
	eventually(t, "the live event", func() bool { return set.Revoked("s3") })
	if revset.Of(set).Cursor() != 3 || !set.LastContact().Equal(feedT0) {
		t.Errorf("cursor %d contact %v", revset.Of(set).Cursor(), set.LastContact())
	}
	var streams []string
	for _, r := range f.log() {
		if strings.HasPrefix(r, "sse") {
			streams = append(streams, r)
		}
	}
	if len(streams) < 2 || streams[0] != "sse after=0 last=" || streams[1] != "sse after=2 last=2" {
		t.Errorf("stream requests %q: want one from 0, then a resume after 2 with Last-Event-ID 2", streams)
	}
}

// TestFollowFeedReset: a server whose head is behind the set's cursor
// (its store was replaced) resets; the guard starts again from 0.
func TestFollowFeedReset(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.add("n1", feedT0.Add(time.Hour))
	set := NewRevocations()
	revset.Of(set).Add("old", feedT0.Add(time.Hour), 40)
	follow(t, srv, set, func() time.Time { return feedT0 }, nil)
	eventually(t, "the entry after the reset", func() bool { return set.Revoked("n1") })
	if revset.Of(set).Cursor() != 1 {
		t.Errorf("cursor %d after reset and one entry, want 1", revset.Of(set).Cursor())
	}
	if log := f.log(); log[0] != "sse after=40 last=40" {
		t.Errorf("first request %q", log[0])
	}
}

// TestFollowFeedPollFallback: with the stream refused the guard polls the
// JSON form, touching the set on each poll, and keeps retrying the stream.
func TestFollowFeedPollFallback(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.refuseStream = http.StatusServiceUnavailable
	f.add("p1", feedT0.Add(time.Hour))
	var mu sync.Mutex
	now := feedT0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := NewRevocations()
	follow(t, srv, set, clock, nil)
	eventually(t, "the polled entry", func() bool { return set.Revoked("p1") })
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	eventually(t, "a touch by a later poll", func() bool { return set.LastContact().Equal(clock()) })
	f.add("p2", feedT0.Add(time.Hour))
	eventually(t, "the next polled entry", func() bool { return set.Revoked("p2") })

	var sse, polls int
	for _, r := range f.log() {
		if strings.HasPrefix(r, "sse") {
			sse++
		} else {
			polls++
		}
	}
	if sse < 2 || polls < 2 {
		t.Errorf("%d stream attempts and %d polls; want the stream retried while polling", sse, polls)
	}

	// The stream comes back: the guard uses it again.
	f.mu.Lock()
	f.refuseStream = 0
	f.mu.Unlock()
	eventually(t, "the stream", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.streams > 0
	})
	f.live <- f.add("p3", feedT0.Add(time.Hour))
	eventually(t, "the streamed entry", func() bool { return set.Revoked("p3") })
}

// TestFollowFeedPollReset: a polled head behind the cursor restarts it.
func TestFollowFeedPollReset(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.refuseStream = http.StatusServiceUnavailable
	f.add("r1", feedT0.Add(time.Hour))
	set := NewRevocations()
	revset.Of(set).Add("old", feedT0.Add(time.Hour), 9)
	follow(t, srv, set, func() time.Time { return feedT0 }, nil)
	eventually(t, "the entry after the reset", func() bool { return set.Revoked("r1") && revset.Of(set).Cursor() == 1 })
}

// TestFollowFeedPingTouches: heartbeats alone keep the set's contact
// fresh.
func TestFollowFeedPingTouches(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.pings = 10 * time.Millisecond
	var mu sync.Mutex
	now := feedT0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := NewRevocations()
	follow(t, srv, set, clock, nil)
	eventually(t, "the stream", func() bool { return set.LastContact().Equal(feedT0) })
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	eventually(t, "a ping's touch", func() bool { return set.LastContact().Equal(clock()) })
}

// TestFollowFeedRefused: a wrong secret is logged loudly (without the
// secret) and retried at the longest back-off, not hammered.
func TestFollowFeedRefused(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.status = http.StatusUnauthorized
	logs := &lockedWriter{}
	follow(t, srv, NewRevocations(), time.Now, logs)
	time.Sleep(500 * time.Millisecond)
	var sse int
	for _, r := range f.log() {
		if strings.HasPrefix(r, "sse") {
			sse++
		}
	}
	if sse < 1 || sse > 4 { // 500ms at a 200ms back-off
		t.Errorf("%d stream attempts in 500ms with RetryMax 200ms", sse)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "revocation_feed_secret") {
		t.Errorf("no loud error in the log: %s", out)
	}
	if strings.Contains(out, testFeedSecret) {
		t.Error("the secret is in the log")
	}
}

// TestFollowFeedLineCap: an over-long line ends the stream instead of
// being buffered; the guard falls back to polling.
func TestFollowFeedLineCap(t *testing.T) {
	f, srv := newFakeFeed(t)
	f.hugeLine = true
	f.add("c1", feedT0.Add(time.Hour))
	set := NewRevocations()
	follow(t, srv, set, func() time.Time { return feedT0 }, nil)
	eventually(t, "a poll after the stream failed", func() bool {
		for _, r := range f.log() {
			if strings.HasPrefix(r, "json") {
				return true
			}
		}
		return false
	})
	if !set.Revoked("c1") {
		t.Error("entry lost")
	}
}
