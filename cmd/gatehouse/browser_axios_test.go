package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
)

// The axios test: an app on another origin than Gatehouse (another port of
// the same host, the only cross-origin layout whose page can read the
// XSRF-TOKEN cookie) calls it with axios, configured exactly as
// docs/browser-client.md says: the test serves the document's own module.
// axios comes from the npm package pinned in testdata/browser (package.json
// and package-lock.json; .ci/run runs npm ci there), never from a CDN.

const (
	// browserDeps is the folder of the pinned npm packages.
	browserDeps = "testdata/browser"
	// axiosBundle is axios's browser ES module, without dependencies.
	axiosBundle = browserDeps + "/node_modules/axios/dist/esm/axios.min.js"
	// browserClientDoc holds the axios module the test serves.
	browserClientDoc = "../../docs/browser-client.md"
	// docsGatehouseURL is Gatehouse's URL in the documented module; the
	// test puts the child's in its place.
	docsGatehouseURL = `"http://localhost:8080"`
)

// findAxios returns the path of the axios bundle, or skips (fails under
// CI) when the pinned packages are not installed.
func findAxios(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(axiosBundle); err == nil {
		return axiosBundle
	}
	browsertest.Missing(t, "axios is not installed (cmd/gatehouse/"+browserDeps+"/node_modules), so the browser test of axios on another origin did NOT run; install it with: npm ci --prefix cmd/gatehouse/"+browserDeps)
	return ""
}

// documentedModule returns the fenced js block of docs/browser-client.md
// whose first line is "// name".
func documentedModule(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(browserClientDoc)
	if err != nil {
		t.Fatal(err)
	}
	start := "```js\n// " + name + "\n"
	_, rest, ok := strings.Cut(string(doc), start)
	if !ok || strings.Count(string(doc), start) != 1 {
		t.Fatalf("%s: want exactly one code block starting %q", browserClientDoc, start)
	}
	body, _, ok := strings.Cut(rest, "\n```\n")
	if !ok {
		t.Fatalf("%s: the %s block does not end", browserClientDoc, name)
	}
	return "// " + name + "\n" + body + "\n"
}

// axiosPage is the app's page: axios through an import map, as a bundler
// would resolve `import axios from "axios"`, and the documented module.
const axiosPage = `<!doctype html>
<title>an app on another origin</title>
<script type="importmap">{"imports": {"axios": "/axios.js"}}</script>
<script type="module">
import axios from "axios";
import { gatehouse } from "/gatehouse-api.js";
window.axios = axios;
window.gatehouse = gatehouse;
document.title = "ready";
</script>`

// axiosResult is one call's outcome in the page: the status, and the
// problem code (or the username, for a session).
const axiosResultJS = `const result = (p) => p.then(
	(r) => ({status: r.status, code: r.data?.user?.username ?? ""}),
	(e) => ({status: e.response?.status ?? 0, code: e.response?.data?.code ?? String(e)}));`

type axiosResult struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

func TestBrowserAxiosCrossOrigin(t *testing.T) {
	bundle := findAxios(t)
	module := documentedModule(t, "gatehouse-api.js")
	if strings.Count(module, docsGatehouseURL) != 1 {
		t.Fatalf("the documented gatehouse-api.js should name Gatehouse's URL %s once:\n%s", docsGatehouseURL, module)
	}
	axiosJS, err := os.ReadFile(filepath.Clean(bundle))
	if err != nil {
		t.Fatal(err)
	}
	browser := startBrowser(t)

	// The app's origin: the page server's port on localhost, the host
	// of Gatehouse's public URL. Its address is known before Gatehouse
	// starts, so that Gatehouse can list it in allowed_origins.
	var gatehouseURL string
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, axiosPage)
		case "/axios.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			w.Write(axiosJS)
		case "/gatehouse-api.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			fmt.Fprint(w, strings.Replace(module, docsGatehouseURL, strconv.Quote(gatehouseURL), 1))
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()
	app := strings.Replace(page.URL, "127.0.0.1", "localhost", 1)

	srv := demoServer(t, map[string]string{
		"GATEHOUSE_ALLOWED_ORIGINS":  app,
		"GATEHOUSE_ACCESS_TOKEN_TTL": shortTTL.String(),
	})
	gatehouseURL = srv.base
	if !strings.HasPrefix(srv.base, "http://localhost:") || srv.base == app {
		t.Fatalf("Gatehouse at %s and the app at %s: want two ports of localhost", srv.base, app)
	}

	tab := newTab(t, browser, true)
	do(t, tab, chromedp.Navigate(app+"/"))
	loaded := time.Now()
	for eval[string](t, tab, `document.title`) != "ready" {
		if time.Since(loaded) > 10*time.Second {
			t.Fatal("the app's page did not load its modules")
		}
		time.Sleep(50 * time.Millisecond)
	}

	t.Run("login, session and writes with the documented config", func(t *testing.T) {
		type results struct {
			Login        axiosResult `json:"login"`
			Readable     bool        `json:"readable"`
			Session      axiosResult `json:"session"`
			NoXSRFNote   axiosResult `json:"noXSRFNote"`
			NoXSRFReload axiosResult `json:"noXSRFRefresh"`
			Note         axiosResult `json:"note"`
			PlainFetch   int         `json:"plainFetch"`
			Refresh      axiosResult `json:"refresh"`
		}
		before := srv.requests("POST", "/auth/refresh", "")
		r := eval[results](t, tab, fmt.Sprintf(`(async () => {
			%s
			const login = await result(gatehouse.post("/auth/login", {username: %q, password: %q}));
			const readable = document.cookie.split("; ").some((c) => c.startsWith("XSRF-TOKEN="));
			const session = await result(gatehouse.get("/auth/session"));
			// axios's defaults: credentials, but no CSRF header to another origin.
			const bare = axios.create({baseURL: %q, withCredentials: true});
			const noXSRFNote = await result(bare.post("/demo/api/notes", {text: "without the header"}));
			const noXSRFRefresh = await result(bare.post("/auth/refresh"));
			const note = await result(gatehouse.post("/demo/api/notes", {text: "from another origin"}));
			const xsrf = document.cookie.split("; ").find((c) => c.startsWith("XSRF-TOKEN="))?.slice("XSRF-TOKEN=".length);
			const plainFetch = (await fetch(%q + "/demo/api/notes", {
				method: "POST",
				credentials: "include",
				headers: {"Content-Type": "application/json", "X-XSRF-TOKEN": xsrf},
				body: JSON.stringify({text: "from plain fetch"}),
			})).status;
			const refresh = await result(gatehouse.post("/auth/refresh"));
			return {login, readable, session, noXSRFNote, noXSRFRefresh, note, plainFetch, refresh};
		})()`, axiosResultJS, browserUser, browserPassword, srv.base, srv.base))

		want := results{
			Login:        axiosResult{200, browserUser},
			Readable:     true,
			Session:      axiosResult{200, browserUser},
			NoXSRFNote:   axiosResult{403, "csrf_failed"},
			NoXSRFReload: axiosResult{403, "csrf_failed"},
			Note:         axiosResult{201, ""},
			PlainFetch:   201,
			Refresh:      axiosResult{200, browserUser},
		}
		if r != want {
			t.Errorf("got  %+v\nwant %+v", r, want)
		}
		if n := srv.settledRequests("POST", "/auth/refresh", before+2) - before; n != 2 {
			t.Errorf("%d refresh requests, want 2 (one refused, one made)", n)
		}
	})

	t.Run("an expired access token is refreshed once and the call retried", func(t *testing.T) {
		awaitAccessExpiry(t, tab, srv.base)
		before := srv.requests("POST", "/auth/refresh", "")
		type results struct {
			Note    axiosResult `json:"note"`
			Session axiosResult `json:"session"`
			Notes   []string    `json:"notes"`
		}
		r := eval[results](t, tab, fmt.Sprintf(`(async () => {
			%s
			const note = await result(gatehouse.post("/demo/api/notes", {text: "after expiry"}));
			const session = await result(gatehouse.get("/auth/session"));
			const notes = (await gatehouse.get("/demo/api/notes")).data.notes.map((n) => n.text);
			return {note, session, notes};
		})()`, axiosResultJS))
		if r.Note != (axiosResult{201, ""}) || r.Session != (axiosResult{200, browserUser}) ||
			strings.Join(r.Notes, "|") != "after expiry|from plain fetch|from another origin" {
			t.Errorf("after expiry: %+v; want the note written (201, once), the session 200", r)
		}
		if n := srv.settledRequests("POST", "/auth/refresh", before+1) - before; n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
	})

	t.Run("logout", func(t *testing.T) {
		type results struct {
			Logout  int         `json:"logout"`
			Session axiosResult `json:"session"`
		}
		r := eval[results](t, tab, fmt.Sprintf(`(async () => {
			%s
			const logout = (await gatehouse.post("/auth/logout")).status;
			const session = await result(gatehouse.get("/auth/session"));
			return {logout, session};
		})()`, axiosResultJS))
		// With no cookies left the interceptor's refresh is refused, and
		// that refusal is what the call rejects with.
		if r.Logout != http.StatusNoContent || r.Session.Status != http.StatusUnauthorized {
			t.Errorf("logout: %+v; want 204, then the session 401", r)
		}
		if js := eval[string](t, tab, `document.cookie`); strings.Contains(js, "XSRF-TOKEN") {
			t.Errorf("after logout document.cookie = %q", js)
		}
	})
}
