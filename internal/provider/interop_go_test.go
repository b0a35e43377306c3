package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
)

// TestGoClients drives the provider with clients nobody here wrote:
// golang.org/x/oauth2 for the code flow with PKCE and the refresh, and
// github.com/coreos/go-oidc for discovery, the ID token (signature, iss,
// aud, nonce, at_hash) and userinfo; then introspection, revocation and
// RP-initiated logout at the endpoints discovery names.
func TestGoClients(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)

	prov, err := oidc.NewProvider(ctx, o.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		PAR          string   `json:"pushed_authorization_request_endpoint"`
		Introspect   string   `json:"introspection_endpoint"`
		Revoke       string   `json:"revocation_endpoint"`
		EndSession   string   `json:"end_session_endpoint"`
		ISS          bool     `json:"authorization_response_iss_parameter_supported"`
		IDTokenAlgs  []string `json:"id_token_signing_alg_values_supported"`
		PKCEMethods  []string `json:"code_challenge_methods_supported"`
		ResponseType []string `json:"response_types_supported"`
	}
	if err := prov.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if !meta.ISS || meta.PAR == "" || len(meta.IDTokenAlgs) != 1 || meta.IDTokenAlgs[0] != "RS256" ||
		len(meta.PKCEMethods) != 1 || meta.PKCEMethods[0] != "S256" || len(meta.ResponseType) != 1 {
		t.Fatalf("discovery: %+v", meta)
	}

	conf := oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: prov.Endpoint(), RedirectURL: rpCallback,
		Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-42", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-42"))

	b := o.browser()
	q := callback(t, b.login(b.get(authURL), "allow"))
	if q.Get("state") != "state-42" || q.Get("iss") != o.URL {
		t.Fatalf("authorization response %v: want state and iss (RFC 9207)", q)
	}

	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idv := prov.Verifier(&oidc.Config{ClientID: id, Now: o.Clock.Now})
	idt, err := idv.Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != "nonce-42" || idt.Subject != o.UserID {
		t.Fatalf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var idc struct {
		SID      string   `json:"sid"`
		AuthTime int64    `json:"auth_time"`
		AMR      []string `json:"amr"`
		Username string   `json:"preferred_username"`
	}
	if err := idt.Claims(&idc); err != nil || idc.SID == "" || idc.AuthTime != o.Clock.Now().Unix() || idc.Username != testUser {
		t.Fatalf("ID token claims %+v, %v", idc, err)
	}
	s, err := o.session(idc.SID)
	if err != nil || s.ClientID != id || s.UserID != o.UserID || s.Device == "" {
		t.Fatalf("the registry's session %+v, %v: want the client's, with the browser's device", s, err)
	}

	info, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != o.UserID {
		t.Fatalf("userinfo %+v, %v", info, err)
	}

	// The refresh rotates through the engine.
	expired := *tok
	expired.Expiry = o.Clock.Now().Add(-1)
	next, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken {
		t.Fatal("the refresh did not rotate")
	}

	introspect := func(token string) map[string]any {
		t.Helper()
		status, _, body := o.postForm(provider.PathIntrospect, url.Values{"token": {token}}, id, secret)
		var out map[string]any
		if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("introspection: %d %s", status, body)
		}
		return out
	}
	if got := introspect(next.AccessToken); got["active"] != true || got["sub"] != o.UserID || got["client_id"] != id {
		t.Fatalf("introspection of the access token: %v", got)
	}
	if got := introspect(next.RefreshToken); got["active"] != true {
		t.Fatalf("introspection of the refresh token: %v", got)
	}
	if got := introspect(tok.RefreshToken); got["active"] != false {
		t.Fatalf("introspection of the spent refresh token: %v", got)
	}

	// Revoking the refresh token ends the session, and every token of it.
	if status, _, body := o.postForm(provider.PathRevoke, url.Values{"token": {next.RefreshToken}}, id, secret); status != http.StatusOK {
		t.Fatalf("revocation: %d %s", status, body)
	}
	if got := introspect(next.AccessToken); got["active"] != false {
		t.Fatalf("introspection after revocation: %v", got)
	}
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Fatal("the revoked refresh token still refreshes")
	}
	if _, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
		t.Fatal("userinfo accepts a token of the revoked session")
	}

	// RP-initiated logout of a new session, with its ID token as the hint.
	q = callback(t, b.login(b.get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier))), "allow"))
	tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ = tok.Extra("id_token").(string)
	idt, _ = idv.Verify(ctx, rawID)
	_ = idt.Claims(&idc)
	if _, err := o.App.Clients.Get(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	p := b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {rawID}}.Encode())
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "signed out") {
		t.Fatalf("end-session: %d %s", p.Status, p.Body)
	}
	if s, _ := o.session(idc.SID); !s.Revoked() {
		t.Fatal("end-session left the session live")
	}
}

// TestIDTokenAlgorithms: ID tokens are RS256 by default, ES256 or EdDSA
// with id_token_signing_alg, discovery says which, and go-oidc verifies
// each from the JWKS; access tokens keep signing_alg.
func TestIDTokenAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			o := newOPWith(t, func(c *config.Resolved) { c.IDTokenSigningAlg = alg })
			id, secret := o.register(provider.Spec{})
			ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
			prov, err := oidc.NewProvider(ctx, o.URL)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := prov.Claims(&meta); err != nil || len(meta.Algs) != 1 || meta.Algs[0] != alg {
				t.Fatalf("discovery says %v, %v", meta.Algs, err)
			}
			code, verifier := o.code(id, nil)
			status, tok := o.exchange(code, verifier, id, secret)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, tok)
			}
			idt, err := prov.Verifier(&oidc.Config{ClientID: id, Now: o.Clock.Now}).Verify(ctx, tok["id_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if err := idt.VerifyAccessToken(tok["access_token"].(string)); err != nil {
				t.Fatalf("at_hash under %s: %v", alg, err)
			}
		})
	}
}

// TestDocGoClient runs the Go client of docs/provider.md as written: the
// two blocks there are copied from this function, and the browser step
// between them is the harness's.
func TestDocGoClient(t *testing.T) {
	o := newOP(t, startingNow)
	clientID, clientSecret := o.register(provider.Spec{})
	issuer, redirectURL := o.URL, rpCallback
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	// signIn is the relying party's sign-in; browse sends the browser to
	// the authorization URL and returns the callback request it comes back
	// with.
	signIn := func(state, nonce string, browse func(authURL string) *http.Request) error {
		provider, err := oidc.NewProvider(ctx, issuer)
		if err != nil {
			return err
		}
		conf := oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirectURL,
			Scopes:       []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess},
		}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
		r := browse(authURL)
		q := r.URL.Query()
		if q.Get("state") != state || q.Get("iss") != issuer {
			return errors.New("not the answer to our request") // RFC 9207: mix-up
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			return err
		}
		rawID, _ := tok.Extra("id_token").(string)
		idToken, err := provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(ctx, rawID)
		if err != nil || idToken.Nonce != nonce {
			return errors.New("bad ID token")
		}
		return nil
	}
	browse := func(tamper func(string) string) func(string) *http.Request {
		return func(authURL string) *http.Request {
			b := o.browser()
			p := b.login(b.get(authURL), "allow")
			return httptest.NewRequest(http.MethodGet, tamper(p.Location), nil)
		}
	}
	if err := signIn("state-doc", "nonce-doc", browse(func(s string) string { return s })); err != nil {
		t.Fatal(err)
	}
	// The mix-up check has teeth: an answer naming another issuer is refused.
	otherIssuer := func(s string) string {
		return strings.Replace(s, url.QueryEscape(issuer), url.QueryEscape("https://evil.example"), 1)
	}
	if err := signIn("state-2", "nonce-2", browse(otherIssuer)); err == nil {
		t.Fatal("an authorization response from another issuer was taken")
	}
}
