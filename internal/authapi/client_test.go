package authapi_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/gatehouse-auth/gatehouse/web"
)

// TestBrowserClientServed: GET /gatehouse.js is the embedded module, as
// JavaScript, revalidated on every use, with the API's security headers.
func TestBrowserClientServed(t *testing.T) {
	g := newGH(t)
	r := doWith(t, http.DefaultClient, g.URL, "GET", "/gatehouse.js", nil)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, web.ClientScript()) {
		t.Fatalf("GET /gatehouse.js: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	for h, want := range map[string]string{
		"Content-Type":            "text/javascript; charset=utf-8",
		"Cache-Control":           "no-cache",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := doWith(t, http.DefaultClient, g.URL, "GET", "/gatehouse.js", nil, "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified || len(again.Body) != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and none", again.StatusCode, len(again.Body))
	}
	if r := doWith(t, http.DefaultClient, g.URL, "POST", "/gatehouse.js", nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /gatehouse.js: %d, want 405", r.StatusCode)
	}
}

// TestFallback: a surface mounted at / beside the API (the demo app)
// gets the paths outside the route table, behind the same edge; the
// API's own paths do not reach it.
func TestFallback(t *testing.T) {
	fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Write([]byte("fallback " + r.URL.Path))
	})
	g := newGH(t)
	g.App.Mount("/", fallback)
	r := doWith(t, http.DefaultClient, g.URL, "GET", "/elsewhere", nil)
	if string(r.Body) != "fallback /elsewhere" || r.Header.Get("X-Frame-Options") != "DENY" ||
		r.Header.Get("Content-Security-Policy") != "default-src 'self'" {
		t.Errorf("GET /elsewhere: %d %q, headers %v", r.StatusCode, r.Body, r.Header)
	}
	if r := doWith(t, http.DefaultClient, g.URL, "GET", "/healthz", nil); r.StatusCode != http.StatusOK || bytes.HasPrefix(r.Body, []byte("fallback")) {
		t.Errorf("GET /healthz went to the fallback: %q", r.Body)
	}
	// A cross-site write is refused before it reaches the fallback.
	r = doWith(t, http.DefaultClient, g.URL, "POST", "/elsewhere", "x", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /elsewhere: %d %q, want 403", r.StatusCode, r.Body)
	}
}
