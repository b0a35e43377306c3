package authapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid, Typ, Alg string }
	json.Unmarshal(raw, &hdr)
	if hdr.Typ != "at+jwt" {
		t.Fatalf("typ = %q", hdr.Typ)
	}
	return hdr.Kid
}

func (g *gh) jwksKids(t *testing.T) []string {
	t.Helper()
	r := doWith(t, http.DefaultClient, g.URL, "GET", "/.well-known/jwks.json", nil)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %v", r.StatusCode, r.Header)
	}
	var set struct {
		Keys []struct {
			Kid, Alg, Use, D string
		}
	}
	r.json(t, &set)
	var kids []string
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("JWKS exposes a private key")
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestKeyRotation: a rotated-in key is published before it signs, tokens
// signed by the old key keep verifying after rotation, and the old key is
// unpublished only once its last token has expired.
func TestKeyRotation(t *testing.T) {
	g := newGH(t)
	ctx := context.Background()
	old := g.bearerLogin()
	oldKid := kidOf(t, old.AccessToken)

	next, err := g.Keys.Rotate(ctx, token.EdDSA, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	kids := g.jwksKids(t)
	if len(kids) != 2 || !contains(kids, next.KID) || !contains(kids, oldKid) {
		t.Fatalf("JWKS after rotate = %v, want old %s and next %s", kids, oldKid, next.KID)
	}
	// Published but not yet signing.
	if kid := kidOf(t, g.bearerLogin().AccessToken); kid != oldKid {
		t.Fatalf("new key signs before its activation: %s", kid)
	}

	// The last token the old key signs, a second before the switch.
	g.Clock.Advance(10*time.Minute - time.Second)
	lastOld := g.bearerLogin()
	if kid := kidOf(t, lastOld.AccessToken); kid != oldKid {
		t.Fatalf("old key should sign until activation, got %s", kid)
	}
	g.Clock.Advance(2 * time.Second)
	fresh := g.bearerLogin()
	if kid := kidOf(t, fresh.AccessToken); kid != next.KID {
		t.Fatalf("after activation tokens carry kid %s, want %s", kid, next.KID)
	}
	g.Clock.Advance(2 * time.Minute)
	for _, at := range []string{old.AccessToken, lastOld.AccessToken, fresh.AccessToken} {
		r := doWith(t, http.DefaultClient, g.URL, "GET", "/auth/session", nil, "Authorization", "Bearer "+at)
		if at == old.AccessToken {
			// Issued 12 minutes ago: expired by its own exp, not by rotation.
			if r.StatusCode != 401 {
				t.Fatalf("a 12-minute-old token verified")
			}
			continue
		}
		if r.StatusCode != 200 {
			t.Fatalf("token after rotation: %d %s", r.StatusCode, r.Body)
		}
	}
	// Once every token of the old key has expired, it leaves the JWKS.
	g.Clock.Advance(accessTTL + time.Minute)
	if kids := g.jwksKids(t); contains(kids, oldKid) || !contains(kids, next.KID) {
		t.Fatalf("JWKS after old key expiry = %v", kids)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
