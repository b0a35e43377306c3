package app_test

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest"
	"github.com/gatehouse-auth/gatehouse/internal/app/apptest/served"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// gatehouse is a whole Gatehouse as serve builds it, on a loopback HTTP
// server.
type gatehouse struct{ *served.Server }

func serve(t *testing.T, signingAlg, idAlg string) *gatehouse {
	t.Helper()
	srv := served.Reserve(t)
	cfg := apptest.Config(t, srv.URL)
	if signingAlg != "" {
		cfg.SigningAlg = signingAlg
	}
	if idAlg != "" {
		cfg.IDTokenSigningAlg = idAlg
	}
	srv.Start(t, cfg, app.Options{Create: true, Limiter: apptest.NoLimits{}})
	return &gatehouse{srv}
}

func (s *gatehouse) get(t *testing.T, path, bearer string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestJWKSPublishesBothPurposes: the one JWKS the server serves holds the
// signing access key, with signing_alg (ES256 by default), and the
// signing ID-token key, with id_token_signing_alg (RS256 by default),
// public halves only.
func TestJWKSPublishesBothPurposes(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		signingAlg, idAlg           string
		wantAccessAlg, wantIDKeyAlg string
	}{
		{"defaults", "", "", token.ES256, token.RS256},
		{"configured", token.RS256, token.EdDSA, token.RS256, token.EdDSA},
		{"one algorithm for both", token.ES256, token.ES256, token.ES256, token.ES256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, tt.signingAlg, tt.idAlg)
			ctx := t.Context()
			accessKey, err := s.App.Keys.Signing(ctx)
			if err != nil {
				t.Fatal(err)
			}
			idKey, err := s.App.IDKeys.Signing(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if accessKey.Purpose != token.PurposeAccess || idKey.Purpose != token.PurposeID || accessKey.KID == idKey.KID {
				t.Fatalf("access key %s (%s), id key %s (%s)", accessKey.KID, accessKey.Purpose, idKey.KID, idKey.Purpose)
			}

			st, body := s.get(t, "/.well-known/jwks.json", "")
			if st != http.StatusOK {
				t.Fatalf("JWKS: %d %s", st, body)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(body, &set); err != nil {
				t.Fatalf("JWKS %s: %v", body, err)
			}
			want := map[string]string{accessKey.KID: tt.wantAccessAlg, idKey.KID: tt.wantIDKeyAlg}
			if len(set.Keys) != len(want) {
				t.Fatalf("JWKS has %d keys, want one access and one id key: %s", len(set.Keys), body)
			}
			for _, k := range set.Keys {
				alg, ok := want[k.KeyID]
				if !ok || k.Algorithm != alg || k.Use != "sig" || !k.IsPublic() {
					t.Errorf("JWKS key %s alg %s use %q public %v; want one of %v, use sig, public", k.KeyID, k.Algorithm, k.Use, k.IsPublic(), want)
				}
				delete(want, k.KeyID)
			}
		})
	}
}

// TestGuardTrustsAccessKeysOnly: the process's guard, and so every
// endpoint it protects, trusts only the access keys, although the JWKS
// publishes the ID-token keys beside them. A JWT signed by the ID-token
// key is refused whatever its typ, with access-token claims that would
// otherwise verify; a resource server's guard, which trusts the whole
// JWKS, refuses it too, by its typ (RFC 8725 §3.11).
func TestGuardTrustsAccessKeysOnly(t *testing.T) {
	s := serve(t, "", "")
	ctx := t.Context()
	const user, pass = "alice", "correct horse battery staple"
	if _, err := s.App.Engine.AddUser(ctx, session.CLI, user, pass, []string{"reader"}); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(s.URL+"/auth/login", "application/json",
		strings.NewReader(`{"username":"`+user+`","password":"`+pass+`","mode":"bearer"}`))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	if st, body := s.get(t, "/auth/session", login.AccessToken); st != http.StatusOK {
		t.Fatalf("/auth/session with the access token: %d %s", st, body)
	}
	p, err := s.App.Guard().Verify(ctx, login.AccessToken)
	if err != nil {
		t.Fatal(err)
	}

	// The same claims as the real access token, signed by the ID-token key.
	now := time.Now()
	claims := token.Claims{Issuer: s.URL, Subject: p.Subject, Audience: jwt.Audience{s.URL},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now),
		ID: "forged", ClientID: p.ClientID, SessionID: p.SessionID, AuthTime: p.AuthTime.Unix(), Username: user, Roles: []string{"admin"}}
	idKey, err := s.App.IDKeys.Signing(ctx)
	if err != nil {
		t.Fatal(err)
	}
	asIDToken, err := idKey.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	// The private half of the ID-token key, signing with typ at+jwt as the
	// access keys do: only the kid then tells it from an access key.
	asAccessToken := signWithStored(t, s.App, idKey.KID, claims)

	remote, err := guard.New(guard.Config{Issuer: s.URL, Audience: s.URL,
		Keys: guard.RemoteJWKS(s.URL+"/.well-known/jwks.json", guard.RemoteOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Verify(ctx, login.AccessToken); err != nil {
		t.Fatalf("a resource server's guard refuses the access token: %v", err)
	}
	for _, tt := range []struct {
		name string
		raw  string
		// wantRemote is what a guard over the whole JWKS says; nil is not
		// checked. Such a guard finds the ID-token key, and refuses an ID
		// token by its typ: a token with typ at+jwt signed by the
		// ID-token key would pass it, but no key of Gatehouse's signs
		// with a typ other than its purpose's.
		wantRemote error
	}{
		{"ID-token key, typ JWT", asIDToken, guard.ErrClaims},
		{"ID-token key, typ at+jwt", asAccessToken, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.App.Guard().Verify(ctx, tt.raw); !errors.Is(err, guard.ErrSignature) {
				t.Errorf("the process's guard: %v, want %v (the key is not an access key)", err, guard.ErrSignature)
			}
			if st, body := s.get(t, "/auth/session", tt.raw); st != http.StatusUnauthorized {
				t.Errorf("/auth/session: %d %s, want 401", st, body)
			}
			if st, body := s.get(t, "/admin/users", tt.raw); st != http.StatusUnauthorized {
				t.Errorf("/admin/users: %d %s, want 401", st, body)
			}
			if tt.wantRemote == nil {
				return
			}
			if _, err := remote.Verify(ctx, tt.raw); !errors.Is(err, tt.wantRemote) {
				t.Errorf("a resource server's guard: %v, want %v", err, tt.wantRemote)
			}
		})
	}
}

// signWithStored signs claims with the stored private key kid (the test
// configuration has no key_encryption_key, so it is the plain DER), with
// the access tokens' typ.
func signWithStored(t *testing.T, a *app.App, kid string, claims any) string {
	t.Helper()
	stored, err := a.DB.SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range stored {
		if sk.KID != kid {
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(sk.Private)
		if err != nil {
			t.Fatal(err)
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.Alg),
			Key: jose.JSONWebKey{Key: priv.(crypto.Signer), KeyID: kid}},
			(&jose.SignerOptions{}).WithType(token.TypeAccessToken))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	t.Fatalf("no stored key %s", kid)
	return ""
}
