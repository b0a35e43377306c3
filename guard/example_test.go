package guard_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-auth/gatehouse/guard"
)

// exampleIssuer stands in for Gatehouse: a key, its JWKS, and tokens.
// It signs with Ed25519 (EdDSA), whose signatures have one spelling; an
// ES256 issuer must write low-S signatures, which the guard insists on
// and go-jose's own ECDSA signer does not guarantee.
type exampleIssuer struct {
	key  ed25519.PrivateKey
	jwks []byte
}

func newExampleIssuer() *exampleIssuer {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: pub, KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"}}})
	return &exampleIssuer{key: key, jwks: jwks}
}

func (i *exampleIssuer) token(roles ...string) string {
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: i.key, KeyID: "key-1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	now := time.Now()
	raw, _ := jwt.Signed(signer).Claims(map[string]any{
		"iss": "https://auth.example.com", "aud": "https://api.example.com",
		"sub": "user-42", "sid": "session-7", "jti": "token-1", "preferred_username": "alice",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"roles": roles, "scope": "api",
	}).Serialize()
	return raw
}

func ExampleGuard_Middleware() {
	issuer := newExampleIssuer()

	keys, err := guard.StaticKeys(issuer.jwks) // or guard.RemoteJWKS(".../.well-known/jwks.json", ...)
	if err != nil {
		panic(err)
	}
	g, err := guard.New(guard.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Keys:     keys,
		// Revocations: a *guard.Revocations fed by Gatehouse's feed; nil
		// (as here) means a logged-out session's tokens live until exp.
	})
	if err != nil {
		panic(err)
	}

	api := http.NewServeMux()
	api.Handle("GET /me", g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := guard.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello %s", p.Username)
	})))

	for _, auth := range []string{"Bearer " + issuer.token("editor"), "", "Bearer not.a.token"} {
		r := httptest.NewRequest("GET", "https://api.example.com/me", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
		if w.Code == 200 {
			fmt.Println(w.Body.String())
		}
	}
	// Output:
	// 200
	// hello alice
	// 401 Bearer
	// 401 Bearer error="invalid_token", error_description="the access token is malformed"
}

func ExampleRequire() {
	issuer := newExampleIssuer()
	keys, _ := guard.StaticKeys(issuer.jwks)
	g, _ := guard.New(guard.Config{Issuer: "https://auth.example.com", Audience: "https://api.example.com", Keys: keys})

	adminOnly := guard.Require(guard.Role("admin"), guard.Scope("api"))
	h := g.Middleware(adminOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "welcome, admin")
	})))

	for _, roles := range [][]string{{"admin"}, {"editor"}} {
		r := httptest.NewRequest("DELETE", "https://api.example.com/users/9", nil)
		r.Header.Set("Authorization", "Bearer "+issuer.token(roles...))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(roles, " ", w.Code, " ", w.Header().Get("WWW-Authenticate"))))
	}
	// Output:
	// [admin] 200
	// [editor] 403 Bearer error="insufficient_scope", scope="api"
}

func ExampleRemoteJWKS() {
	issuer := newExampleIssuer()
	// Gatehouse serves its keys at /.well-known/jwks.json.
	jwksServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(issuer.jwks)
	}))
	defer jwksServer.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop() // ends the background refresh
	keys := guard.RemoteJWKS(jwksServer.URL+"/.well-known/jwks.json", guard.RemoteOptions{})
	if err := keys.Start(ctx); err != nil {
		fmt.Println("key set not reachable yet:", err)
	}
	g, _ := guard.New(guard.Config{Issuer: "https://auth.example.com", Audience: "https://api.example.com", Keys: keys})

	p, err := g.Verify(ctx, issuer.token("editor"))
	fmt.Println(p.Subject, p.SessionID, err, keys.Fetches())
	// Output:
	// user-42 session-7 <nil> 1
}
