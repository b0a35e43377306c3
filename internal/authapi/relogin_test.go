package authapi_test

import "testing"

// TestLoginEndsReplacedSession: a browser that logs in again while it
// holds a session gets a new one, and the old one ends (ASVS 7.2.4) rather
// than staying live behind the replaced cookies.
func TestLoginEndsReplacedSession(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.login()
	var before struct{ Session struct{ ID string } }
	b.do("GET", "/auth/session", nil).json(t, &before)
	oldRT := b.cookie("/auth/refresh", "__Secure-gh_rt")

	b.login()
	var after struct{ Session struct{ ID string } }
	b.do("GET", "/auth/session", nil).json(t, &after)
	if after.Session.ID == "" || after.Session.ID == before.Session.ID {
		t.Fatalf("no new session: before %q after %q", before.Session.ID, after.Session.ID)
	}
	old, err := g.DB.SessionByID(t.Context(), before.Session.ID)
	if err != nil || old.RevokedAt.IsZero() {
		t.Fatalf("the replaced session is still live: %+v, %v", old, err)
	}
	if r, _ := g.bearerRefresh(oldRT); r.StatusCode != 401 {
		t.Fatalf("the replaced session's refresh token still refreshes: %d %s", r.StatusCode, r.Body)
	}
}
