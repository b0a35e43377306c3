package provider_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestConsent: the consent page shows once per user, client and scope;
// prompt=consent asks again; a first-party client never asks; denying
// sends access_denied; the user lists and withdraws consents through the
// first-party API, and withdrawing ends the sessions with that client.
func TestConsent(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	own, _ := o.register(provider.Spec{FirstParty: true})
	_, challenge := pkce()
	asks := func(clientID string, extra url.Values) bool {
		t.Helper()
		b := o.browser()
		p := b.submit(b.get(o.authorizeURL(clientID, challenge, extra)), url.Values{"username": {testUser}, "password": {testPassword}})
		return p.Status == http.StatusOK && strings.Contains(p.Body, `name="decision"`)
	}
	if asks(own, nil) {
		t.Fatal("a first-party client asked for consent")
	}
	b := o.browser()
	p := b.submit(b.get(o.authorizeURL(id, challenge, nil)), url.Values{"username": {testUser}, "password": {testPassword}})
	if q := callback(t, b.submit(p, url.Values{"decision": {"deny"}})); q.Get("error") != "access_denied" || q.Get("iss") != o.URL {
		t.Fatalf("deny: %v", q)
	}
	if !asks(id, nil) {
		t.Fatal("a denied consent was remembered")
	}
	code, verifier := o.code(id, nil) // allows
	status, tok := o.exchange(code, verifier, id, secret)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, tok)
	}
	if asks(id, nil) {
		t.Fatal("the consent was not remembered")
	}
	if !asks(id, url.Values{"prompt": {"consent"}}) {
		t.Fatal("prompt=consent did not ask")
	}
	if !asks(id, url.Values{"scope": {"openid profile offline_access email"}}) {
		t.Fatal("a scope not consented to did not ask")
	}

	// The user's own view, through the first-party API.
	g, err := o.App.Engine.Login(t.Context(), testUser, testPassword, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	api := func(method, path string) (int, []byte) {
		req, _ := http.NewRequest(method, o.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+g.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	status, body := api(http.MethodGet, "/auth/consents")
	var list struct {
		Consents []provider.ConsentView `json:"consents"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Consents) != 1 || list.Consents[0].ClientID != id ||
		strings.Join(list.Consents[0].Scopes, " ") != "openid profile offline_access" {
		t.Fatalf("GET /auth/consents: %d %s", status, body)
	}
	if status, body := api(http.MethodDelete, "/auth/consents/"+id); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	if status, _ := api(http.MethodDelete, "/auth/consents/"+id); status != http.StatusNotFound {
		t.Fatalf("DELETE again: %d, want 404", status)
	}
	o.wantNoLiveSessions(id)
	if o.introspect(tok["access_token"].(string), id, secret) {
		t.Fatal("a token granted under the withdrawn consent is still active")
	}
	if !asks(id, nil) {
		t.Fatal("a withdrawn consent still applies")
	}
}
