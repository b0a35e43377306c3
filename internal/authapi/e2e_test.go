package authapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// TestEndToEnd walks the whole cookie-mode life of a session through the
// real HTTP server: login, who-am-I, access token expiry, refresh, logout.
func TestEndToEnd(t *testing.T) {
	g := newGH(t)
	b := g.browser()

	login := b.login()
	var lv struct {
		User    struct{ ID, Username string }
		Session struct{ ID string }
	}
	login.json(t, &lv)
	if lv.User.Username != testUser || lv.Session.ID == "" {
		t.Fatalf("login body: %s", login.Body)
	}
	if strings.Contains(string(login.Body), "ghr_") || strings.Contains(string(login.Body), "eyJ") {
		t.Fatalf("cookie-mode login body carries a token: %s", login.Body)
	}
	if cc := login.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("login Cache-Control = %q, want no-store", cc)
	}

	if r := b.do("GET", "/auth/session", nil); r.StatusCode != 200 {
		t.Fatalf("session: %d %s", r.StatusCode, r.Body)
	}

	// The access token expires; the jar still holds it (the cookie jar runs
	// on real time), so the server itself must refuse it.
	g.Clock.Advance(accessTTL + time.Minute)
	r := b.do("GET", "/auth/session", nil)
	if r.StatusCode != 401 || r.problem(t).Code != "invalid_token" {
		t.Fatalf("expired access token: %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
	}

	oldRT := b.cookie("/auth/refresh", "__Secure-gh_rt")
	r = b.post("/auth/refresh", nil)
	if r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
	}
	if newRT := b.cookie("/auth/refresh", "__Secure-gh_rt"); newRT == oldRT || newRT == "" {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	if r := b.do("GET", "/auth/session", nil); r.StatusCode != 200 {
		t.Fatalf("session after refresh: %d %s", r.StatusCode, r.Body)
	}

	r = b.post("/auth/logout", nil)
	if r.StatusCode != 204 {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	if got := r.Header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("Clear-Site-Data = %q, want none (logout_clear_site_data is off)", got)
	}
	for _, name := range []string{"__Host-gh_at", "XSRF-TOKEN"} {
		if v := b.cookie("/auth/refresh", name); v != "" {
			t.Errorf("cookie %s survived logout", name)
		}
	}
	if v := b.cookie("/auth/refresh", "__Secure-gh_rt"); v != "" {
		t.Errorf("refresh cookie survived logout")
	}
	sess, err := g.DB.SessionByID(context.Background(), lv.Session.ID)
	if err != nil || !sess.Revoked() || sess.RevokeReason != "logout" {
		t.Fatalf("session after logout: %+v %v", sess, err)
	}
	// Back button: nothing left to resume the session with.
	if r := b.do("GET", "/auth/session", nil); r.StatusCode != 401 {
		t.Fatalf("session after logout: %d", r.StatusCode)
	}
	// Every request above was logged; no token or password may be in it.
	if !strings.Contains(g.Logs.String(), "path=/auth/refresh") {
		t.Fatal("log capture is not working")
	}
	assertNoTokensLogged(t, g, oldRT)
}

// TestRefreshReplayAfterGraceRevokesSession: a spent refresh token
// presented after the grace window is theft; the session ends, its current
// token stops working too, and an audit event is stored.
func TestRefreshReplayAfterGraceRevokesSession(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.login()
	spent := b.cookie("/auth/refresh", "__Secure-gh_rt")
	if r := b.post("/auth/refresh", nil); r.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
	}
	current := b.cookie("/auth/refresh", "__Secure-gh_rt")

	g.Clock.Advance(grace + time.Second)
	r, _ := g.bearerRefresh(spent) // the thief replays the stolen, spent token
	if r.StatusCode != 401 || r.problem(t).Code != "refresh_token_reused" {
		t.Fatalf("replay: %d %s", r.StatusCode, r.Body)
	}
	// The legitimate holder's current token is dead as well.
	r, _ = g.bearerRefresh(current)
	if r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
		t.Fatalf("current token after theft: %d %s", r.StatusCode, r.Body)
	}
	if r := b.do("GET", "/auth/session", nil); r.StatusCode != 401 {
		t.Fatalf("access token of a revoked session still accepted: %d", r.StatusCode)
	}
	evs, err := g.DB.AuditEvents(context.Background(), store.AuditFilter{Type: "refresh_token_reuse"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit events: %v %v", evs, err)
	}
	if evs[0].SessionID == "" || evs[0].UserID == "" || evs[0].Outcome != "failure" {
		t.Errorf("audit event: %+v", evs[0])
	}
	assertNoTokensLogged(t, g, spent, current)
}

// TestConcurrentRefreshSameSuccessor: N tabs refresh with one token at
// once; all succeed with the same successor, and the session lives on.
func TestConcurrentRefreshSameSuccessor(t *testing.T) {
	for _, n := range []int{2, 10} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			g := newGH(t)
			tk := g.bearerLogin()
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				rts     = map[string]int{}
				ats     = map[string]int{}
				failure []string
			)
			start := make(chan struct{})
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": tk.RefreshToken})
					mu.Lock()
					defer mu.Unlock()
					if r.StatusCode != 200 {
						failure = append(failure, string(r.Body))
						return
					}
					var out tokens
					r.json(t, &out)
					rts[out.RefreshToken]++
					ats[out.AccessToken]++
				}()
			}
			close(start)
			wg.Wait()
			if len(failure) > 0 {
				t.Fatalf("%d of %d refreshes failed: %v", len(failure), n, failure)
			}
			if len(rts) != 1 || len(ats) != 1 {
				t.Fatalf("want one successor pair, got %d refresh and %d access tokens", len(rts), len(ats))
			}
			var next string
			for rt := range rts {
				next = rt
			}
			r, _ := g.bearerRefresh(next)
			if r.StatusCode != 200 {
				t.Fatalf("successor refresh: %d %s", r.StatusCode, r.Body)
			}
		})
	}
}

// TestConcurrentRefreshCookieMode: two tabs of one browser refresh at once.
func TestConcurrentRefreshCookieMode(t *testing.T) {
	g := newGH(t)
	b := g.browser()
	b.login()
	rt := b.cookie("/auth/refresh", "__Secure-gh_rt")
	xsrf := b.cookie("/", "XSRF-TOKEN")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each tab sends the cookies it had before either refresh landed.
			r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/refresh", nil,
				"Cookie", "__Secure-gh_rt="+rt+"; XSRF-TOKEN="+xsrf, "X-XSRF-TOKEN", xsrf, "Origin", g.Origin)
			codes[i] = r.StatusCode
		}()
	}
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("concurrent cookie refresh codes %v", codes)
	}
}

// assertNoTokensLogged fails if any secret appears in the captured logs.
func assertNoTokensLogged(t *testing.T, g *gh, secrets ...string) {
	t.Helper()
	logs := g.Logs.String()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("a token appears in the logs")
		}
	}
	for _, marker := range []string{"ghr_", "eyJ", testPassword} {
		if strings.Contains(logs, marker) {
			t.Errorf("logs contain %q", marker)
		}
	}
}
