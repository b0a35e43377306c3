package bff_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/bff"
)

// TestProxy: what the proxy does with the upstream's answers: a stream
// (server-sent events) passes through unbuffered; an upstream that cannot
// be reached is 502 and one too slow 504, as problem+json; an upstream
// 401 to an idempotent call refreshes once and retries once, and to a
// POST is passed through as it is, untried again.
func TestProxy(t *testing.T) {
	release := make(chan struct{})
	events := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release // the second event waits until the client has read the first
		fmt.Fprint(w, "data: second\n\n")
	}))
	t.Cleanup(events.Close)
	t.Cleanup(func() { close(release) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(800 * time.Millisecond)
	}))
	t.Cleanup(slow.Close)
	var hits401 atomic.Int32
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits401.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()
	u := func(s string) *url.URL { p, _ := url.Parse(s); return p }

	s := newStack(t, withRoutes(500*time.Millisecond,
		bff.Route{Prefix: "/events/", Upstream: u(events.URL)},
		bff.Route{Prefix: "/slow/", Upstream: u(slow.URL)},
		bff.Route{Prefix: "/refusing/", Upstream: u(refusing.URL)},
		bff.Route{Prefix: "/gone/", Upstream: u(goneURL)}))
	b := s.browser()
	b.login()

	t.Run("server-sent events stream", func(t *testing.T) {
		resp, err := b.c.Get(s.bffURL + "/events/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "data: first\n" {
			t.Fatalf("first event %q, %v: the stream was held back", line, err)
		}
	})
	problem := func(t *testing.T, path string, want int, code string) {
		t.Helper()
		resp, body := b.do(http.MethodGet, s.bffURL+path, nil, nil)
		var p struct {
			Code string `json:"code"`
		}
		if resp.StatusCode != want || resp.Header.Get("Content-Type") != "application/problem+json" ||
			json.Unmarshal(body, &p) != nil || p.Code != code {
			t.Fatalf("%s: %d %s %s, want %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body, want, code)
		}
	}
	t.Run("upstream unreachable", func(t *testing.T) { problem(t, "/gone/x", http.StatusBadGateway, "upstream_unavailable") })
	t.Run("upstream too slow", func(t *testing.T) { problem(t, "/slow/x", http.StatusGatewayTimeout, "upstream_timeout") })
	t.Run("401 to a GET: one refresh, one retry", func(t *testing.T) {
		hits401.Store(0)
		before := s.refreshes.Load()
		resp, _ := b.do(http.MethodGet, s.bffURL+"/refusing/x", nil, nil)
		if resp.StatusCode != http.StatusUnauthorized || hits401.Load() != 2 || s.refreshes.Load()-before != 1 {
			t.Fatalf("%d after %d upstream calls and %d refreshes, want 401 after 2 and 1", resp.StatusCode, hits401.Load(),
				s.refreshes.Load()-before)
		}
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatal("the retry's answer lost its headers")
		}
	})
	t.Run("401 to a POST: passed through, not retried", func(t *testing.T) {
		hits401.Store(0)
		before := s.refreshes.Load()
		resp, _ := b.do(http.MethodPost, s.bffURL+"/refusing/x", nil, map[string]string{bff.HeaderCSRF: b.csrf()})
		if resp.StatusCode != http.StatusUnauthorized || hits401.Load() != 1 || s.refreshes.Load() != before {
			t.Fatalf("%d after %d upstream calls and %d refreshes, want 401 after 1 and none", resp.StatusCode, hits401.Load(),
				s.refreshes.Load()-before)
		}
	})
}

// TestUserSlide: /bff/user counts as a use of the session, extending its
// idle lifetime, unless asked with ?slide=false (a page polling who is
// signed in must not keep an idle session alive).
func TestUserSlide(t *testing.T) {
	s := newStack(t)
	b := s.browser()
	b.login()
	expiresIn := func(q string) int {
		t.Helper()
		resp, body := b.do(http.MethodGet, s.bffURL+"/bff/user"+q, nil, nil)
		var u struct {
			ExpiresIn int `json:"expires_in"`
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &u) != nil {
			t.Fatalf("/bff/user%s: %d %s", q, resp.StatusCode, body)
		}
		return u.ExpiresIn
	}
	full := expiresIn("?slide=false")
	s.clock.Advance(10 * time.Minute)
	if got := expiresIn("?slide=false"); got != full-600 {
		t.Fatalf("after 10 minutes with slide=false: %d s left, want %d", got, full-600)
	}
	if got := expiresIn(""); got != full {
		t.Fatalf("a sliding /bff/user: %d s left, want the full %d again", got, full)
	}
}
