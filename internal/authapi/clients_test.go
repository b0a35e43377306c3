package authapi_test

import (
	"net/url"
	"strings"
	"testing"
)

type clientJSON struct {
	ClientID                string   `json:"client_id"`
	ClientName              string   `json:"client_name"`
	Public                  bool     `json:"public"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scope                   string   `json:"scope"`
	ClientSecret            string   `json:"client_secret"`
}

// TestAdminClients walks the OAuth client registry through the admin API:
// a registration answers the secret once, reads never show it (nor its
// hash), a rotation answers a new one, the registration rules refuse with
// invalid_client_metadata, only admins get in, and every change is
// audited with the admin as actor.
func TestAdminClients(t *testing.T) {
	g := newGH(t)
	adminID := withAdmin(t, g)
	admin := g.bearerAs(adminUser, adminPassword)

	r := admin.do("POST", "/admin/clients", map[string]any{"client_name": "web app",
		"redirect_uris": []string{"https://app.example.com/callback"}, "scope": "openid offline_access"})
	wantStatus(t, "register", r, 201)
	var web clientJSON
	r.json(t, &web)
	if web.ClientID == "" || len(web.ClientSecret) < 43 || web.TokenEndpointAuthMethod != "client_secret_basic" ||
		web.Scope != "openid offline_access" || len(web.GrantTypes) != 2 {
		t.Fatalf("registered: %s", r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/admin/clients/"+url.PathEscape(web.ClientID) {
		t.Errorf("Location %q", loc)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("a secret-bearing answer with Cache-Control %q", cc)
	}

	r = admin.do("POST", "/admin/clients", map[string]any{"client_name": "cli", "public": true,
		"redirect_uris": []string{"http://127.0.0.1/callback"}})
	wantStatus(t, "register a public client", r, 201)
	var cli clientJSON
	r.json(t, &cli)
	if cli.ClientSecret != "" || cli.TokenEndpointAuthMethod != "none" || !cli.Public {
		t.Fatalf("public client: %s", r.Body)
	}

	for _, read := range []string{"/admin/clients", "/admin/clients/" + web.ClientID} {
		r := admin.do("GET", read, nil)
		wantStatus(t, read, r, 200)
		if b := string(r.Body); strings.Contains(b, web.ClientSecret) || strings.Contains(b, `"client_secret"`) || strings.Contains(b, "hash") {
			t.Fatalf("%s shows a secret: %s", read, r.Body)
		}
	}

	r = admin.do("POST", "/admin/clients/"+web.ClientID+"/secret", nil)
	wantStatus(t, "rotate", r, 200)
	var rotated clientJSON
	r.json(t, &rotated)
	if rotated.ClientSecret == "" || rotated.ClientSecret == web.ClientSecret || rotated.ClientID != web.ClientID {
		t.Fatalf("rotated: %s", r.Body)
	}
	wantProblem(t, "rotate a public client", admin.do("POST", "/admin/clients/"+cli.ClientID+"/secret", nil), 409, "conflict")

	for _, tc := range []struct {
		name string
		body any
		code string
	}{
		{"wildcard redirect", map[string]any{"client_name": "x", "redirect_uris": []string{"https://*.example.com/cb"}}, "invalid_client_metadata"},
		{"http redirect to a remote host", map[string]any{"client_name": "x", "redirect_uris": []string{"http://app.example.com/cb"}}, "invalid_client_metadata"},
		{"implicit grant", map[string]any{"client_name": "x", "redirect_uris": []string{"https://a.example/cb"}, "grant_types": []string{"implicit"}}, "invalid_client_metadata"},
		{"no name", map[string]any{"redirect_uris": []string{"https://a.example/cb"}}, "invalid_client_metadata"},
		{"empty body", nil, "invalid_client_metadata"},
		{"unknown field", map[string]any{"client_name": "x", "redirect_uris": []string{"https://a.example/cb"}, "client_secret": "mine"}, "unknown_field"},
	} {
		wantProblem(t, "register: "+tc.name, admin.do("POST", "/admin/clients", tc.body), 400, tc.code)
	}

	wantProblem(t, "unknown client", admin.do("GET", "/admin/clients/nope", nil), 404, "not_found")
	user := g.bearerAs(testUser, testPassword)
	wantProblem(t, "a user without the admin role", user.do("GET", "/admin/clients", nil), 403, "forbidden")
	wantProblem(t, "a user registering", user.do("POST", "/admin/clients",
		map[string]any{"client_name": "x", "redirect_uris": []string{"https://a.example/cb"}}), 403, "forbidden")

	wantStatus(t, "delete", admin.do("DELETE", "/admin/clients/"+web.ClientID, nil), 204)
	wantProblem(t, "after delete", admin.do("GET", "/admin/clients/"+web.ClientID, nil), 404, "not_found")
	wantProblem(t, "delete again", admin.do("DELETE", "/admin/clients/"+web.ClientID, nil), 404, "not_found")

	seen := map[string]int{}
	var page struct{ Events []auditJSON }
	admin.do("GET", "/admin/audit?limit=200", nil).json(t, &page)
	for _, ev := range page.Events {
		if strings.HasPrefix(ev.Type, "client_") && ev.ActorID == adminID {
			seen[ev.Type]++
		}
	}
	if seen["client_registered"] != 2 || seen["client_secret_rotated"] != 1 || seen["client_deleted"] != 1 {
		t.Fatalf("audit of the client changes by the admin: %v", seen)
	}
}
