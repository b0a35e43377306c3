// Package demo is the demo app of `gatehouse serve --demo`: a small
// single-page app (web/demo) that signs in with cookies through
// gatehouse.js, and a demo API under /demo/api/ that stands for a
// resource server: it trusts nothing but what its Authenticator (the
// guard) verified. It exists to show, and to test in a real browser, the
// whole path a browser app takes: login, CSRF-protected writes, refresh,
// several tabs, signing out everywhere.
//
// The API keeps its notes in memory, bounded, and forgets them on restart:
// it is a demonstration, not a store.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse/web"
)

// CSP is the demo pages' Content-Security-Policy. The API's own
// "default-src 'none'" would block the page's script and style; this
// allows exactly the same-origin files the app consists of and nothing
// inline, so an injected <script> or style attribute does not run.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Authenticator protects the demo API. The guard (guard.Guard) is one: it
// verifies the access token, refuses revoked sessions and checks CSRF on
// cookie-borne writes before the handler runs.
type Authenticator interface {
	Middleware(http.Handler) http.Handler
}

// Principal is the verified caller, as the demo API shows it.
type Principal struct {
	UserID    string
	Username  string
	Roles     []string
	SessionID string
}

// Deps is what the demo needs from its host.
type Deps struct {
	// Auth guards every /demo/api/ endpoint. Required.
	Auth Authenticator
	// Require, when set, wraps each API handler inside Auth: a further
	// check on the verified caller, such as a required scope.
	Require func(http.Handler) http.Handler
	// PrincipalFrom returns the caller Auth verified, from the request
	// context. Required.
	PrincipalFrom func(context.Context) (Principal, bool)
	// Log receives the demo's own errors. Required.
	Log *slog.Logger
	// Limits bound the in-memory notes; zero values take the defaults.
	Limits Limits
}

// Limits bound the memory the demo's notes can take: at most Users users
// times PerUser notes of at most TextRunes characters each.
type Limits struct {
	Users     int // users with notes kept; the least recently written is forgotten first (default 1,000)
	PerUser   int // notes kept per user; the oldest is dropped first (default 20)
	TextRunes int // characters per note (default 500)
}

func (l Limits) withDefaults() Limits {
	if l.Users <= 0 {
		l.Users = 1000
	}
	if l.PerUser <= 0 {
		l.PerUser = 20
	}
	if l.TextRunes <= 0 {
		l.TextRunes = 500
	}
	return l
}

// maxBody bounds a note request: a note of TextRunes four-byte characters,
// JSON-escaped, with room to spare.
const maxBody = 8 << 10

// Handler returns the demo: the app at /, its files under /demo/, and the
// API under /demo/api/. It answers every other path with a 404 problem, so
// it can be the server's fallback for paths outside the API.
func Handler(d Deps) (http.Handler, error) {
	if d.Auth == nil || d.PrincipalFrom == nil || d.Log == nil {
		return nil, errors.New("demo: Auth, PrincipalFrom and Log are required")
	}
	files := web.DemoFiles()
	a := &api{principal: d.PrincipalFrom, notes: newNotes(d.Limits.withDefaults()), log: d.Log}

	protect := func(h http.Handler) http.Handler {
		if d.Require != nil {
			h = d.Require(h)
		}
		return d.Auth.Middleware(h)
	}

	mux := http.NewServeMux()
	page := func(pattern, name string) error {
		h, err := fileHandler(files, name)
		if err != nil {
			return err
		}
		mux.Handle(pattern, h)
		return nil
	}
	for pattern, name := range map[string]string{
		"GET /{$}":          "index.html",
		"GET /demo/app.js":  "app.js",
		"GET /demo/app.css": "app.css",
	} {
		if err := page(pattern, name); err != nil {
			return nil, err
		}
	}
	mux.Handle("GET /demo/api/me", protect(http.HandlerFunc(a.me)))
	mux.Handle("GET /demo/api/notes", protect(http.HandlerFunc(a.listNotes)))
	mux.Handle("POST /demo/api/notes", protect(http.HandlerFunc(a.addNote)))

	// Other methods on known paths: 405 with Allow, as problem+json like
	// the rest of the API (ServeMux's own 405 is plain text).
	for p, allow := range map[string]string{
		"/{$}": "GET, HEAD", "/demo/app.js": "GET, HEAD", "/demo/app.css": "GET, HEAD",
		"/demo/api/me": "GET, HEAD", "/demo/api/notes": "GET, HEAD, POST",
	} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
	return mux, nil
}

// fileHandler serves one embedded file of the app with the demo CSP. The
// files change only with the binary; no-cache makes a browser revalidate
// them, so an upgrade shows at once.
func fileHandler(files fs.FS, name string) (http.Handler, error) {
	body, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, err
	}
	// text/javascript is the registered type for scripts (RFC 9239).
	ctype, ok := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
	}[path.Ext(name)]
	if !ok {
		return nil, fmt.Errorf("demo: no content type for %s", name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("Content-Type", ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body) // a client gone mid-body: nothing to report to
	}), nil
}

// validText reports whether a note text is acceptable: not blank, at most
// max characters, and no control characters other than newline and tab.
func validText(s string, max int) bool {
	if strings.TrimSpace(s) == "" {
		return false
	}
	n := 0
	for _, r := range s {
		n++
		if n > max || (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}

// sortedRoles returns a copy, never nil, so the JSON is always a list.
func sortedRoles(roles []string) []string {
	out := slices.Clone(roles)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}
