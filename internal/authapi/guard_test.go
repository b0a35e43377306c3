package authapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/revset"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
)

// TestGuardRefusals: the server verifies with a guard, and maps the
// guard's refusals that are not "this token is bad" to the answers a
// client can act on. A session in the guard's revocation set is answered
// exactly as the database check answers an ended session; a revocation
// feed too long silent is a 503 to retry, for requests and for logout
// alike, and never a 401 or a pretend logout.
func TestGuardRefusals(t *testing.T) {
	f := sessiontest.New(t, sessiontest.Options{})
	ctx := context.Background()
	if _, err := f.Engine.AddUser(ctx, session.CLI, testUser, testPassword, nil); err != nil {
		t.Fatal(err)
	}
	rv := guard.NewRevocations()
	revset.Of(rv).Touch(f.Clock.Now())
	g, err := guard.New(guard.Config{Issuer: sessiontest.Issuer, Audience: sessiontest.Issuer, Leeway: sessiontest.Leeway,
		Keys: guardkeys.FromKeyring(f.Keys), Revocations: rv, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	newHandler := func(v authapi.Verifier) http.Handler {
		return apiHandler(t, authapi.Deps{Engine: f.Engine, Verifier: v, Keys: f.Keys, Log: f.Log, Clock: f.Clock}, sessiontest.Issuer)
	}
	withSet, withoutSet := newHandler(g), newHandler(f.Guard)
	do := func(h http.Handler, method, path, tok string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	login := func() *session.Grant {
		t.Helper()
		gr, err := f.Engine.Login(ctx, testUser, testPassword, session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		return gr
	}

	// Revoked in the set (the database has not been asked): the same
	// status, challenge and body as the database check's ended session.
	revoked, ended := login(), login()
	revset.Of(rv).Add(revoked.Session.ID, f.Clock.Now().Add(time.Hour), 1)
	if err := f.Engine.Logout(ctx, ended.Session, session.Client{}); err != nil {
		t.Fatal(err)
	}
	bySet := do(withSet, "GET", "/auth/session", revoked.AccessToken)
	byDB := do(withoutSet, "GET", "/auth/session", ended.AccessToken)
	for name, w := range map[string]*httptest.ResponseRecorder{"revocation set": bySet, "database": byDB} {
		if w.Code != 401 || !strings.Contains(w.Body.String(), `"code":"session_ended"`) ||
			w.Header().Get("WWW-Authenticate") != `Bearer error="invalid_token", error_description="session ended"` {
			t.Fatalf("%s: %d %q %s", name, w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
		}
	}
	if bySet.Body.String() != byDB.Body.String() {
		t.Fatalf("bodies differ:\n set %s  db %s", bySet.Body, byDB.Body)
	}

	// The feed goes silent for longer than FeedMaxLag.
	live := login()
	f.Clock.Advance(revset.DefaultMaxLag + time.Second)
	for _, req := range []struct{ method, path string }{{"GET", "/auth/session"}, {"POST", "/auth/logout"}} {
		w := do(withSet, req.method, req.path, live.AccessToken)
		if w.Code != 503 || !strings.Contains(w.Body.String(), `"code":"unavailable"`) || w.Header().Get("Retry-After") == "" ||
			w.Header().Get("WWW-Authenticate") != "" {
			t.Fatalf("%s %s, feed down: %d %q %s", req.method, req.path, w.Code, w.Header(), w.Body)
		}
	}
	if _, err := f.Engine.Live(ctx, live.Session.ID); err != nil {
		t.Fatalf("the logout refused for the feed ended the session all the same: %v", err)
	}
	// Heard from again: the token works, and logout ends the session.
	revset.Of(rv).Touch(f.Clock.Now())
	if w := do(withSet, "GET", "/auth/session", live.AccessToken); w.Code != 200 {
		t.Fatalf("feed back: %d %s", w.Code, w.Body)
	}
	if w := do(withSet, "POST", "/auth/logout", live.AccessToken); w.Code != 204 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	if _, err := f.Engine.Live(ctx, live.Session.ID); err == nil {
		t.Fatal("session still live after logout")
	}
}
