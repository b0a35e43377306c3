package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
)

// The browser tests drive a real, headless Chromium against `gatehouse
// serve --demo` running as a child process: what they check (which cookies
// a script can read, what SameSite and Fetch Metadata do to a forged form,
// Web Locks across tabs) only a browser can show. Without Chromium they
// skip, loudly; under CI (CI=true) a missing Chromium fails them instead,
// so CI cannot pass without having run them.

const (
	browserUser     = "walker"
	browserPassword = "a browser test passphrase"
	// shortTTL is the access-token lifetime of the server that tests
	// refresh: the access cookie's Max-Age follows it, so the browser
	// itself drops the token, as it does in real use.
	shortTTL = 3 * time.Second
)

// startBrowser starts headless Chromium and returns the context of its
// first tab; every other tab derives from it. Without Chromium the test
// skips (fails under CI).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return browsertest.Start(t, "the browser tests of gatehouse.js and the demo app")
}

// newTab opens a tab. isolated puts it in a browser context of its own
// (its own cookies and storage, like a separate browser profile);
// otherwise it shares parent's, like another tab of the same window.
func newTab(t *testing.T, parent context.Context, isolated bool) context.Context {
	t.Helper()
	var opts []chromedp.ContextOption
	if isolated {
		opts = append(opts, chromedp.WithNewBrowserContext())
	}
	ctx, cancel := chromedp.NewContext(parent, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// do runs browser steps with a deadline.
func do(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the page, awaiting a promise.
func eval[T any](t *testing.T, tab context.Context, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// cookies returns the browser's cookies for url, httpOnly ones included.
func cookies(t *testing.T, tab context.Context, url string) []*network.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	cs, err := chromedp.Run(ctx, func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		return res.Cookies, err
	})
	if err != nil {
		t.Fatalf("cookies: %v", err)
	}
	return cs
}

func hasCookie(cs []*network.Cookie, name string) bool {
	return slices.ContainsFunc(cs, func(c *network.Cookie) bool { return c.Name == name })
}

// loginUI signs in through the demo app's form and waits for the app.
func loginUI(t *testing.T, tab context.Context, base string) {
	t.Helper()
	do(t, tab,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("username"), browserUser),
		chromedp.SendKeys(chromedp.ID("password"), browserPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#whoami[data-username="`+browserUser+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#sessions tr.current`)),
	)
}

// loginJS opens the demo page and signs in with gatehouse.js alone.
func loginJS(t *testing.T, tab context.Context, base string) {
	t.Helper()
	do(t, tab, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
	eval[bool](t, tab, fmt.Sprintf(`import("/gatehouse.js").then(gh => gh.login(%q, %q)).then(() => true)`, browserUser, browserPassword))
}

// demoServer is `gatehouse serve --demo` with one user, logging every
// request, so a test can count the requests the server really received.
func demoServer(t *testing.T, env map[string]string) *child {
	t.Helper()
	data := migratedData(t)
	if _, err := cli(t, map[string]string{"GATEHOUSE_DATA": data}, browserPassword+"\n", "user", "add", browserUser, "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	full := map[string]string{"GATEHOUSE_LOG_LEVEL": "info"}
	for k, v := range env {
		full[k] = v
	}
	return startChild(t, "127.0.0.1:0", data, full, "--demo")
}

// requests counts the server's access-log lines for one method and path
// with the given status ("" for any).
func (c *child) requests(method, path, status string) int {
	n := 0
	for line := range strings.SplitSeq(c.log.String(), "\n") {
		if strings.Contains(line, "msg=request method="+method+" path="+path+" ") &&
			(status == "" || strings.Contains(line, " status="+status+" ")) {
			n++
		}
	}
	return n
}

// settledRequests waits until the count reaches at least want (the access
// log is written just after the answer goes out), then a little longer so
// that a surplus would show, and returns the count.
func (c *child) settledRequests(method, path string, want int) int {
	deadline := time.Now().Add(3 * time.Second)
	for c.requests(method, path, "") < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return c.requests(method, path, "")
}

// awaitAccessExpiry waits until the browser has dropped the access cookie
// (its Max-Age is the token's lifetime).
func awaitAccessExpiry(t *testing.T, tab context.Context, base string) {
	t.Helper()
	deadline := time.Now().Add(2*shortTTL + 5*time.Second)
	for hasCookie(cookies(t, tab, base+"/"), "__Host-gh_at") {
		if time.Now().After(deadline) {
			t.Fatal("the access cookie did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fetchStatuses runs n gatehouse.js fetches of path at once in the page
// and returns their statuses.
func fetchStatuses(t *testing.T, tab context.Context, path string, n int) []int {
	t.Helper()
	return eval[[]int](t, tab, fmt.Sprintf(`import("/gatehouse.js").then(gh =>
		Promise.all(Array.from({length: %d}, () => gh.fetch(%q).then(r => r.status))))`, n, path))
}

func TestBrowser(t *testing.T) {
	browser := startBrowser(t)
	srv := demoServer(t, nil)
	short := demoServer(t, map[string]string{"GATEHOUSE_ACCESS_TOKEN_TTL": shortTTL.String()})

	t.Run("scripts see only the CSRF cookie", func(t *testing.T) {
		tab := newTab(t, browser, true)
		loginUI(t, tab, srv.base)
		js := eval[string](t, tab, `document.cookie`)
		name, value, _ := strings.Cut(js, "=")
		if name != "XSRF-TOKEN" || value == "" || strings.Contains(js, ";") || strings.Contains(js, "gh_") {
			t.Errorf("document.cookie = %q, want only XSRF-TOKEN", js)
		}
		// The tokens are there, only out of the script's reach.
		all := append(cookies(t, tab, srv.base+"/"), cookies(t, tab, srv.base+"/auth/refresh")...)
		for _, name := range []string{"__Host-gh_at", "__Secure-gh_rt"} {
			i := slices.IndexFunc(all, func(c *network.Cookie) bool { return c.Name == name })
			if i < 0 || !all[i].HTTPOnly || strings.Contains(js, all[i].Value) {
				t.Errorf("%s: missing, not httpOnly, or visible to scripts", name)
			}
		}
	})

	t.Run("writes need the CSRF header, which gatehouse.js adds", func(t *testing.T) {
		tab := newTab(t, browser, true)
		loginUI(t, tab, srv.base)
		type result struct {
			Raw     int      `json:"raw"`
			RawCode string   `json:"rawCode"`
			Client  int      `json:"client"`
			Notes   []string `json:"notes"`
		}
		r := eval[result](t, tab, `(async () => {
			const post = (text) => ({method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({text})});
			const raw = await fetch("/demo/api/notes", post("plain fetch"));
			const gh = await import("/gatehouse.js");
			const client = await gh.fetch("/demo/api/notes", post("via gatehouse.js"));
			const list = await (await gh.fetch("/demo/api/notes")).json();
			return {raw: raw.status, rawCode: (await raw.json()).code, client: client.status, notes: list.notes.map(n => n.text)};
		})()`)
		if r.Raw != http.StatusForbidden || r.RawCode != "csrf_failed" || r.Client != http.StatusCreated ||
			!slices.Equal(r.Notes, []string{"via gatehouse.js"}) {
			t.Errorf("got %+v; want the plain fetch refused 403 csrf_failed, the client's write 201, one note", r)
		}
		// And through the app's own form.
		do(t, tab,
			chromedp.SendKeys(chromedp.ID("note-text"), "from the form"),
			chromedp.Click(chromedp.ID("note-submit")),
			chromedp.WaitVisible(chromedp.CSS(`#notes li:nth-child(2)`)),
		)
		if first := eval[string](t, tab, `document.querySelector("#notes li").textContent`); first != "from the form" {
			t.Errorf("newest note = %q", first)
		}
	})

	t.Run("a cross-origin form post is refused", func(t *testing.T) {
		tab := newTab(t, browser, true)
		loginUI(t, tab, srv.base)
		// The attacker's page: another port of the same host, so another
		// origin but the same site, the case where SameSite=Lax still
		// sends the access cookie. It posts a JSON-looking text/plain
		// form, the classic way around "JSON only".
		attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s/demo/api/notes" enctype="text/plain">
<input name='{"text":"forged","pad":"' value='"}'></form>
<script>document.getElementById("f").submit()</script>`, srv.base)
		}))
		defer attacker.Close()
		attackerURL := strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)

		before := srv.requests("POST", "/demo/api/notes", "403")
		do(t, tab, chromedp.Navigate(attackerURL+"/"))
		deadline := time.Now().Add(10 * time.Second)
		for srv.requests("POST", "/demo/api/notes", "") == 0 || srv.requests("POST", "/demo/api/notes", "403") == before {
			if time.Now().After(deadline) {
				t.Fatalf("the forged post did not arrive refused; server log:\n%s", srv.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		do(t, tab, chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible(chromedp.ID("app-view")))
		notes := eval[[]string](t, tab, `import("/gatehouse.js").then(gh => gh.fetch("/demo/api/notes")).then(r => r.json()).then(b => b.notes.map(n => n.text))`)
		if slices.Contains(notes, "forged") {
			t.Errorf("the forged post created a note: %q", notes)
		}
	})

	t.Run("parallel calls after expiry refresh once", func(t *testing.T) {
		tab := newTab(t, browser, true)
		loginJS(t, tab, short.base)
		awaitAccessExpiry(t, tab, short.base)
		before := short.requests("POST", "/auth/refresh", "")
		statuses := fetchStatuses(t, tab, "/demo/api/me", 5)
		if !slices.Equal(statuses, []int{200, 200, 200, 200, 200}) {
			t.Errorf("statuses %v, want five 200", statuses)
		}
		if n := short.settledRequests("POST", "/auth/refresh", before+1) - before; n != 1 {
			t.Errorf("%d refreshes for five parallel calls, want 1", n)
		}
	})

	t.Run("two tabs refreshing at once both stay signed in", func(t *testing.T) {
		tab1 := newTab(t, browser, true)
		tab2 := newTab(t, tab1, false) // the same browser context: shared cookies
		do(t, tab2, chromedp.Navigate(short.base+"/"), chromedp.WaitVisible(chromedp.ID("login-form")))
		loginJS(t, tab1, short.base)
		// The other tab hears of the login (BroadcastChannel) and shows the app.
		do(t, tab2, chromedp.WaitVisible(chromedp.CSS(`#whoami[data-username="`+browserUser+`"]`)))
		awaitAccessExpiry(t, tab1, short.base)

		before := short.requests("POST", "/auth/refresh", "")
		results := make(chan []int, 2)
		for _, tab := range []context.Context{tab1, tab2} {
			go func() {
				ctx, cancel := context.WithTimeout(tab, 20*time.Second)
				defer cancel()
				v, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`import("/gatehouse.js").then(gh =>
					Promise.all([1, 2, 3].map(() => gh.fetch("/demo/api/me").then(r => r.status))))`, chromedp.EvalAwaitPromise))
				if err != nil {
					t.Errorf("fetch in a tab: %v", err)
				}
				results <- v
			}()
		}
		for range 2 {
			if got := <-results; !slices.Equal(got, []int{200, 200, 200}) {
				t.Errorf("statuses %v, want three 200", got)
			}
		}
		if n := short.settledRequests("POST", "/auth/refresh", before+1) - before; n != 1 {
			t.Errorf("%d refreshes for two tabs, want 1 (Web Locks)", n)
		}
		for i, tab := range []context.Context{tab1, tab2} {
			if !eval[bool](t, tab, `import("/gatehouse.js").then(gh => gh.session()).then(s => s !== null)`) {
				t.Errorf("tab %d is signed out", i+1)
			}
		}
		if strings.Contains(short.log.String(), "refresh_token_reuse") {
			t.Error("the refresh token was reused")
		}
	})

	t.Run("sign out this device, from another", func(t *testing.T) {
		a := newTab(t, browser, true)
		b := newTab(t, browser, true)
		loginUI(t, b, srv.base)
		loginUI(t, a, srv.base)
		sid := eval[string](t, b, `import("/gatehouse.js").then(gh => gh.session()).then(s => s.session.id)`)
		row := chromedp.CSS(`#sessions tr[data-session-id="` + sid + `"] button`)
		do(t, a, chromedp.Click(row), chromedp.WaitNotPresent(row))
		// B's page hears of it on its next call: the app shows the login form.
		do(t, b, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login-form")))
		// A is still signed in.
		if !eval[bool](t, a, `import("/gatehouse.js").then(gh => gh.session()).then(s => s !== null)`) {
			t.Error("signing out another device signed this one out")
		}
	})

	t.Run("sign out everywhere ends the other browser's session", func(t *testing.T) {
		a := newTab(t, browser, true)
		b := newTab(t, browser, true)
		loginUI(t, a, srv.base)
		loginUI(t, b, srv.base)
		eval[bool](t, b, `(window.loggedOut = "", addEventListener("gatehouse:logout", e => { window.loggedOut = e.detail.reason }), true)`)

		do(t, a, chromedp.Click(chromedp.ID("logout-all")), chromedp.WaitVisible(chromedp.ID("login-form")))

		// The guard learns of the revocation through the in-process feed,
		// within milliseconds: poll briefly rather than race it. Its 401
		// makes gatehouse.js try a refresh, which must fail and announce
		// the logout.
		type result struct {
			Fetch       int    `json:"fetch"`
			Event       string `json:"event"`
			Refresh     int    `json:"refresh"`
			RefreshCode string `json:"refreshCode"`
		}
		r := eval[result](t, b, `(async () => {
			const gh = await import("/gatehouse.js");
			const xsrf = document.cookie.replace(/^.*XSRF-TOKEN=([^;]*).*$/, "$1");
			let res;
			for (let i = 0; i < 60; i++) {
				res = await gh.fetch("/demo/api/me");
				if (res.status !== 200) break;
				await new Promise(ok => setTimeout(ok, 50));
			}
			const refresh = await fetch("/auth/refresh", {method: "POST", headers: {"X-XSRF-TOKEN": xsrf}});
			return {fetch: res.status, event: window.loggedOut, refresh: refresh.status, refreshCode: (await refresh.json()).code};
		})()`)
		if r.Fetch != http.StatusUnauthorized || r.Event != "session_ended" || r.Refresh != http.StatusUnauthorized ||
			(r.RefreshCode != "session_ended" && r.RefreshCode != "invalid_refresh_token") {
			t.Errorf("other browser after sign out everywhere: %+v; want 401, a gatehouse:logout event for session_ended, and a refresh refused 401", r)
		}
		// The app reacted to the event.
		do(t, b, chromedp.WaitVisible(chromedp.ID("login-form")))
	})
}
