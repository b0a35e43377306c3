package authapi_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
)

// TestLogoutMalformedAuthorization: a logout whose Authorization header is
// not one Bearer token is refused with 400 invalid_request, although the
// request also carries the browser's valid cookies and CSRF header, and the
// session those cookies name lives on, its cookies untouched. Before, the
// header was passed over, the answer was 204 with the cookies cleared, and
// the session stayed live: a success reported for a session that was not
// ended.
func TestLogoutMalformedAuthorization(t *testing.T) {
	g := newGH(t)
	for _, h := range [][]string{
		{"Basic YWxpY2U6cGFzcw=="},
		{"Bearer"},
		{"Bearer a b"},
		{""},
		{"Bearer x", "Bearer y"},
	} {
		t.Run(h[0], func(t *testing.T) {
			b := g.browser()
			b.login()
			req, err := http.NewRequest("POST", g.URL+"/auth/logout", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-XSRF-TOKEN", b.cookie("/", "XSRF-TOKEN"))
			req.Header.Set("Origin", g.Origin)
			req.Header["Authorization"] = h
			res, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			r := resp{Response: res, Body: body}
			wantProblem(t, "logout", r, 400, "invalid_request")
			if ch := r.Header.Get("WWW-Authenticate"); ch != `Bearer error="invalid_request"` {
				t.Errorf("challenge %q", ch)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("cookies changed by a refused logout: %q", sc)
			}
			wantStatus(t, "the session afterwards", b.do("GET", "/auth/session", nil), 200)
			// And the same browser's logout without the header works.
			wantStatus(t, "logout without the header", b.post("/auth/logout", nil), 204)
			wantProblem(t, "after logout", b.do("GET", "/auth/session", nil), 401, "invalid_token")
		})
	}
}

// TestLogoutKeepsOtherCookies: logout expires Gatehouse's three cookies by
// name and sends no Clear-Site-Data, which would drop every cookie of the
// site, the app's own too; logout_clear_site_data turns the header on.
func TestLogoutKeepsOtherCookies(t *testing.T) {
	for _, on := range []bool{false, true} {
		g := newGH(t, func(c *config.Resolved, _ *app.Options) { c.LogoutClearSiteData = on })
		b := g.browser()
		b.login()
		r := b.post("/auth/logout", nil)
		wantStatus(t, "logout", r, 204)
		want := ""
		if on {
			want = `"cookies"`
		}
		if got := r.Header.Get("Clear-Site-Data"); got != want {
			t.Errorf("logout_clear_site_data=%v: Clear-Site-Data %q, want %q", on, got, want)
		}
		expired := map[string]bool{}
		for _, c := range r.Cookies() {
			if c.MaxAge < 0 {
				expired[c.Name] = true
			}
		}
		for _, name := range []string{credential.CookieAccess, credential.CookieRefresh, credential.CookieCSRF} {
			if !expired[name] {
				t.Errorf("logout_clear_site_data=%v: cookie %s not expired by name (%q)", on, name, r.Header.Values("Set-Cookie"))
			}
		}
		if len(expired) != 3 {
			t.Errorf("logout expired %v, want exactly Gatehouse's three cookies", expired)
		}
	}
}
