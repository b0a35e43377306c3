package bff_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/bff"
	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
)

// spaPage is the single-page app the browser test serves on the BFF's
// origin, at / and /app: it knows nothing but the BFF's paths, and reads
// the CSRF cookie the way axios and Angular do.
const spaPage = `<!doctype html>
<meta charset="utf-8"><title>SPA</title>
<h1 id="spa">The SPA</h1>
<script>
function xsrf() {
	const m = document.cookie.match(/(?:^|; )XSRF-TOKEN=([^;]*)/);
	return m ? decodeURIComponent(m[1]) : "";
}
async function call(path, init) {
	const r = await fetch(path, init);
	return {status: r.status, body: await r.text()};
}
</script>
`

// attackerPage is another site's page: with ?post=URL it submits a form
// to URL at once (a top-level cross-site POST, the classic CSRF); else it
// is a blank page to run fetches from.
func attackerPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if target := r.URL.Query().Get("post"); target != "" {
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s"><input name="note" value="forged"></form>
<script>document.getElementById("f").submit()</script>`, html.EscapeString(target))
		return
	}
	fmt.Fprint(w, `<!doctype html><title>attacker</title><p id="attacker">Another site.</p>
<script>
function xsrf() {
	const m = document.cookie.match(/(?:^|; )XSRF-TOKEN=([^;]*)/);
	return m ? decodeURIComponent(m[1]) : "";
}
</script>`)
}

// seen is a request that reached the BFF's handler.
type seen struct {
	Method, Path string
	Site         string // Sec-Fetch-Site
	Cookie       bool   // the session cookie came with it
	Status       int
}

// recorder records the requests the BFF's handler answers.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := r.Cookie(bff.CookieSession)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.reqs = append(rec.reqs, seen{Method: r.Method, Path: r.URL.Path, Site: r.Header.Get("Sec-Fetch-Site"),
			Cookie: err == nil, Status: sw.status})
	})
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = nil
}

// await returns the requests recorded other than GETs once there are n
// of them (a request is recorded after its answer went out, so the
// browser may have its answer first), or fails.
func (rec *recorder) await(t *testing.T, n int) []seen {
	t.Helper()
	notGET := func() []seen {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		var out []seen
		for _, r := range rec.reqs {
			if r.Method != http.MethodGet {
				out = append(out, r)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(notGET()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the BFF saw %+v, want %d requests other than GET", notGET(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a surplus would show
	return notGET()
}

// statusWriter notes the status of an answer (200 unless one is written
// before the body).
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// run runs browser steps with a deadline.
func run(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// evalJS evaluates a JavaScript expression in the page, awaiting a
// promise.
func evalJS[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitFor waits until js is true in the page, through navigations; on
// timeout it says where the browser is.
func waitFor(t *testing.T, tab context.Context, js, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("waiting for %s: the browser is at %s:\n%s", what, where, text)
}

// browserCookies returns the browser's cookies for u, HttpOnly ones
// included.
func browserCookies(t *testing.T, tab context.Context, u string) []*network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	cs, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		return res.Cookies, err
	})
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	return cs
}

// nextUpstream is the headers of the upstream's next request.
func nextUpstream(t *testing.T, s *stack) http.Header {
	t.Helper()
	select {
	case h := <-s.upstream:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream got no request")
		return nil
	}
}

// noUpstream fails if the upstream got a request.
func noUpstream(t *testing.T, s *stack, when string) {
	t.Helper()
	select {
	case <-s.upstream:
		t.Fatalf("%s: a request reached the upstream", when)
	default:
	}
}

// answer is what the SPA's call() returns.
type answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// tokenLike reports whether s holds what looks like a token: a JWT
// (eyJ, the start of a base64url JSON header) or Gatehouse's refresh
// token prefix.
func tokenLike(s string) bool {
	return strings.Contains(s, "eyJ") || strings.Contains(s, "ghr_")
}

// TestBrowser drives headless Chromium through the BFF: an SPA on the
// BFF's origin signs in at Gatehouse's login page and ends back on /app;
// its scripts can reach no token (document.cookie has the CSRF cookie
// only, Web Storage is empty, the BFF's and the API's answers carry none);
// an unsafe call needs the CSRF header echoed from the cookie; forged
// requests from another site (forms and fetches) and from another origin
// of the same site (which can read the CSRF cookie, cookies not being
// per port) are refused without reaching the upstream, and the session
// survives them; five parallel calls at the access token's expiry cause
// one refresh; logout ends the session and its cookies.
func TestBrowser(t *testing.T) {
	tab := browsertest.Start(t, "the BFF's browser test")
	var rec recorder
	s := newStack(t, withFront(func(h http.Handler) http.Handler {
		mux := http.NewServeMux()
		page := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			fmt.Fprint(w, spaPage)
		}
		mux.HandleFunc("GET /{$}", page)
		mux.HandleFunc("GET /app", page)
		mux.Handle("/", rec.wrap(h))
		return mux
	}))
	app := s.bffURL + "/app"

	// 1. Sign in: the BFF sends the browser to Gatehouse's login page (the
	// client is first-party: no consent page), and the callback sends it
	// back to /app.
	run(t, tab, chromedp.Navigate(s.bffURL+"/bff/login?returnTo=/app"), chromedp.WaitVisible(chromedp.ID("username")))
	if where := evalJS[string](t, tab, `location.origin`); where != s.gURL {
		t.Fatalf("the login form is at %s, want the provider's origin %s", where, s.gURL)
	}
	run(t, tab,
		chromedp.SendKeys(chromedp.ID("username"), testUser),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitFor(t, tab, fmt.Sprintf(`location.href === %q && document.getElementById("spa") !== null`, app), "the sign-in to end on /app")

	// 2. No token within the scripts' reach.
	type storage struct {
		Cookie  string `json:"cookie"`
		Local   int    `json:"local"`
		Session int    `json:"session"`
	}
	jar := evalJS[storage](t, tab, `({cookie: document.cookie, local: localStorage.length, session: sessionStorage.length})`)
	var names []string
	for c := range strings.SplitSeq(jar.Cookie, "; ") {
		name, _, _ := strings.Cut(c, "=")
		names = append(names, name)
	}
	xsrf := evalJS[string](t, tab, `xsrf()`)
	if !slices.Contains(names, bff.CookieCSRF) || xsrf == "" || slices.Contains(names, bff.CookieSession) ||
		strings.Contains(jar.Cookie, "__Host-") || tokenLike(jar.Cookie) {
		t.Fatalf("document.cookie = %q: want %s, and no session cookie nor token", jar.Cookie, bff.CookieCSRF)
	}
	if jar.Local != 0 || jar.Session != 0 {
		t.Fatalf("Web Storage holds %d (local) and %d (session) items, want none", jar.Local, jar.Session)
	}
	// The session cookie is there, out of the scripts' reach.
	all := browserCookies(t, tab, s.bffURL+"/")
	i := slices.IndexFunc(all, func(c *network.Cookie) bool { return c.Name == bff.CookieSession })
	if i < 0 || !all[i].HTTPOnly || !all[i].Secure || all[i].SameSite != network.CookieSameSiteStrict ||
		strings.Contains(jar.Cookie, all[i].Value) {
		t.Fatalf("%s: missing, or not HttpOnly, Secure and SameSite=Strict: %+v", bff.CookieSession, all)
	}
	if j := slices.IndexFunc(all, func(c *network.Cookie) bool { return c.Name == bff.CookieCSRF }); j < 0 ||
		!all[j].Secure || all[j].SameSite != network.CookieSameSiteStrict {
		t.Fatalf("%s: not Secure and SameSite=Strict: %+v", bff.CookieCSRF, all)
	}
	user := evalJS[answer](t, tab, `call("/bff/user")`)
	if user.Status != http.StatusOK || !strings.Contains(user.Body, `"preferred_username":"`+testUser+`"`) || tokenLike(user.Body) {
		t.Fatalf("/bff/user from the page: %d %s", user.Status, user.Body)
	}
	hello := evalJS[answer](t, tab, `call("/api/hello")`)
	if hello.Status != http.StatusOK || !strings.Contains(hello.Body, `"method":"GET"`) || tokenLike(hello.Body) {
		t.Fatalf("/api/hello from the page: %d %s", hello.Status, hello.Body)
	}
	h := nextUpstream(t, s)
	first := h.Get("Authorization")
	if !strings.HasPrefix(first, "Bearer eyJ") || h.Get("Cookie") != "" {
		t.Fatalf("the upstream got Authorization %q and Cookie %q; want the access token and no cookie", first, h.Get("Cookie"))
	}

	// 3. An unsafe call needs the CSRF header, echoed from the cookie.
	post := evalJS[[]answer](t, tab, `(async () => [
		await call("/api/hello", {method: "POST", headers: {"X-XSRF-TOKEN": xsrf()}}),
		await call("/api/hello", {method: "POST"}),
	])()`)
	if post[0].Status != http.StatusOK || !strings.Contains(post[0].Body, `"method":"POST"`) || post[1].Status != http.StatusForbidden {
		t.Fatalf("POST with the CSRF header %d %s, without %d %s; want 200 and 403", post[0].Status, post[0].Body,
			post[1].Status, post[1].Body)
	}
	if h := nextUpstream(t, s); h.Get(bff.HeaderCSRF) != "" || h.Get("Cookie") != "" {
		t.Fatal("the CSRF header or a cookie reached the upstream")
	}
	noUpstream(t, s, "the POST without the CSRF header")

	// 4. Forgeries. One server, two origins: localhost is another site
	// than 127.0.0.1, so SameSite=Strict keeps the session cookie from
	// its requests; 127.0.0.1 on another port is the same site (another
	// origin), so the cookie goes with them, and the BFF's own checks
	// (Sec-Fetch-Site, Origin, the CSRF header) must refuse them.
	// Cookies are not per port: that origin even reads the CSRF cookie.
	evil := httptest.NewServer(http.HandlerFunc(attackerPage))
	t.Cleanup(evil.Close)
	for _, a := range []struct {
		name, origin, site string
		cookie             bool // the browser sends the session cookie
		status             int  // the BFF's answer
		readsCSRF          bool // the page can read the CSRF cookie
	}{
		{"another site", strings.Replace(evil.URL, "127.0.0.1", "localhost", 1), "cross-site", false, http.StatusUnauthorized, false},
		{"another origin of the same site", evil.URL, "same-site", true, http.StatusForbidden, true},
	} {
		rec.reset()
		// (a) Forms that submit themselves: top-level navigations, which
		// may also set and clear cookies.
		for _, path := range []string{"/api/hello", "/bff/logout"} {
			run(t, tab, chromedp.Navigate(a.origin+"/?post="+url.QueryEscape(s.bffURL+path)))
			waitFor(t, tab, fmt.Sprintf(`location.href === %q && document.readyState === "complete"`, s.bffURL+path),
				"the form from "+a.name+" to reach "+path)
			if body := evalJS[string](t, tab, `document.body.innerText`); !strings.Contains(body, fmt.Sprintf(`"status":%d`, a.status)) {
				t.Fatalf("a form from %s to %s: the BFF answered %s, want %d", a.name, path, body, a.status)
			}
		}
		// (b) Fetches with credentials; the last one with the CSRF cookie's
		// value when the page can read it, which needs a CORS preflight.
		run(t, tab, chromedp.Navigate(a.origin+"/"), chromedp.WaitVisible(chromedp.ID("attacker")))
		if got := evalJS[string](t, tab, `xsrf()`); (got == xsrf) != a.readsCSRF {
			t.Fatalf("%s reads the CSRF cookie %q", a.name, got)
		}
		fetches := evalJS[[]string](t, tab, fmt.Sprintf(`(async () => {
			const out = [];
			for (const [path, headers] of [["/api/hello", {}], ["/bff/logout", {}], ["/api/hello", {"X-XSRF-TOKEN": xsrf() || "guess"}]]) {
				try {
					const r = await fetch(%q + path, {method: "POST", credentials: "include", headers});
					out.push("answered " + r.status + ": " + await r.text());
				} catch (e) {
					out.push(e.name);
				}
			}
			return out;
		})()`, s.bffURL))
		if !slices.Equal(fetches, []string{"TypeError", "TypeError", "TypeError"}) {
			t.Fatalf("fetches from %s: %q; want each one's answer hidden (no CORS)", a.name, fetches)
		}
		// The BFF saw four POSTs (two forms, two simple fetches) and the
		// third fetch's preflight, which carries no cookie; it refused all.
		got := rec.await(t, 5)
		var posts int
		for _, r := range got {
			switch r.Method {
			case http.MethodPost:
				posts++
				if r.Cookie != a.cookie || r.Status != a.status || r.Site != a.site {
					t.Errorf("from %s: %+v; want the session cookie %v, %d, Sec-Fetch-Site %s", a.name, r, a.cookie, a.status, a.site)
				}
			case http.MethodOptions:
				if r.Path != "/api/hello" || r.Cookie || r.Status != http.StatusUnauthorized {
					t.Errorf("the preflight from %s: %+v", a.name, r)
				}
			default:
				t.Errorf("from %s: %+v", a.name, r)
			}
		}
		if posts != 4 || len(got) != 5 {
			t.Fatalf("from %s the BFF saw %+v; want four POSTs and a preflight", a.name, got)
		}
		noUpstream(t, s, "forgeries from "+a.name)

		// The session survived them, cookies and all.
		run(t, tab, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.ID("spa")))
		if user := evalJS[answer](t, tab, `call("/bff/user")`); user.Status != http.StatusOK {
			t.Fatalf("/bff/user after the forgeries from %s: %d %s", a.name, user.Status, user.Body)
		}
		if now := evalJS[string](t, tab, `xsrf()`); now != xsrf {
			t.Fatalf("after the forgeries from %s the CSRF cookie is %q, was %q", a.name, now, xsrf)
		}
	}

	// 5. The access token expires; five calls at once cause one refresh.
	before := s.refreshes.Load()
	s.clock.Advance(5 * time.Minute)
	statuses := evalJS[[]int](t, tab, `Promise.all(Array.from({length: 5}, () => fetch("/api/hello").then(r => r.status)))`)
	if !slices.Equal(statuses, []int{200, 200, 200, 200, 200}) {
		t.Fatalf("five calls at expiry: %v, want five 200", statuses)
	}
	if n := s.refreshes.Load() - before; n != 1 {
		t.Fatalf("%d refreshes for five calls at expiry, want 1", n)
	}
	for range 5 {
		if h := nextUpstream(t, s); h.Get("Authorization") == first {
			t.Fatal("a call at expiry went with the expired token")
		}
	}

	// 6. Logout from the page: the session and its cookies end; the answer
	// names the provider's end-session URL (with the ID token as
	// id_token_hint, OpenID RP-Initiated Logout §2: that is what the
	// browser visits next), which sends the browser back to the SPA.
	type logout struct {
		Status    int    `json:"status"`
		LogoutURL string `json:"logoutURL"`
		Cookie    string `json:"cookie"`
		User      int    `json:"user"`
	}
	out := evalJS[logout](t, tab, `(async () => {
		const r = await fetch("/bff/logout", {method: "POST", headers: {"X-XSRF-TOKEN": xsrf()}});
		const body = await r.json();
		const user = await fetch("/bff/user");
		return {status: r.status, logoutURL: body.logout_url, cookie: document.cookie, user: user.status};
	})()`)
	if out.Status != http.StatusOK || out.LogoutURL != "/bff/end-session" ||
		strings.Contains(out.Cookie, bff.CookieCSRF) || out.User != http.StatusUnauthorized {
		t.Fatalf("logout from the page: %+v", out)
	}
	if cs := browserCookies(t, tab, s.bffURL+"/"); slices.ContainsFunc(cs, func(c *network.Cookie) bool { return c.Name == bff.CookieSession }) {
		t.Fatal("the session cookie outlived the logout")
	}
	run(t, tab, chromedp.Navigate(s.bffURL+out.LogoutURL))
	waitFor(t, tab, fmt.Sprintf(`location.href === %q`, s.bffURL+"/"), "the provider's logout to send the browser back")
}
