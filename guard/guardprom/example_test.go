package guardprom_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/guard/guardprom"
)

// ExampleNew is the Metrics section of docs/guard.md: a guard whose
// metrics Prometheus scrapes at /metrics.
func ExampleNew() {
	keys, token := exampleKeys()
	notes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "notes") })

	// One Collector per guard: the guard reports to it (Config.Metrics),
	// and Prometheus collects it.
	metrics := guardprom.New()
	g, err := guard.New(guard.Config{
		Issuer:   "https://auth.example.com",
		Audience: "https://api.example.com",
		Keys:     keys,
		Metrics:  metrics,
	})
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	reg.MustRegister(metrics)

	api := http.NewServeMux()
	api.Handle("GET /notes", g.Middleware(notes))
	api.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	for _, path := range []string{"/notes", "/notes", "/metrics"} {
		r := httptest.NewRequest("GET", "https://api.example.com"+path, nil)
		if path == "/notes" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		sc := bufio.NewScanner(w.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "gatehouse_guard_cache_hits_total") || strings.HasPrefix(l, "gatehouse_guard_verified_total") {
				fmt.Println(l)
			}
		}
	}
	// Output:
	// gatehouse_guard_cache_hits_total 1
	// gatehouse_guard_verified_total 1
}

// exampleKeys stands in for Gatehouse's keys: a key source, and a token
// signed with its key.
func exampleKeys() (guard.KeySource, string) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: "key-1", Algorithm: "EdDSA", Use: "sig"}}})
	keys, err := guard.StaticKeys(jwks)
	if err != nil {
		panic(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: key, KeyID: "key-1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	now := time.Now()
	tok, _ := jwt.Signed(signer).Claims(map[string]any{
		"iss": "https://auth.example.com", "aud": "https://api.example.com", "sub": "user-42", "sid": "session-7",
		"jti": "token-1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}).Serialize()
	return keys, tok
}
