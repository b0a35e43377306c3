package provider_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
)

// TestPrivateKeyJWT: a client registered with its public keys
// authenticates with a JWT it signs (RFC 7523 §2.2, OpenID Connect Core
// §9) at the token, introspection and PAR endpoints; each assertion is
// used once, and one signed by another key, for another audience, by
// another issuer, expired or long-lived, or from a client registered with
// a secret, is invalid_client.
func TestPrivateKeyJWT(t *testing.T) {
	o := newOP(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	id, secret := o.register(provider.Spec{AuthMethod: provider.AuthPrivateKeyJWT, JWKS: string(set),
		GrantTypes: []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken, provider.GrantClientCredentials}})
	if secret != "" {
		t.Fatal("a private_key_jwt client got a secret")
	}
	secretClient, _ := o.register(provider.Spec{})

	sign := func(k *ecdsa.PrivateKey, kid string, c jwt.Claims) string {
		t.Helper()
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(s).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	n := 0
	good := func() jwt.Claims {
		n++
		now := o.Clock.Now()
		return jwt.Claims{Issuer: id, Subject: id, Audience: jwt.Audience{o.URL + provider.PathToken},
			Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-" + string(rune('a'+n))}
	}
	tokenWith := func(assertion string, extra url.Values) (int, string) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}
		for k, v := range extra {
			form[k] = v
		}
		status, e, _ := o.tokenError(form, "", "")
		return status, e
	}

	a := sign(key, "k1", good())
	if status, e := tokenWith(a, nil); status != http.StatusOK {
		t.Fatalf("a good assertion: %d %q", status, e)
	}
	if status, e := tokenWith(a, nil); status != http.StatusUnauthorized || e != "invalid_client" {
		t.Fatalf("the same assertion again: %d %q, want 401 invalid_client", status, e)
	}
	issuerAud := good()
	issuerAud.Audience = jwt.Audience{o.URL}
	if status, e := tokenWith(sign(key, "k1", issuerAud), nil); status != http.StatusOK {
		t.Fatalf("aud the issuer: %d %q", status, e)
	}
	for _, tt := range []struct {
		name   string
		signer *ecdsa.PrivateKey
		kid    string
		edit   func(*jwt.Claims)
		extra  url.Values
	}{
		{"signed by another key", other, "k1", nil, nil},
		{"an unknown kid", key, "k2", nil, nil},
		{"another audience", key, "k1", func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://other.example/token"} }, nil},
		{"iss is not sub", key, "k1", func(c *jwt.Claims) { c.Subject = "someone-else" }, nil},
		{"issued by a secret client", key, "k1", func(c *jwt.Claims) { c.Issuer, c.Subject = secretClient, secretClient }, nil},
		{"expired", key, "k1", func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(o.Clock.Now().Add(-time.Minute)) }, nil},
		{"lives an hour", key, "k1", func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(o.Clock.Now().Add(time.Hour)) }, nil},
		{"no exp", key, "k1", func(c *jwt.Claims) { c.Expiry = nil }, nil},
		{"no jti", key, "k1", func(c *jwt.Claims) { c.ID = "" }, nil},
		{"another client_id beside it", key, "k1", nil, url.Values{"client_id": {secretClient}}},
		{"a secret beside it", key, "k1", nil, url.Values{"client_id": {id}, "client_secret": {"x"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			if tt.edit != nil {
				tt.edit(&c)
			}
			status, e := tokenWith(sign(tt.signer, tt.kid, c), tt.extra)
			if status != http.StatusUnauthorized && status != http.StatusBadRequest || (e != "invalid_client" && e != "invalid_request") {
				t.Fatalf("%d %q, want invalid_client (or invalid_request for two methods)", status, e)
			}
		})
	}

	// The code flow with the assertion at the token endpoint, and
	// introspection with another one.
	code, verifier := o.code(id, nil)
	status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}, "client_assertion": {sign(key, "k1", good())},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, "", "")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("code exchange: %d %s", status, body)
	}
	introAud := good()
	introAud.Audience = jwt.Audience{o.URL + provider.PathIntrospect}
	status, _, body = o.postForm(provider.PathIntrospect, url.Values{"token": {tok.AccessToken}, "client_assertion": {sign(key, "k1", introAud)},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}}, "", "")
	if status != http.StatusOK || !json.Valid(body) || string(body) == "" || !strings.Contains(string(body), `"active":true`) {
		t.Fatalf("introspection: %d %s", status, body)
	}
}
