package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

type principalKey struct{}

// fakeAuth stands in for the guard: the caller is whoever X-Test-User
// names, and a request without it is refused as the guard would.
type fakeAuth struct{}

func (fakeAuth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u := r.Header.Get("X-Test-User")
		if u == "" {
			writeProblem(w, http.StatusUnauthorized, "invalid_token", "no access token")
			return
		}
		p := Principal{UserID: "id-" + u, Username: u, Roles: []string{"b", "a"}, SessionID: "sid-" + u}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func principalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

func newDemo(t *testing.T, l Limits) http.Handler {
	t.Helper()
	h, err := Handler(Deps{Auth: fakeAuth{}, PrincipalFrom: principalFrom, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func do(h http.Handler, method, target, user, ctype, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if user != "" {
		r.Header.Set("X-Test-User", user)
	}
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandlerNeedsDeps(t *testing.T) {
	if _, err := Handler(Deps{}); err == nil {
		t.Fatal("Handler without deps: no error")
	}
}

func TestPagesCarryTheDemoCSP(t *testing.T) {
	h := newDemo(t, Limits{})
	for path, ctype := range map[string]string{
		"/":             "text/html; charset=utf-8",
		"/demo/app.js":  "text/javascript; charset=utf-8",
		"/demo/app.css": "text/css; charset=utf-8",
	} {
		w := do(h, "GET", path, "", "", "")
		if w.Code != 200 || w.Header().Get("Content-Type") != ctype || w.Header().Get("Content-Security-Policy") != CSP || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q CSP %q, %d bytes", path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Security-Policy"), w.Body.Len())
		}
	}
	// No inline script or style: the CSP would block it, and the page
	// must work under it.
	index := do(h, "GET", "/", "", "", "").Body.String()
	for _, bad := range []string{"<script>", "<style", "style=", "onclick=", "onload=", "http://", "https://"} {
		if strings.Contains(index, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	if w := do(h, "GET", "/demo/api/me", "", "", ""); w.Header().Get("Content-Security-Policy") != "" {
		t.Errorf("the API answer got the page CSP")
	}
}

func TestRouting(t *testing.T) {
	h := newDemo(t, Limits{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nope", 404, "not_found"},
		{"GET", "/demo/api/nope", 404, "not_found"},
		{"DELETE", "/demo/api/notes", 405, "method_not_allowed"},
		{"POST", "/", 405, "method_not_allowed"},
		{"GET", "/demo/api/me", 401, "invalid_token"},
		{"POST", "/demo/api/notes", 401, "invalid_token"},
	} {
		w := do(h, tc.method, tc.path, "", "", "")
		var p problem
		json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != tc.status || p.Code != tc.code {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, w.Code, p.Code, tc.status, tc.code)
		}
	}
}

func TestMeAndNotes(t *testing.T) {
	h := newDemo(t, Limits{Users: 2, PerUser: 3, TextRunes: 10})
	w := do(h, "GET", "/demo/api/me", "alice", "", "")
	var me meView
	json.Unmarshal(w.Body.Bytes(), &me)
	if w.Code != 200 || me.Username != "alice" || me.UserID != "id-alice" || me.SessionID != "sid-alice" ||
		strings.Join(me.Roles, ",") != "a,b" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("me: %d %+v", w.Code, me)
	}

	for _, tc := range []struct {
		name, ctype, body string
		status            int
		code              string
	}{
		{"form body", "application/x-www-form-urlencoded", "text=hi", 415, "unsupported_media_type"},
		{"unknown field", "application/json", `{"text":"hi","x":1}`, 400, "malformed_json"},
		{"trailing data", "application/json", `{"text":"hi"} {}`, 400, "malformed_json"},
		{"blank", "application/json", `{"text":"  "}`, 400, "invalid_request"},
		{"too long", "application/json", `{"text":"12345678901"}`, 400, "invalid_request"},
		{"control character", "application/json", `{"text":"a\u0000b"}`, 400, "invalid_request"},
		{"huge", "application/json", `{"text":"` + strings.Repeat("a", maxBody) + `"}`, 413, "body_too_large"},
		{"invalid UTF-8", "application/json", "{\"text\":\"\xff\"}", 400, "invalid_encoding"},
	} {
		w := do(h, "POST", "/demo/api/notes", "alice", tc.ctype, tc.body)
		var p problem
		json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != tc.status || p.Code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, w.Code, p.Code, tc.status, tc.code)
		}
	}

	// Bounded per user: the oldest note goes first; newest listed first.
	for i := range 5 {
		if w := do(h, "POST", "/demo/api/notes", "alice", "application/json; charset=utf-8", `{"text":"note `+strconv.Itoa(i)+`"}`); w.Code != 201 {
			t.Fatalf("add note %d: %d %s", i, w.Code, w.Body)
		}
	}
	if got := noteTexts(t, h, "alice"); got != "note 4|note 3|note 2" {
		t.Errorf("alice's notes: %q", got)
	}
	// Notes are per user, and the least recent writer is forgotten when a
	// third user arrives.
	if got := noteTexts(t, h, "bob"); got != "" {
		t.Errorf("bob sees %q", got)
	}
	do(h, "POST", "/demo/api/notes", "bob", "application/json", `{"text":"bob's"}`)
	do(h, "POST", "/demo/api/notes", "carol", "application/json", `{"text":"carol's"}`)
	if got := noteTexts(t, h, "alice"); got != "" {
		t.Errorf("alice's notes were not forgotten: %q", got)
	}
	if got := noteTexts(t, h, "bob") + "," + noteTexts(t, h, "carol"); got != "bob's,carol's" {
		t.Errorf("bob and carol: %q", got)
	}
}

func noteTexts(t *testing.T, h http.Handler, user string) string {
	t.Helper()
	w := do(h, "GET", "/demo/api/notes", user, "", "")
	var out struct{ Notes []noteView }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 || out.Notes == nil {
		t.Fatalf("list notes: %d %s", w.Code, w.Body)
	}
	texts := make([]string, len(out.Notes))
	for i, n := range out.Notes {
		texts[i] = n.Text
	}
	return strings.Join(texts, "|")
}
