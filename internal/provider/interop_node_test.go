package provider_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/browsertest"
	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
)

// The openid-client interop test: panva's openid-client (npm), an
// OpenID-certified relying party nobody here wrote, drives the whole
// server over real HTTP, and the user's part (the login and consent
// pages, the redirects, the logout) happens in Chromium. The package is
// pinned in testdata/openid-client (package.json and package-lock.json;
// .ci/run runs npm ci there); the script there sequences the library's
// calls and reports what it saw.

const (
	// openidClientDir holds the script and the pinned npm packages.
	openidClientDir  = "testdata/openid-client"
	openidClientWhat = "the openid-client interop test (TestOpenIDClient)"
)

// startingNow starts the server's fake clock at the real time instead of
// sessiontest.Start: openid-client checks an ID token's iat and exp
// against its own clock. The clock still moves only when told.
func startingNow(o *app.Options) { o.Clock = clock.NewFake(time.Now()) }

// findNode returns the node binary, or skips (fails under CI) when it or
// the pinned packages are missing.
func findNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		browsertest.Missing(t, "no node found, so "+openidClientWhat+" did NOT run; install Node.js 20 or later")
	}
	if _, err := os.Stat(openidClientDir + "/node_modules/openid-client/package.json"); err != nil {
		browsertest.Missing(t, "openid-client is not installed (internal/provider/"+openidClientDir+"/node_modules), so "+
			openidClientWhat+" did NOT run; install it with: npm ci --prefix internal/provider/"+openidClientDir)
	}
	return node
}

// rpIntrospection is what the script reports of one introspection.
type rpIntrospection struct {
	Active    bool   `json:"active"`
	Sub       string `json:"sub"`
	ClientID  string `json:"clientId"`
	TokenType string `json:"tokenType"`
}

// rpRefusal is how a call that had to fail failed (nil: it succeeded).
type rpRefusal struct {
	Name   string `json:"name"`
	Error  string `json:"error"`
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// rpSignIn is the script's report of one authorization.
type rpSignIn struct {
	AuthorizationParams []string `json:"authorizationParams"`
	CallbackIss         string   `json:"callbackIss"`
	CallbackState       bool     `json:"callbackState"`
	NonceMatches        bool     `json:"nonceMatches"`
	TokenType           string   `json:"tokenType"`
	Scope               string   `json:"scope"`
	ExpiresIn           int      `json:"expiresIn"`
	HasRefreshToken     bool     `json:"hasRefreshToken"`
	IDToken             struct {
		Sub               string   `json:"sub"`
		Aud               []string `json:"aud"`
		AZP               string   `json:"azp"`
		SID               string   `json:"sid"`
		ACR               string   `json:"acr"`
		AMR               []string `json:"amr"`
		AuthTime          int64    `json:"authTime"`
		ATHash            bool     `json:"atHash"`
		PreferredUsername string   `json:"preferredUsername"`
	} `json:"idToken"`
}

// rpSummary is the script's last line.
type rpSummary struct {
	Issuer                string   `json:"issuer"`
	OAuth2Issuer          string   `json:"oauth2Issuer"`
	ISSParameterSupported bool     `json:"issParameterSupported"`
	PAREndpoint           string   `json:"parEndpoint"`
	First                 rpSignIn `json:"first"`
	UserInfo              struct {
		Sub               string `json:"sub"`
		PreferredUsername string `json:"preferredUsername"`
	} `json:"userinfo"`
	Refresh struct {
		RotatedRefresh bool   `json:"rotatedRefresh"`
		RotatedAccess  bool   `json:"rotatedAccess"`
		IDTokenSub     string `json:"idTokenSub"`
		IDTokenSID     string `json:"idTokenSid"`
		IDTokenNonce   string `json:"idTokenNonce"`
		IDTokenATHash  bool   `json:"idTokenAtHash"`
	} `json:"refresh"`
	Introspection struct {
		Access       rpIntrospection `json:"access"`
		Refresh      rpIntrospection `json:"refresh"`
		SpentRefresh rpIntrospection `json:"spentRefresh"`
	} `json:"introspection"`
	AfterRevocation struct {
		Access       rpIntrospection `json:"access"`
		Refresh      rpIntrospection `json:"refresh"`
		RefreshGrant *rpRefusal      `json:"refreshGrant"`
		UserInfo     *rpRefusal      `json:"userinfo"`
	} `json:"afterRevocation"`
	Second rpSignIn `json:"second"`
	Logout struct {
		LandedOn string          `json:"landedOn"`
		State    bool            `json:"state"`
		Access   rpIntrospection `json:"access"`
		Refresh  rpIntrospection `json:"refresh"`
	} `json:"logout"`
}

// rpMessage is one line the script writes.
type rpMessage struct {
	Step    string     `json:"step"`
	Label   string     `json:"label"`
	URL     string     `json:"url"`
	Summary *rpSummary `json:"summary"`
	// A failure's.
	Name    string `json:"name"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Error   string `json:"error"`
	Cause   string `json:"cause"`
	Stack   string `json:"stack"`
}

// TestOpenIDClient: openid-client discovers the provider (at both
// well-known URIs) and pushes an authorization request (PAR) with PKCE
// S256, nonce, state and max_age; Chromium opens the authorization URL,
// signs in and allows; openid-client redeems the callback (checking
// state, the RFC 9207 iss and the ID token), fetches userinfo, refreshes
// (rotation), introspects, revokes (the session ends: every token
// inactive, the refresh and userinfo refused); a second sign-in needs no
// consent, and RP-initiated logout with its ID token, in Chromium, lands
// on the registered post_logout_redirect_uri and ends that session.
func TestOpenIDClient(t *testing.T) {
	node := findNode(t)
	browser := browsertest.Start(t, openidClientWhat)
	o := newOP(t, startingNow)

	// The relying party's own HTTP side, on a loopback port: the redirect
	// URI and the post-logout redirect URI. The URL the browser lands on
	// is handed to the test.
	landed := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" && r.URL.Path != "/logged-out" {
			http.NotFound(w, r)
			return
		}
		landed <- "http://" + r.Host + r.URL.RequestURI()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>relying party</title><p>Back at the relying party.</p>")
	}))
	t.Cleanup(rp.Close)
	callbackURL, loggedOutURL := rp.URL+"/callback", rp.URL+"/logged-out"
	id, secret := o.register(provider.Spec{Name: "openid-client", RedirectURIs: []string{callbackURL},
		PostLogoutRedirectURIs: []string{loggedOutURL}})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, node, "interop.mjs")
	cmd.Dir = openidClientDir
	cmd.Env = append(os.Environ(), "ISSUER="+o.URL, "CLIENT_ID="+id, "CLIENT_SECRET="+secret,
		"REDIRECT_URI="+callbackURL, "POST_LOGOUT_REDIRECT_URI="+loggedOutURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // already waited for, unless the test failed early
	})

	var summary *rpSummary
	authorizations := 0
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		var msg rpMessage
		if err := json.Unmarshal(lines.Bytes(), &msg); err != nil {
			t.Fatalf("the script wrote %q: %v\nstderr:\n%s", lines.Text(), err, stderr.String())
		}
		switch msg.Step {
		case "authorize":
			authorizations++
			// The first sign-in asks for consent; the second does not,
			// the consent being remembered.
			fmt.Fprintln(stdin, authorizeInBrowser(t, browser, msg.URL, authorizations == 1, landed))
		case "logout":
			runBrowser(t, browser, chromedp.Navigate(msg.URL))
			fmt.Fprintln(stdin, awaitLanding(t, browser, landed, "the post-logout redirect"))
		case "done":
			summary = msg.Summary
			t.Logf("openid-client's summary: %s", lines.Text())
		case "error":
			t.Fatalf("openid-client: %s: %s (code %q, error %q)\ncause: %s\n%s\nstderr:\n%s",
				msg.Name, msg.Message, msg.Code, msg.Error, msg.Cause, msg.Stack, stderr.String())
		default:
			t.Fatalf("the script wrote %q", lines.Text())
		}
	}
	if err := cmd.Wait(); err != nil || summary == nil {
		t.Fatalf("the script: %v, summary %v\nstderr:\n%s", err, summary != nil, stderr.String())
	}

	s := *summary
	if s.Issuer != o.URL || s.OAuth2Issuer != o.URL || !s.ISSParameterSupported || s.PAREndpoint != o.URL+provider.PathPAR {
		t.Errorf("discovery: issuer %q (RFC 8414's %q), iss parameter %v, PAR %q", s.Issuer, s.OAuth2Issuer,
			s.ISSParameterSupported, s.PAREndpoint)
	}
	checkSignIn := func(name string, si rpSignIn) {
		t.Helper()
		// Pushed: the browser carried client_id and request_uri alone.
		if !slices.Equal(si.AuthorizationParams, []string{"client_id", "request_uri"}) {
			t.Errorf("%s: the authorization URL had %v, want client_id and request_uri alone (PAR)", name, si.AuthorizationParams)
		}
		if si.CallbackIss != o.URL || !si.CallbackState || !si.NonceMatches {
			t.Errorf("%s: callback iss %q, state %v, nonce %v", name, si.CallbackIss, si.CallbackState, si.NonceMatches)
		}
		if !strings.EqualFold(si.TokenType, "bearer") || si.Scope != "openid profile offline_access" ||
			si.ExpiresIn <= 0 || !si.HasRefreshToken {
			t.Errorf("%s: token response %+v", name, si)
		}
		idt := si.IDToken
		if idt.Sub != o.UserID || !slices.Equal(idt.Aud, []string{id}) || idt.AZP != id || idt.SID == "" ||
			idt.ACR != "1" || !slices.Equal(idt.AMR, []string{"pwd"}) || !idt.ATHash ||
			idt.PreferredUsername != testUser || idt.AuthTime != o.Clock.Now().Unix() {
			t.Errorf("%s: ID token %+v (want sub %s, aud and azp %s, auth_time %d)", name, idt, o.UserID, id, o.Clock.Now().Unix())
		}
	}
	checkSignIn("first sign-in", s.First)
	checkSignIn("second sign-in", s.Second)
	if s.First.IDToken.SID == s.Second.IDToken.SID {
		t.Error("the two sign-ins share a session")
	}
	if s.UserInfo.Sub != o.UserID || s.UserInfo.PreferredUsername != testUser {
		t.Errorf("userinfo %+v", s.UserInfo)
	}
	if r := s.Refresh; !r.RotatedRefresh || !r.RotatedAccess || r.IDTokenSub != o.UserID ||
		r.IDTokenSID != s.First.IDToken.SID || r.IDTokenNonce != "" || !r.IDTokenATHash {
		t.Errorf("refresh %+v: want both tokens rotated, an ID token of the same user and session, without a nonce, with the new access token's at_hash", r)
	}
	active := func(name string, got rpIntrospection, tokenType string) {
		t.Helper()
		if want := (rpIntrospection{true, o.UserID, id, tokenType}); got != want {
			t.Errorf("introspection of %s: %+v, want %+v", name, got, want)
		}
	}
	inactive := func(name string, got rpIntrospection) {
		t.Helper()
		if got != (rpIntrospection{}) {
			t.Errorf("introspection of %s: %+v, want only active false", name, got)
		}
	}
	active("the refreshed access token", s.Introspection.Access, "Bearer")
	active("the refreshed refresh token", s.Introspection.Refresh, "refresh_token")
	inactive("the spent refresh token", s.Introspection.SpentRefresh)

	ar := s.AfterRevocation
	inactive("the access token after revocation", ar.Access)
	inactive("the refresh token after revocation", ar.Refresh)
	if ar.RefreshGrant == nil || ar.RefreshGrant.Error != "invalid_grant" {
		t.Errorf("the refresh after revocation: %+v, want invalid_grant", ar.RefreshGrant)
	}
	if ar.UserInfo == nil || ar.UserInfo.Status != http.StatusUnauthorized || ar.UserInfo.Error != "invalid_token" {
		t.Errorf("userinfo after revocation: %+v, want refused 401 with an invalid_token challenge", ar.UserInfo)
	}
	if sess, err := o.session(s.First.IDToken.SID); err != nil || !sess.Revoked() {
		t.Errorf("the first session after revocation: %+v, %v; want revoked", sess, err)
	}

	if l := s.Logout; l.LandedOn != loggedOutURL || !l.State {
		t.Errorf("logout landed on %q (state %v), want %s with the state", l.LandedOn, l.State, loggedOutURL)
	}
	inactive("the access token after logout", s.Logout.Access)
	inactive("the refresh token after logout", s.Logout.Refresh)
	if sess, err := o.session(s.Second.IDToken.SID); err != nil || !sess.Revoked() {
		t.Errorf("the second session after logout: %+v, %v; want revoked", sess, err)
	}
	if authorizations != 2 {
		t.Errorf("%d authorizations, want 2", authorizations)
	}
}

// runBrowser runs browser steps with a deadline.
func runBrowser(t *testing.T, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// authorizeInBrowser opens the authorization URL, signs in on the login
// page, allows on the consent page when one is expected, and returns the
// URL the browser is sent back to the client with.
func authorizeInBrowser(t *testing.T, tab context.Context, authURL string, consent bool, landed <-chan string) string {
	t.Helper()
	runBrowser(t, tab,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), testUser),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	if consent {
		allow := chromedp.CSS(`button[name="decision"][value="allow"]`)
		runBrowser(t, tab, chromedp.WaitVisible(allow), chromedp.Click(allow))
	}
	return awaitLanding(t, tab, landed, "the redirect to the client")
}

// awaitLanding waits for the browser to arrive at the relying party and
// returns the URL it arrived at; failing that, it says where it is.
func awaitLanding(t *testing.T, tab context.Context, landed <-chan string, what string) string {
	t.Helper()
	select {
	case u := <-landed:
		return u
	case <-time.After(15 * time.Second):
	}
	ctx, cancel := context.WithTimeout(tab, 5*time.Second)
	defer cancel()
	where, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("%s did not come; the browser is at %s:\n%s", what, where, text)
	return ""
}
