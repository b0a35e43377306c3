package bff_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/gatehouse-auth/gatehouse/bff"
)

// TestOtherProvider: the BFF is not tied to Gatehouse. It signs in
// against zitadel/oidc's example OpenID provider, an independent
// implementation (no PAR, no RFC 9207 iss, opaque access tokens, an
// issuer with a trailing slash, its own login page), and serves a whole
// session against it: the user's sub, the proxy's Bearer token (which
// the provider's own userinfo endpoint accepts), a refresh after an
// upstream 401, and a CSRF-protected logout that revokes the refresh
// token at the provider.
func TestOtherProvider(t *testing.T) {
	ctx := context.Background()

	// The provider and the BFF know each other's URLs before either starts.
	psrv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + psrv.Listener.Addr().String() + "/"
	bsrv := httptest.NewUnstartedServer(nil)
	bffURL := "http://" + bsrv.Listener.Addr().String()

	// The example's own test user and its web client (client_secret_basic,
	// code and refresh_token grants), registered with the BFF's redirect
	// URI, in this provider's storage only (not the example's global list).
	users := storage.NewUserStore(issuer)
	user := users.GetUserByID("id1")
	const clientID, clientSecret = "web", "secret"
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, bffURL+"/bff/callback")}
	psrv.Config.Handler = exampleop.SetupServer(issuer, storage.NewStorageWithClients(users, clients), nil, false)
	psrv.Start()
	t.Cleanup(psrv.Close)

	var disc struct {
		Userinfo   string `json:"userinfo_endpoint"`
		EndSession string `json:"end_session_endpoint"`
		PAR        string `json:"pushed_authorization_request_endpoint"`
	}
	resp, err := http.Get(issuer + ".well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Userinfo == "" || disc.EndSession == "" {
		t.Fatalf("the provider's discovery document: %v %+v", err, disc)
	}
	// userinfo asks the provider itself who an access token is for.
	userinfo := func(access string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, disc.Userinfo, nil)
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info struct {
			Sub string `json:"sub"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&info)
		return resp.StatusCode, info.Sub
	}

	// The upstream records the Authorization header of each call; its
	// /api/stale answers its first call with 401, as an API does to a
	// token it no longer takes.
	upstream := make(chan string, 10)
	var staleDone atomic.Bool
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		upstream <- authz
		if r.Header.Get("Cookie") != "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/api/stale" && staleDone.CompareAndSwap(false, true) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path})
	}))
	t.Cleanup(api.Close)

	pub, _ := url.Parse(bffURL)
	up, _ := url.Parse(api.URL)
	b, err := bff.New(ctx, bff.Config{Issuer: issuer, ClientID: clientID, ClientSecret: clientSecret, PublicURL: pub,
		Routes: []bff.Route{{Prefix: "/api/", Upstream: up}}, Key: bytes.Repeat([]byte{7}, 32), Store: newMemStore(),
		Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	bsrv.Config.Handler = b.Handler()
	bsrv.Start()
	t.Cleanup(bsrv.Close)

	br := newJarBrowser(t, bffURL)

	// Sign in: the BFF sends the browser to the provider, which shows its
	// login page.
	resp, page := br.do(http.MethodGet, bffURL+"/bff/login?returnTo=/app", nil, nil)
	// The authorization request, the first hop of the redirects at the
	// provider: this provider offers no PAR, so its parameters are in the
	// URL, with PKCE S256 and a nonce.
	var authz *url.URL
	for r := resp.Request; r != nil; r = r.Response.Request {
		if strings.HasPrefix(r.URL.String(), issuer) {
			authz = r.URL
		}
		if r.Response == nil {
			break
		}
	}
	if authz == nil {
		t.Fatalf("the sign-in never reached the provider: %s", resp.Request.URL)
	}
	if q := authz.Query(); disc.PAR == "" && (q.Get("request_uri") != "" || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("redirect_uri") != bffURL+"/bff/callback") {
		t.Fatalf("the authorization request: %s", authz)
	}
	form := regexp.MustCompile(`(?i)<form[^>]*method="post"[^>]*action="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), issuer) || form == nil {
		t.Fatalf("not the provider's login page: %s %d %s", resp.Request.URL, resp.StatusCode, page)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(form[1])))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{"username": {user.Username}, "password": {user.Password}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllSubmatch(page, -1) {
		v.Set(html.UnescapeString(string(m[1])), html.UnescapeString(string(m[2])))
	}
	if len(v) < 3 {
		t.Fatalf("the login form carries no auth request: %s", page)
	}
	// The provider's answer goes back to /bff/callback, which ends at the
	// SPA's page, /app, which the BFF does not serve: a 404 there is the
	// end of the sign-in.
	resp, body := br.do(http.MethodPost, action.String(), strings.NewReader(v.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.Request.URL.String() != bffURL+"/app" {
		t.Fatalf("sign-in ended at %s (%d): %s", resp.Request.URL, resp.StatusCode, body)
	}
	if br.cookie(bff.CookieSession) == "" || br.cookie(bff.CookieCSRF) == "" {
		t.Fatal("no session or CSRF cookie after the sign-in")
	}

	resp, body = br.do(http.MethodGet, bffURL+"/bff/user", nil, nil)
	var me struct {
		Claims map[string]any `json:"claims"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &me) != nil || me.Claims["sub"] != user.ID ||
		me.Claims["iss"] != issuer {
		t.Fatalf("/bff/user: %d %s", resp.StatusCode, body)
	}

	// The proxy adds the session's access token; the provider takes it as
	// this user's.
	resp, body = br.do(http.MethodGet, bffURL+"/api/hello", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"path":"/api/hello"`) {
		t.Fatalf("GET through the BFF: %d %s", resp.StatusCode, body)
	}
	first := <-upstream
	access, ok := strings.CutPrefix(first, "Bearer ")
	if !ok || access == "" {
		t.Fatalf("the upstream got Authorization %q", first)
	}
	if code, sub := userinfo(access); code != http.StatusOK || sub != user.ID {
		t.Fatalf("the provider's userinfo for the proxied token: %d %q", code, sub)
	}

	// An upstream 401: the BFF refreshes at the provider (which rotates
	// the refresh token and drops the old access token) and retries once.
	resp, body = br.do(http.MethodGet, bffURL+"/api/stale", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET after an upstream 401: %d %s", resp.StatusCode, body)
	}
	if got := <-upstream; got != first {
		t.Fatalf("the first try went with %q, not the session's token", got)
	}
	retried := <-upstream
	access, _ = strings.CutPrefix(retried, "Bearer ")
	if retried == first || access == "" {
		t.Fatalf("the retry went with %q", retried)
	}
	if code, sub := userinfo(access); code != http.StatusOK || sub != user.ID {
		t.Fatalf("the provider's userinfo for the refreshed token: %d %q", code, sub)
	}

	// Logout needs the CSRF header; with it, the session ends and the
	// refresh token is revoked at the provider (which revokes its access
	// token with it).
	if resp, _ := br.do(http.MethodPost, bffURL+"/bff/logout", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the CSRF header: %d, want 403", resp.StatusCode)
	}
	resp, body = br.do(http.MethodPost, bffURL+"/bff/logout", nil, map[string]string{bff.HeaderCSRF: br.cookie(bff.CookieCSRF),
		"Accept": "application/json"})
	var out struct {
		LogoutURL string `json:"logout_url"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.LogoutURL != "/bff/end-session" {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	noFollow := &http.Client{Jar: br.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	end, err := noFollow.Get(bffURL + out.LogoutURL)
	if err != nil {
		t.Fatal(err)
	}
	end.Body.Close()
	if loc := end.Header.Get("Location"); !strings.HasPrefix(loc, disc.EndSession+"?") || !strings.Contains(loc, "id_token_hint=") {
		t.Fatalf("/bff/end-session sends the browser to %q, want the provider's end-session with the hint", loc)
	}
	if resp, _ := br.do(http.MethodGet, bffURL+"/bff/user", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/bff/user after logout: %d", resp.StatusCode)
	}
	if resp, _ := br.do(http.MethodGet, bffURL+"/api/hello", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the proxy after logout: %d", resp.StatusCode)
	}
	if code, _ := userinfo(access); code == http.StatusOK {
		t.Fatal("the provider still takes the session's access token after logout: the refresh token was not revoked")
	}
	select {
	case h := <-upstream:
		t.Fatalf("a call reached the upstream after logout with %q", h)
	default:
	}
}

// jarBrowser is a cookie jar that follows redirects, this test's own so
// that it depends on nothing of the Gatehouse test's but the store.
type jarBrowser struct {
	t      *testing.T
	bffURL *url.URL
	jar    *cookiejar.Jar
	c      *http.Client
}

func newJarBrowser(t *testing.T, bffURL string) *jarBrowser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(bffURL)
	return &jarBrowser{t: t, bffURL: u, jar: jar, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (b *jarBrowser) do(method, u string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	b.t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// cookie is the value of the BFF's cookie name in the jar, or "".
func (b *jarBrowser) cookie(name string) string {
	for _, c := range b.jar.Cookies(b.bffURL) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
