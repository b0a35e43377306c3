package authapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// inlineRequest is a request to a resource path of this site carrying the
// browser's cookies, as a guard in this process would receive it.
func (b *browser) inlineRequest(path string) *http.Request {
	r := httptest.NewRequest("GET", b.g.URL+path, nil)
	for _, c := range b.jar.Cookies(r.URL) {
		r.AddCookie(c)
	}
	return r
}

func TestInlineRefresher(t *testing.T) {
	g := newGH(t, func(c *config.Resolved, _ *app.Options) { c.InlineRefresh = true })
	b := g.browser()
	b.login()
	refresher := g.Server.InlineRefresher()
	// The interface the guard package declares, satisfied structurally.
	var _ interface {
		Refresh(http.ResponseWriter, *http.Request) (string, error)
	} = refresher

	req := b.inlineRequest("/api/notes")
	if !slices.ContainsFunc(req.Cookies(), func(c *http.Cookie) bool { return c.Name == credential.CookieRefresh }) {
		t.Fatal("with inline_refresh the refresh cookie does not reach /api/notes")
	}
	w := httptest.NewRecorder()
	at, err := refresher.Refresh(w, req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Guard.Verify(context.Background(), at)
	if err != nil {
		t.Fatalf("returned access token: %v", err)
	}
	got := maskValues(w.Header().Values("Set-Cookie"))
	want := []string{
		// The access cookie outlives its token, so that the guard sees the
		// expired token and can refresh in-line.
		"__Host-gh_at=<v>; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax",
		"__Secure-gh_rt=<v>; Path=/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
		"__Secure-gh_rt=<v>; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Strict",
		"XSRF-TOKEN=<v>; Path=/; Max-Age=604800; Secure; SameSite=Strict",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Set-Cookie:\n got %q\nwant %q", got, want)
	}
	for _, ck := range w.Result().Cookies() {
		if ck.Name == credential.CookieAccess && ck.Value != at {
			t.Error("the access cookie is not the returned token")
		}
		if ck.Name == credential.CookieCSRF && c.CSRFHash == "" {
			t.Error("no csrf_hash claim")
		}
	}

	// The old refresh cookie is spent: presenting it after the grace
	// window is reuse, which ends the session and expires the cookies.
	g.Clock.Advance(2 * grace)
	w = httptest.NewRecorder()
	if _, err := refresher.Refresh(w, req); !errors.Is(err, session.ErrRefreshReuse) {
		t.Fatalf("spent cookie: err = %v, want reuse", err)
	}
	if len(w.Header().Values("Set-Cookie")) != 3 {
		t.Errorf("cookies not expired after reuse: %q", w.Header().Values("Set-Cookie"))
	}

	if _, err := refresher.Refresh(httptest.NewRecorder(), httptest.NewRequest("GET", "/api", nil)); !errors.Is(err, session.ErrInvalidRefreshToken) {
		t.Errorf("no cookie: err = %v", err)
	}
}

// TestRefreshCookiePath: the default keeps the refresh cookie to /auth;
// inline_refresh widens it to / and still refreshes through /auth/refresh
// and logs out cleanly.
func TestRefreshCookiePath(t *testing.T) {
	for _, tt := range []struct {
		name, path string
		atAPI      bool
	}{
		{"default", "", false},
		{"inline_refresh", "/", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGH(t, func(c *config.Resolved, _ *app.Options) { c.InlineRefresh = tt.path == "/" })
			b := g.browser()
			b.login()
			if got := b.cookie("/api/notes", credential.CookieRefresh) != ""; got != tt.atAPI {
				t.Errorf("refresh cookie sent to /api/notes: %v, want %v", got, tt.atAPI)
			}
			if b.cookie("/auth/refresh", credential.CookieRefresh) == "" {
				t.Fatal("refresh cookie not sent to /auth/refresh")
			}
			if r := b.post("/auth/refresh", nil); r.StatusCode != 200 {
				t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
			}
			if r := b.post("/auth/logout", nil); r.StatusCode != 204 {
				t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
			}
			if b.cookie("/auth/refresh", credential.CookieRefresh) != "" {
				t.Error("refresh cookie left after logout")
			}
		})
	}
}
