package authapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLoginFromEveryClient: the login-CSRF check tells a browser from a
// script by what each really sends. Every row is the exact header set one
// client sent with a JSON POST and no headers of the caller's own (Host,
// Content-Length and Connection aside, which the transport writes), read
// off the wire with the version named. Node's built-in fetch sends
// Sec-Fetch-Mode on every request and used to be taken for a browser
// without an Origin (403 forbidden_origin); what marks a browser is Origin
// on a POST, and Sec-Fetch-Site, which browsers always send.
func TestLoginFromEveryClient(t *testing.T) {
	g := newGH(t)
	const chromiumUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
	const bearerBody = `{"username":"` + testUser + `","password":"` + testPassword + `","mode":"bearer"}`
	const cookieBody = `{"username":"` + testUser + `","password":"` + testPassword + `"}`
	for _, c := range []struct {
		source  string
		body    string
		headers []string
		status  int
		code    string
	}{
		{"Node.js 20.20.2 built-in fetch (undici)", bearerBody, []string{
			"Content-Type", "application/json", "accept", "*/*", "accept-language", "*", "sec-fetch-mode", "cors",
			"user-agent", "node", "accept-encoding", "gzip, deflate"}, 200, ""},
		{"axios 1.21.1 in Node.js 20", bearerBody, []string{
			"Accept", "application/json, text/plain, */*", "Content-Type", "application/json", "User-Agent", "axios/1.21.1",
			"Accept-Encoding", "gzip, compress, deflate, br"}, 200, ""},
		{"Go 1.26 net/http", bearerBody, []string{
			"User-Agent", "Go-http-client/1.1", "Content-Type", "application/json", "Accept-Encoding", "gzip"}, 200, ""},
		{"Python requests 2.34.2", bearerBody, []string{
			"User-Agent", "python-requests/2.34.2", "Accept-Encoding", "gzip, deflate", "Accept", "*/*",
			"Content-Type", "application/json"}, 200, ""},
		{"curl 7.88.1", bearerBody, []string{
			"User-Agent", "curl/7.88.1", "Accept", "*/*", "Content-Type", "application/json"}, 200, ""},
		{"Chromium 156 fetch from the page, bearer mode", bearerBody, []string{
			"sec-ch-ua-platform", `"Linux"`, "User-Agent", chromiumUA, "sec-ch-ua", `"Not:A-Brand";v="8", "Chromium";v="156"`,
			"Content-Type", "application/json", "sec-ch-ua-mobile", "?0", "Accept", "*/*", "Origin", "<origin>",
			"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Referer", "<origin>/",
			"Accept-Encoding", "gzip, deflate, br, zstd", "Accept-Language", "en-US,en;q=0.9"}, 200, ""},
		{"Chromium 156 fetch from the page, cookie mode", cookieBody, []string{
			"User-Agent", chromiumUA, "Content-Type", "application/json", "Accept", "*/*", "Origin", "<origin>",
			"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Referer", "<origin>/"}, 200, ""},
		// A browser whose Origin and Referer were both stripped (an
		// extension, a policy) still sends Fetch Metadata: refused.
		{"Chromium 156 fetch with Origin and Referer stripped, bearer mode", bearerBody, []string{
			"User-Agent", chromiumUA, "Content-Type", "application/json", "Accept", "*/*",
			"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}, 403, "forbidden_origin"},
		{"Chromium 156 fetch from another site", bearerBody, []string{
			"User-Agent", chromiumUA, "Content-Type", "application/json", "Accept", "*/*", "Origin", "https://evil.example",
			"Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty"}, 403, "cross_origin_request"},
		// A script is a script only without a browser's markers: in cookie
		// mode it needs an allowed Origin like any browser.
		{"Node.js 20.20.2 built-in fetch (undici), cookie mode", cookieBody, []string{
			"Content-Type", "application/json", "accept", "*/*", "sec-fetch-mode", "cors", "user-agent", "node"}, 403, "forbidden_origin"},
	} {
		t.Run(c.source, func(t *testing.T) {
			req, err := http.NewRequest("POST", g.URL+"/auth/login", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(c.headers); i += 2 {
				req.Header.Set(c.headers[i], strings.ReplaceAll(c.headers[i+1], "<origin>", g.Origin))
			}
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{Response: res, Body: body}
			if c.code != "" {
				wantProblem(t, c.source, r, c.status, c.code)
				return
			}
			wantStatus(t, c.source, r, c.status)
		})
	}
}

// TestRefreshIsNotAnOAuthTokenEndpoint pins what docs/api.md says of POST
// /auth/refresh: it is the first-party API, not an RFC 6749 token
// endpoint. A request as an OAuth 2.0 library sends it (oauth4webapi as a
// public client: a form with client_id and scope, RFC 6749 §6) is refused
// as carrying unknown fields, in problem+json, and a bad token is 401
// invalid_refresh_token, not §5.2's 400 invalid_grant. OAuth libraries
// belong at the provider's token endpoint.
func TestRefreshIsNotAnOAuthTokenEndpoint(t *testing.T) {
	g := newGH(t)
	tk := g.bearerLogin()
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name, body, ct string
		status         int
		code           string
	}{
		{"oauth4webapi public client (client_id, scope)", "grant_type=refresh_token&refresh_token=" + tk.RefreshToken + "&client_id=gatehouse&scope=api", form, 400, "unknown_field"},
		{"an unknown refresh token, form", "grant_type=refresh_token&refresh_token=ghr_nope", form, 401, "invalid_refresh_token"},
		{"another grant type", "grant_type=client_credentials", form, 400, "invalid_request"},
		{"form with grant_type and the token", "grant_type=refresh_token&refresh_token=" + tk.RefreshToken, form, 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/refresh", c.body, "Content-Type", c.ct)
			if c.code == "" {
				wantStatus(t, c.name, r, c.status)
				return
			}
			wantProblem(t, c.name, r, c.status, c.code)
		})
	}
}
