package provider

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// FuzzCheckAuthorize: whatever an authorization request's parameters,
// checking it never panics, and a request it accepts holds the rules: an
// S256 challenge, scopes and audiences the client registered.
func FuzzCheckAuthorize(f *testing.F) {
	for _, seed := range []string{
		"response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
		"response_type=code&scope=openid+profile&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&resource=https://api.example&prompt=login&max_age=0",
		"response_type=token&scope=openid",
		"response_type=code&scope=admin&code_challenge_method=plain&code_challenge=x",
		"prompt=none+login&scope=%00&state=a&state=b",
	} {
		f.Add(seed)
	}
	client := store.Client{ID: "c", GrantTypes: []string{GrantAuthorizationCode}, Scopes: []string{"openid", "profile"},
		Audiences: []string{"https://api.example"}}
	p := &Provider{}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		pr, aerr := p.checkAuthorize(client, q, false)
		if aerr != nil {
			if aerr.code == "" {
				t.Fatal("a refusal without an error code")
			}
			return
		}
		if !challengeFormat(pr.CodeChallenge) || q.Get("code_challenge_method") != "S256" || q.Get("response_type") != "code" {
			t.Fatalf("accepted %q without PKCE S256 and response_type code", raw)
		}
		for _, sc := range pr.Scope {
			if !slices.Contains(client.Scopes, sc) {
				t.Fatalf("accepted scope %q", sc)
			}
		}
		for _, a := range pr.Audience {
			if !slices.Contains(client.Audiences, a) {
				t.Fatalf("accepted audience %q", a)
			}
		}
	})
}

// FuzzUnseal: a login or consent form's sealed request that this provider
// did not seal for this browser never opens, whatever the bytes.
func FuzzUnseal(f *testing.F) {
	p := &Provider{d: Deps{Clock: clock.NewFake(time.Unix(1_700_000_000, 0)), Log: slog.New(slog.DiscardHandler)},
		pending: bytes.Repeat([]byte{1}, 32)}
	good, err := p.seal(pending{ClientID: "c", Bind: "B", Expires: time.Unix(1_700_000_600, 0)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, "B")
	f.Add(good, "b")
	f.Add(good, "B\"") // sent as B: the fuzzer found net/http drops the quote
	f.Add("", "")
	f.Add("AAAA", "B")
	f.Fuzz(func(t *testing.T, s, bind string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.AddCookie(&http.Cookie{Name: bindCookie, Value: bind})
		// What the request carries: net/http drops the characters a cookie
		// value may not hold (RFC 6265 §4.1.1), so `B"` is sent as B.
		sent := ""
		if c, err := r.Cookie(bindCookie); err == nil {
			sent = c.Value
		}
		pr, err := p.unseal(r, s)
		// Only a genuine seal (the seed's, or the seed made by another
		// fuzzing worker: the nonce is random) opens, with its binding.
		if err == nil && (sent != "B" || pr.ClientID != "c" || pr.Bind != "B") {
			t.Fatalf("opened %q with binding %q (sent as %q): %+v", s, bind, sent, pr)
		}
	})
}
