package authapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

const (
	adminUser     = "root"
	adminPassword = "an admin's long password"
)

// withAdmin adds an admin account to g and returns the admin's id.
func withAdmin(t *testing.T, g *gh) string {
	t.Helper()
	u, err := g.Engine.AddUser(t.Context(), session.CLI, adminUser, adminPassword, []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

type adminUserJSON struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Roles     []string  `json:"roles"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type adminSessionJSON struct {
	ID           string     `json:"id"`
	UserID       string     `json:"user_id"`
	Client       string     `json:"client"`
	IP           string     `json:"ip"`
	CreatedIP    string     `json:"created_ip"`
	RevokedAt    *time.Time `json:"revoked_at"`
	RevokeReason string     `json:"revoke_reason"`
}

type auditJSON struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	ActorID   string `json:"actor_id"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	IP        string `json:"ip"`
	Detail    string `json:"detail"`
}

func decodeOK[T any](t *testing.T, what string, r resp, status int) T {
	t.Helper()
	wantStatus(t, what, r, status)
	assertNoSecrets(t, r.Body)
	var v T
	r.json(t, &v)
	return v
}

// TestAdminUsers walks the user administration through the API.
func TestAdminUsers(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)

	r := admin.do("POST", "/admin/users", map[string]any{"username": "Carol", "password": "carol's good password", "roles": []string{"reader", "writer"}})
	carol := decodeOK[adminUserJSON](t, "create", r, 201)
	if carol.ID == "" || carol.Username != "carol" || len(carol.Roles) != 2 || carol.Disabled || carol.CreatedAt.IsZero() {
		t.Fatalf("created user: %+v", carol)
	}
	if loc := r.Header.Get("Location"); loc != "/admin/users/"+carol.ID {
		t.Errorf("Location = %q", loc)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"taken username", map[string]any{"username": "carol", "password": "another good password"}, 409, "conflict"},
		{"short password", map[string]any{"username": "dave", "password": "short"}, 400, "invalid_request"},
		{"bad username", map[string]any{"username": "da ve\x00", "password": "another good password"}, 400, "invalid_request"},
		{"bad role", map[string]any{"username": "dave", "password": "another good password", "roles": []string{"a b"}}, 400, "invalid_request"},
		{"unknown field", map[string]any{"username": "dave", "password": "another good password", "admin": true}, 400, "unknown_field"},
		{"malformed", `{"username":`, 400, "malformed_json"},
	} {
		t.Run("create/"+tc.name, func(t *testing.T) {
			var r resp
			if s, ok := tc.body.(string); ok {
				r = doWith(t, http.DefaultClient, g.URL, "POST", "/admin/users", s,
					"Authorization", "Bearer "+admin.tk.AccessToken, "Content-Type", "application/json")
			} else {
				r = admin.do("POST", "/admin/users", tc.body)
			}
			wantProblem(t, tc.name, r, tc.status, tc.code)
		})
	}

	got := decodeOK[adminUserJSON](t, "get", admin.do("GET", "/admin/users/"+carol.ID, nil), 200)
	if got.ID != carol.ID || got.Username != "carol" {
		t.Fatalf("get: %+v", got)
	}
	wantProblem(t, "get unknown", admin.do("GET", "/admin/users/nope", nil), 404, "not_found")

	list := decodeOK[struct {
		Users []adminUserJSON
		Next  *string
	}](t, "search", admin.do("GET", "/admin/users?search=CAR", nil), 200)
	if len(list.Users) != 1 || list.Users[0].ID != carol.ID || list.Next == nil || *list.Next != "" {
		t.Fatalf("search: %+v", list)
	}

	// Roles: replaced exactly; an empty list removes all; none is an error.
	got = decodeOK[adminUserJSON](t, "roles", admin.do("PUT", "/admin/users/"+carol.ID+"/roles", map[string]any{"roles": []string{"auditor"}}), 200)
	if strings.Join(got.Roles, ",") != "auditor" {
		t.Fatalf("roles: %+v", got)
	}
	got = decodeOK[adminUserJSON](t, "no roles", admin.do("PUT", "/admin/users/"+carol.ID+"/roles", map[string]any{"roles": []string{}}), 200)
	if got.Roles == nil || len(got.Roles) != 0 {
		t.Fatalf("empty roles: %+v", got)
	}
	wantProblem(t, "roles missing", admin.do("PUT", "/admin/users/"+carol.ID+"/roles", map[string]any{}), 400, "invalid_request")
	wantProblem(t, "roles of unknown user", admin.do("PUT", "/admin/users/nope/roles", map[string]any{"roles": []string{}}), 404, "not_found")

	// Disable ends carol's sessions and stops her logging in; enable lets
	// her back.
	c1 := g.bearerAs("carol", "carol's good password")
	got = decodeOK[adminUserJSON](t, "disable", admin.do("POST", "/admin/users/"+carol.ID+"/disable", nil), 200)
	if !got.Disabled {
		t.Fatalf("disable: %+v", got)
	}
	wantProblem(t, "disabled user's session", c1.do("GET", "/auth/session", nil), 401, "session_ended")
	if r, _ := g.bearerRefresh(c1.tk.RefreshToken); r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
		t.Fatalf("disabled user's refresh: %d %s", r.StatusCode, r.Body)
	}
	r = doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login", map[string]string{"username": "carol", "password": "carol's good password", "mode": "bearer"})
	wantProblem(t, "disabled user's login", r, 401, "invalid_credentials")
	got = decodeOK[adminUserJSON](t, "enable", admin.do("POST", "/admin/users/"+carol.ID+"/enable", nil), 200)
	if got.Disabled {
		t.Fatalf("enable: %+v", got)
	}
	c2 := g.bearerAs("carol", "carol's good password")

	// A password reset ends every session; the new password works.
	wantStatus(t, "reset", admin.do("POST", "/admin/users/"+carol.ID+"/password", map[string]string{"password": "carol's new password"}), 204)
	wantProblem(t, "session after reset", c2.do("GET", "/auth/session", nil), 401, "session_ended")
	wantProblem(t, "weak reset", admin.do("POST", "/admin/users/"+carol.ID+"/password", map[string]string{"password": "x"}), 400, "invalid_request")
	wantProblem(t, "reset unknown", admin.do("POST", "/admin/users/nope/password", map[string]string{"password": "a long enough password"}), 404, "not_found")
	c3 := g.bearerAs("carol", "carol's new password")

	wantProblem(t, "disable unknown", admin.do("POST", "/admin/users/nope/disable", nil), 404, "not_found")
	wantProblem(t, "disable with a body", admin.do("POST", "/admin/users/"+carol.ID+"/disable", map[string]bool{"really": true}), 400, "unknown_field")

	wantStatus(t, "delete", admin.do("DELETE", "/admin/users/"+carol.ID, nil), 204)
	// Deleting ends the sessions with the user, refresh included (ASVS 7.4.2).
	wantProblem(t, "deleted user's session", c3.do("GET", "/auth/session", nil), 401, "session_ended")
	if r, _ := g.bearerRefresh(c3.tk.RefreshToken); r.StatusCode != 401 {
		t.Fatalf("deleted user's refresh: %d %s", r.StatusCode, r.Body)
	}
	wantProblem(t, "get deleted", admin.do("GET", "/admin/users/"+carol.ID, nil), 404, "not_found")
	wantProblem(t, "delete again", admin.do("DELETE", "/admin/users/"+carol.ID, nil), 404, "not_found")
}

// TestAdminSessions: listing, ending one session, and forcing a user out
// everywhere.
func TestAdminSessions(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	alice := g.bearerAs(testUser, testPassword)
	aliceID := sessionUser(t, alice)
	a2, a3 := g.bearerAs(testUser, testPassword), g.bearerAs(testUser, testPassword)

	type sessions struct {
		Sessions []adminSessionJSON
		Next     string
	}
	list := decodeOK[sessions](t, "user sessions", admin.do("GET", "/admin/users/"+aliceID+"/sessions", nil), 200)
	if len(list.Sessions) != 3 || list.Next != "" {
		t.Fatalf("alice's sessions: %+v", list)
	}
	for _, s := range list.Sessions {
		if s.UserID != aliceID || s.Client == "" || s.IP != "127.0.0.1" || s.CreatedIP != "127.0.0.1" || s.RevokedAt != nil {
			t.Errorf("session view: %+v", s)
		}
	}
	wantProblem(t, "unknown user's sessions", admin.do("GET", "/admin/users/nope/sessions", nil), 404, "not_found")
	wantProblem(t, "user_id on a user's sessions", admin.do("GET", "/admin/users/"+aliceID+"/sessions?user_id=x", nil), 400, "invalid_request")

	wantStatus(t, "revoke one", admin.do("DELETE", "/admin/sessions/"+a2.sid, nil), 204)
	wantProblem(t, "revoked session", a2.do("GET", "/auth/session", nil), 401, "session_ended")
	wantStatus(t, "other session", a3.do("GET", "/auth/session", nil), 200)
	wantProblem(t, "revoke unknown", admin.do("DELETE", "/admin/sessions/nope", nil), 404, "not_found")

	all := decodeOK[sessions](t, "all of alice's", admin.do("GET", "/admin/sessions?user_id="+aliceID+"&live=false", nil), 200)
	live := decodeOK[sessions](t, "alice's live", admin.do("GET", "/admin/sessions?user_id="+aliceID+"&live=true", nil), 200)
	if len(all.Sessions) != 3 || len(live.Sessions) != 2 {
		t.Fatalf("all %d, live %d; want 3 and 2", len(all.Sessions), len(live.Sessions))
	}
	for _, s := range all.Sessions {
		if s.ID == a2.sid && (s.RevokedAt == nil || s.RevokeReason != "revoked_by_admin") {
			t.Errorf("revoked session shows %+v", s)
		}
	}
	everyone := decodeOK[sessions](t, "everyone's live", admin.do("GET", "/admin/sessions?live=true", nil), 200)
	if len(everyone.Sessions) != 3 { // alice's two and the admin's own
		t.Fatalf("everyone's live sessions: %d", len(everyone.Sessions))
	}

	r := admin.do("DELETE", "/admin/users/"+aliceID+"/sessions", nil)
	if v := decodeOK[struct{ Revoked int }](t, "force logout", r, 200); v.Revoked != 2 {
		t.Fatalf("force logout revoked %d, want 2", v.Revoked)
	}
	for _, c := range []*client{alice, a3} {
		wantProblem(t, "after force logout", c.do("GET", "/auth/session", nil), 401, "session_ended")
		r, _ := g.bearerRefresh(c.tk.RefreshToken)
		wantProblem(t, "refresh after force logout", r, 401, "session_ended")
	}
	live = decodeOK[sessions](t, "after force logout", admin.do("GET", "/admin/users/"+aliceID+"/sessions?live=true", nil), 200)
	if len(live.Sessions) != 0 {
		t.Fatalf("live sessions after force logout: %+v", live.Sessions)
	}
	wantProblem(t, "force logout unknown", admin.do("DELETE", "/admin/users/nope/sessions", nil), 404, "not_found")
}

func sessionUser(t *testing.T, c *client) string {
	t.Helper()
	var v struct{ User struct{ ID string } }
	c.do("GET", "/auth/session", nil).json(t, &v)
	return v.User.ID
}

// adminRoutes is every admin endpoint with a plausible request.
func adminRoutes(userID, sid string) []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/users", nil},
		{"POST", "/admin/users", map[string]any{"username": "mallory", "password": "mallory's password"}},
		{"GET", "/admin/users/" + userID, nil},
		{"DELETE", "/admin/users/" + userID, nil},
		{"POST", "/admin/users/" + userID + "/disable", nil},
		{"POST", "/admin/users/" + userID + "/enable", nil},
		{"PUT", "/admin/users/" + userID + "/roles", map[string]any{"roles": []string{"admin"}}},
		{"POST", "/admin/users/" + userID + "/password", map[string]string{"password": "mallory's password"}},
		{"GET", "/admin/users/" + userID + "/sessions", nil},
		{"DELETE", "/admin/users/" + userID + "/sessions", nil},
		{"GET", "/admin/sessions", nil},
		{"DELETE", "/admin/sessions/" + sid, nil},
		{"GET", "/admin/audit", nil},
	}
}

// TestAdminNeedsAdmin: every admin route refuses a user without the admin
// role (403) and a request without a token (401), and changes nothing.
func TestAdminNeedsAdmin(t *testing.T) {
	g := newGH(t)
	adminID := withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	alice := g.bearerAs(testUser, testPassword)
	aliceID := sessionUser(t, alice)

	for _, rt := range adminRoutes(adminID, admin.sid) {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			wantProblem(t, "non-admin", alice.do(rt.method, rt.path, rt.body), 403, "forbidden")
			wantProblem(t, "no token", doWith(t, http.DefaultClient, g.URL, rt.method, rt.path, rt.body), 401, "invalid_token")
			r := doWith(t, http.DefaultClient, g.URL, rt.method, rt.path, rt.body, "Authorization", "Bearer x.y.z")
			wantProblem(t, "bad token", r, 401, "invalid_token")
		})
	}
	// Nothing happened: the admin is intact and still in.
	u := decodeOK[adminUserJSON](t, "admin", admin.do("GET", "/admin/users/"+adminID, nil), 200)
	if u.Disabled || strings.Join(u.Roles, ",") != "admin" {
		t.Fatalf("admin after refused calls: %+v", u)
	}
	if v := decodeOK[struct{ Users []adminUserJSON }](t, "users", admin.do("GET", "/admin/users?search=mallory", nil), 200); len(v.Users) != 0 {
		t.Fatal("a refused call created a user")
	}
	if !strings.Contains(g.Logs.String(), "admin API refused") || !strings.Contains(g.Logs.String(), aliceID) {
		t.Error("refused admin calls were not logged")
	}
}

// TestAdminDemotedAtOnce: an admin whose role is taken away loses the
// admin API at once, although their access token still says admin.
func TestAdminDemotedAtOnce(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	u, err := g.Engine.AddUser(t.Context(), session.CLI, "deputy", "deputy's password!", []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	deputy := g.bearerAs("deputy", "deputy's password!")
	wantStatus(t, "deputy as admin", deputy.do("GET", "/admin/users", nil), 200)
	root := g.bearerAs(adminUser, adminPassword)
	wantStatus(t, "demote", root.do("PUT", "/admin/users/"+u.ID+"/roles", map[string]any{"roles": []string{"reader"}}), 200)
	wantProblem(t, "demoted deputy", deputy.do("GET", "/admin/users", nil), 403, "forbidden")

	// A revoked admin session is refused outright.
	wantStatus(t, "revoke root's session", root.do("DELETE", "/auth/sessions/"+root.sid, nil), 204)
	wantProblem(t, "revoked admin session", root.do("GET", "/admin/users", nil), 401, "session_ended")
}

// TestAdminCannotLockThemselvesOut: deleting or disabling one's own
// account is refused; other admins' accounts are fair game.
func TestAdminCannotLockThemselvesOut(t *testing.T) {
	g := newGH(t)
	adminID := withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	wantProblem(t, "delete self", admin.do("DELETE", "/admin/users/"+adminID, nil), 409, "conflict")
	wantProblem(t, "disable self", admin.do("POST", "/admin/users/"+adminID+"/disable", nil), 409, "conflict")
	wantStatus(t, "still in", admin.do("GET", "/admin/users/"+adminID, nil), 200)
	wantStatus(t, "enable self is harmless", admin.do("POST", "/admin/users/"+adminID+"/enable", nil), 200)

	other, err := g.Engine.AddUser(t.Context(), session.CLI, "other-admin", "other admin's password", []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "disable another admin", admin.do("POST", "/admin/users/"+other.ID+"/disable", nil), 200)
	wantStatus(t, "delete another admin", admin.do("DELETE", "/admin/users/"+other.ID, nil), 204)
}

// TestAdminCSRF: the admin API in a browser (cookie mode) needs the
// double-submit header on unsafe methods, and not on reads.
func TestAdminCSRF(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	b := g.browser()
	b.loginAs(adminUser, adminPassword)
	victim := g.bearerAs(testUser, testPassword)

	wantStatus(t, "GET without header", b.do("GET", "/admin/users", nil), 200)
	wantProblem(t, "DELETE without header", b.do("DELETE", "/admin/sessions/"+victim.sid, nil, "Origin", g.Origin), 403, "csrf_failed")
	wantProblem(t, "POST without header", b.do("POST", "/admin/users", map[string]string{"username": "x", "password": "a good long password"}, "Origin", g.Origin), 403, "csrf_failed")
	wantStatus(t, "victim untouched", victim.do("GET", "/auth/session", nil), 200)
	wantStatus(t, "DELETE with header", b.send("DELETE", "/admin/sessions/"+victim.sid, nil), 204)
	wantProblem(t, "victim ended", victim.do("GET", "/auth/session", nil), 401, "session_ended")
}

// TestAdminAudit: every admin call, read or write, is on record with the
// admin as the actor, and the audit listing filters and pages.
func TestAdminAudit(t *testing.T) {
	g := newGH(t)
	adminID := withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	alice := g.bearerAs(testUser, testPassword)
	aliceID := sessionUser(t, alice)

	wantStatus(t, "list", admin.do("GET", "/admin/users", nil), 200)
	wantStatus(t, "get", admin.do("GET", "/admin/users/"+aliceID, nil), 200)
	wantStatus(t, "sessions", admin.do("GET", "/admin/users/"+aliceID+"/sessions", nil), 200)
	created := decodeOK[adminUserJSON](t, "create", admin.do("POST", "/admin/users", map[string]any{"username": "erin", "password": "erin's good password"}), 201)
	wantStatus(t, "roles", admin.do("PUT", "/admin/users/"+aliceID+"/roles", map[string]any{"roles": []string{"writer"}}), 200)
	wantStatus(t, "disable", admin.do("POST", "/admin/users/"+created.ID+"/disable", nil), 200)
	wantStatus(t, "enable", admin.do("POST", "/admin/users/"+created.ID+"/enable", nil), 200)
	wantStatus(t, "reset", admin.do("POST", "/admin/users/"+created.ID+"/password", map[string]string{"password": "erin's new password"}), 204)
	wantStatus(t, "revoke", admin.do("DELETE", "/admin/sessions/"+alice.sid, nil), 204)
	wantStatus(t, "force logout", admin.do("DELETE", "/admin/users/"+aliceID+"/sessions", nil), 200)
	wantStatus(t, "delete", admin.do("DELETE", "/admin/users/"+created.ID, nil), 204)

	type events struct {
		Events []auditJSON
		Next   string
	}
	ev := decodeOK[events](t, "audit", admin.do("GET", "/admin/audit?actor_id="+adminID+"&limit=200", nil), 200)
	seen := map[string]int{}
	for _, e := range ev.Events {
		if e.ActorID != adminID || e.IP != "127.0.0.1" {
			t.Errorf("event not attributed to the admin: %+v", e)
		}
		seen[e.Type+"/"+e.Detail]++
	}
	for _, want := range []string{"admin_access/list_users", "admin_access/get_user", "admin_access/list_sessions",
		"user_created/", "roles_changed/", "user_disabled/", "user_enabled/", "password_changed/",
		"session_revoked/revoked_by_admin", "force_logout/", "user_deleted/"} {
		if seen[want] == 0 {
			t.Errorf("no %s event by the admin; have %v", want, seen)
		}
	}

	// Filters and paging: type, user, and before along pages of 2.
	ev = decodeOK[events](t, "by type", admin.do("GET", "/admin/audit?type=user_created&user_id="+created.ID, nil), 200)
	if len(ev.Events) != 1 || ev.Events[0].UserID != created.ID {
		t.Fatalf("type filter: %+v", ev)
	}
	var ids []int64
	next := ""
	for pages := 0; ; pages++ {
		if pages > 50 {
			t.Fatal("audit paging does not end")
		}
		path := "/admin/audit?user_id=" + aliceID + "&limit=2"
		if next != "" {
			path += "&before=" + next
		}
		p := decodeOK[events](t, "page", admin.do("GET", path, nil), 200)
		for _, e := range p.Events {
			ids = append(ids, e.ID)
		}
		if next = p.Next; next == "" {
			break
		}
	}
	// Reading the audit about alice is itself recorded about alice; those
	// newer events are not part of what was paged.
	all := decodeOK[events](t, "all of alice", admin.do("GET", "/admin/audit?user_id="+aliceID+"&limit=200&before="+fmt.Sprint(ids[0]+1), nil), 200)
	if len(ids) < 4 || len(ids) != len(all.Events) {
		t.Fatalf("paged %d events, unpaged %d", len(ids), len(all.Events))
	}
	for i := range ids {
		if ids[i] != all.Events[i].ID {
			t.Fatalf("page order differs at %d: %v", i, ids)
		}
	}

	// A time window: nothing before the start of the clock, everything in a
	// window around it.
	since := url.QueryEscape(g.Clock.Now().Add(-time.Hour).Format(time.RFC3339))
	until := url.QueryEscape(g.Clock.Now().Add(time.Hour).Format(time.RFC3339))
	win := decodeOK[events](t, "window", admin.do("GET", "/admin/audit?limit=200&since="+since+"&until="+until, nil), 200)
	early := decodeOK[events](t, "early", admin.do("GET", "/admin/audit?until="+since, nil), 200)
	if len(win.Events) == 0 || len(early.Events) != 0 {
		t.Fatalf("window %d events, before it %d", len(win.Events), len(early.Events))
	}
}

// TestAdminUserPaging: following next visits every user exactly once,
// for several page sizes and with a search.
func TestAdminUserPaging(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	for i := range 23 {
		if _, err := g.Engine.AddUser(t.Context(), session.CLI, fmt.Sprintf("user%02d", i), "a good long password", nil); err != nil {
			t.Fatal(err)
		}
	}
	admin := g.bearerAs(adminUser, adminPassword)
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"limit=1", 25}, {"limit=7", 25}, {"limit=25", 25}, {"limit=200", 25}, {"", 25},
		{"search=user1&limit=3", 10}, {"search=nobody", 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			seen := map[string]int{}
			after := ""
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("paging does not end")
				}
				q := url.Values{}
				if after != "" {
					q.Set("after", after)
				}
				path := "/admin/users?" + q.Encode()
				if tc.query != "" {
					path += "&" + tc.query
				}
				p := decodeOK[struct {
					Users []adminUserJSON
					Next  string
				}](t, "page", admin.do("GET", path, nil), 200)
				for _, u := range p.Users {
					seen[u.Username]++
				}
				if p.Next == "" {
					break
				}
				if len(p.Users) == 0 {
					t.Fatal("an empty page with a next cursor")
				}
				after = p.Next
			}
			if len(seen) != tc.want {
				t.Fatalf("saw %d users, want %d: %v", len(seen), tc.want, seen)
			}
			for name, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", name, n)
				}
			}
		})
	}
}

// TestAdminSessionPaging: the sessions listing pages the same way.
func TestAdminSessionPaging(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	want := map[string]bool{admin.sid: true}
	for range 6 {
		want[g.bearerAs(testUser, testPassword).sid] = true
		g.Clock.Advance(time.Second)
	}
	seen := map[string]int{}
	after := ""
	for pages := 0; pages < 20; pages++ {
		path := "/admin/sessions?limit=4"
		if after != "" {
			path += "&after=" + after
		}
		p := decodeOK[struct {
			Sessions []adminSessionJSON
			Next     string
		}](t, "page", admin.do("GET", path, nil), 200)
		for _, s := range p.Sessions {
			seen[s.ID]++
		}
		if after = p.Next; after == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("saw %d sessions, want %d", len(seen), len(want))
	}
	for id, n := range seen {
		if !want[id] || n != 1 {
			t.Errorf("session %s seen %d times (known: %v)", id, n, want[id])
		}
	}
}

// TestAdminBadQuery: malformed, unknown, repeated or out-of-range query
// parameters are refused, not ignored.
func TestAdminBadQuery(t *testing.T) {
	g := newGH(t)
	withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)
	for _, path := range []string{
		"/admin/users?limit=0",
		"/admin/users?limit=201",
		"/admin/users?limit=-1",
		"/admin/users?limit=ten",
		"/admin/users?limit=1&limit=2",
		"/admin/users?serach=a",
		"/admin/users?search=%zz",
		"/admin/sessions?live=maybe",
		"/admin/sessions?live=1",
		"/admin/sessions?limit=1e3",
		"/admin/sessions?search=x",
		"/admin/audit?since=yesterday",
		"/admin/audit?until=2026-01-02",
		"/admin/audit?before=0",
		"/admin/audit?before=abc",
		"/admin/audit?limit=999",
		"/admin/audit?after=5",
	} {
		t.Run(path, func(t *testing.T) {
			wantProblem(t, path, admin.do("GET", path, nil), 400, "invalid_request")
		})
	}
}

// TestAdminMethodNotAllowed: another method on an admin path is a 405
// problem listing the allowed ones, in a stable order.
func TestAdminMethodNotAllowed(t *testing.T) {
	g := newGH(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PATCH", "/admin/users/x/sessions", "DELETE, GET, HEAD"},
		{"PUT", "/admin/users", "GET, HEAD, POST"},
		{"GET", "/admin/users/x/disable", "POST"},
		{"POST", "/admin/audit", "GET, HEAD"},
	} {
		r := doWith(t, http.DefaultClient, g.URL, tc.method, tc.path, nil)
		wantProblem(t, tc.method+" "+tc.path, r, 405, "method_not_allowed")
		if got := r.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}
