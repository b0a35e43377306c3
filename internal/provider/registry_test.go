package provider

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// edKeys is a public JWK Set; edPrivate the same key with its private
// half (RFC 8037 §A.1).
const (
	edKeys    = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
	edPrivate = `{"keys":[{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`
)

// TestValidate: what a registration may ask for, and each refusal with
// the rule it breaks.
func TestValidate(t *testing.T) {
	ok := Spec{Name: "app", RedirectURIs: []string{"https://app.example.com/callback"}}
	with := func(f func(*Spec)) Spec { s := ok; f(&s); return s }
	for _, c := range []struct {
		name string
		spec Spec
		bad  string // "" when accepted; else a part of the detail
	}{
		{"confidential web app", ok, ""},
		{"public native app, loopback IP", with(func(s *Spec) {
			s.Public, s.RedirectURIs = true, []string{"http://127.0.0.1/callback", "http://[::1]:8000/cb"}
		}), ""},
		{"localhost over http", with(func(s *Spec) { s.RedirectURIs = []string{"http://localhost:3000/cb"} }), ""},
		{"private-use scheme", with(func(s *Spec) { s.Public, s.RedirectURIs = true, []string{"com.example.app:/oauth2redirect"} }), ""},
		{"client credentials only", with(func(s *Spec) { s.GrantTypes, s.RedirectURIs = []string{GrantClientCredentials}, nil }), ""},
		{"no name", with(func(s *Spec) { s.Name = " " }), "client_name"},
		{"control character in name", with(func(s *Spec) { s.Name = "a\nb" }), "client_name"},
		{"no redirect URI", with(func(s *Spec) { s.RedirectURIs = nil }), "at least one redirect_uri"},
		{"relative redirect", with(func(s *Spec) { s.RedirectURIs = []string{"/callback"} }), "absolute"},
		{"fragment", with(func(s *Spec) { s.RedirectURIs = []string{"https://app.example.com/cb#x"} }), "fragment"},
		{"wildcard", with(func(s *Spec) { s.RedirectURIs = []string{"https://*.example.com/cb"} }), "wildcard"},
		{"http to a remote host", with(func(s *Spec) { s.RedirectURIs = []string{"http://app.example.com/cb"} }), "loopback"},
		{"javascript scheme", with(func(s *Spec) { s.RedirectURIs = []string{"javascript:alert(1)"} }), "not allowed"},
		{"custom scheme without a domain", with(func(s *Spec) { s.RedirectURIs = []string{"myapp:/cb"} }), "reversed domain"},
		{"userinfo", with(func(s *Spec) { s.RedirectURIs = []string{"https://user@app.example.com/cb"} }), "userinfo"},
		{"implicit grant", with(func(s *Spec) { s.GrantTypes = []string{"implicit"} }), "not supported"},
		{"password grant", with(func(s *Spec) { s.GrantTypes = []string{"password"} }), "not supported"},
		{"refresh without code", with(func(s *Spec) { s.GrantTypes = []string{GrantRefreshToken} }), "needs authorization_code"},
		{"public client credentials", with(func(s *Spec) { s.Public, s.GrantTypes = true, []string{GrantClientCredentials} }), "public client"},
		{"public with a secret method", with(func(s *Spec) { s.Public, s.AuthMethod = true, AuthSecretBasic }), "none"},
		{"unknown auth method", with(func(s *Spec) { s.AuthMethod = "tls_client_auth" }), "not supported"},
		{"scope with a space", with(func(s *Spec) { s.Scopes = []string{"read write"} }), "scope token"},
		{"scope with a quote", with(func(s *Spec) { s.Scopes = []string{`re"ad`} }), "scope token"},
		{"relative audience", with(func(s *Spec) { s.Audiences = []string{"api"} }), "audience"},
		{"http back-channel URI", with(func(s *Spec) { s.BackchannelLogoutURI = "http://rp.example.com/bc" }), "backchannel_logout_uri"},
		{"bad post-logout URI", with(func(s *Spec) { s.PostLogoutRedirectURIs = []string{"https://rp.example.com/*"} }), "post_logout_redirect_uri"},
		{"private_key_jwt with its keys", with(func(s *Spec) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, edKeys }), ""},
		{"private_key_jwt without keys", with(func(s *Spec) { s.AuthMethod = AuthPrivateKeyJWT }), "jwks"},
		{"private_key_jwt with a private key", with(func(s *Spec) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, edPrivate }), "public key"},
		{"private_key_jwt with garbage", with(func(s *Spec) { s.AuthMethod, s.JWKS = AuthPrivateKeyJWT, "{" }), "JWK Set"},
		{"keys with a secret method", with(func(s *Spec) { s.JWKS = edKeys }), "private_key_jwt clients only"},
		{"token lifetimes", with(func(s *Spec) { s.AccessTokenTTL, s.RefreshTokenTTL = time.Minute, time.Hour }), ""},
		{"negative lifetime", with(func(s *Spec) { s.AccessTokenTTL = -time.Second }), "lifetimes"},
		{"sub-second lifetime", with(func(s *Spec) { s.RefreshTokenTTL = time.Millisecond }), "lifetimes"},
		{"fractional lifetime", with(func(s *Spec) { s.AccessTokenTTL = 1500 * time.Millisecond }), "lifetimes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := validate(c.spec)
			switch {
			case c.bad == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.bad != "" && (err == nil || !errors.Is(err, ErrInvalidMetadata) || !strings.Contains(err.Error(), c.bad)):
				t.Fatalf("got %v, want ErrInvalidMetadata about %q", err, c.bad)
			case c.bad == "" && c.spec.Public && (got.TokenEndpointAuthMethod != AuthNone):
				t.Fatalf("public client authenticates with %q", got.TokenEndpointAuthMethod)
			}
		})
	}
	c, _ := validate(ok)
	if !slices.Equal(c.GrantTypes, []string{GrantAuthorizationCode, GrantRefreshToken}) || !slices.Equal(c.Scopes, DefaultScopes) ||
		c.TokenEndpointAuthMethod != AuthSecretBasic {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestMatchRedirect: exact string match only, except the port of a
// loopback IP literal over http (RFC 8252 §7.3).
func TestMatchRedirect(t *testing.T) {
	c := store.Client{RedirectURIs: []string{"https://app.example.com/cb", "http://127.0.0.1/native", "http://[::1]/v6", "http://localhost:3000/dev"}}
	for _, tt := range []struct {
		uri  string
		want bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com/cb/", false},
		{"https://app.example.com/cb?x=1", false},
		{"https://APP.example.com/cb", false},
		{"https://app.example.com/cb#f", false},
		{"https://app.example.com:443/cb", false},
		{"https://app.example.com.evil.test/cb", false},
		{"http://app.example.com/cb", false},
		{"http://127.0.0.1:51004/native", true},
		{"http://127.0.0.1/native", true},
		{"http://127.0.0.1:51004/native/x", false},
		{"http://127.0.0.1:51004/native?x=1", false},
		{"http://127.0.0.1:51004/native#x", false},
		{"https://127.0.0.1:51004/native", false},
		{"http://user@127.0.0.1:51004/native", false},
		{"http://[::1]:8080/v6", true},
		{"http://127.0.0.2:80/native", false},
		{"http://localhost:3000/dev", true},
		{"http://localhost:3001/dev", false}, // localhost is no IP literal: exact match only
	} {
		if got := MatchRedirect(c, tt.uri); got != tt.want {
			t.Errorf("MatchRedirect(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

// TestCheckSecret: the right secret only, never for a public client.
func TestCheckSecret(t *testing.T) {
	secret := newSecret()
	c := store.Client{SecretHash: hashSecret(secret)}
	if !CheckSecret(c, secret) || CheckSecret(c, secret+"x") || CheckSecret(c, "") || CheckSecret(c, strings.ToLower(secret)) {
		t.Fatal("CheckSecret accepts the wrong secret or refuses the right one")
	}
	c.Public = true
	if CheckSecret(c, secret) {
		t.Fatal("a public client has no secret")
	}
	if len(secret) < 43 {
		t.Fatalf("secret of %d characters", len(secret))
	}
}
