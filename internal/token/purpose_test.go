package token_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/clock"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// rings opens a fresh SQLite store and returns an access and an ID-token
// keyring over it, as the composition root builds them, both under enc.
func rings(t *testing.T, enc token.Encryption) (access, id *token.Keyring, db *sqlite.DB, clk *clock.Fake) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk = clock.NewFake(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	access, id = ringFor(t, token.PurposeAccess, db, clk, enc), ringFor(t, token.PurposeID, db, clk, enc)
	return access, id, db, clk
}

func ringFor(t *testing.T, purpose string, ks token.KeyStore, clk clock.Clock, enc token.Encryption) *token.Keyring {
	t.Helper()
	r, err := token.NewEncryptedKeyringFor(purpose, ks, clk, ttl+30*time.Second, token.DefaultReload, enc)
	if err != nil {
		t.Fatal(err)
	}
	if r.Purpose() != purpose {
		t.Fatalf("Purpose() = %q, want %q", r.Purpose(), purpose)
	}
	if _, err := r.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSigning(t *testing.T, r *token.Keyring) *token.Key {
	t.Helper()
	k, err := r.Signing(context.Background())
	if err != nil {
		t.Fatalf("%s keyring: %v", r.Purpose(), err)
	}
	return k
}

func kidsOf(t *testing.T, set jose.JSONWebKeySet) []string {
	t.Helper()
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	slices.Sort(kids)
	return kids
}

// TestKeySign: a key of either purpose signs arbitrary claims with every
// algorithm, and the JWS names the key's alg and kid and the typ of its
// purpose: at+jwt for access keys (RFC 9068 §2.1), JWT for ID-token keys,
// so the two kinds of token cannot be taken for one another (RFC 8725
// §3.11). The signature verifies with the key's public half, and an ES256
// signature has a low S, as the guard requires of access tokens.
func TestKeySign(t *testing.T) {
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	claims := map[string]any{"iss": "https://gatehouse.example", "sub": "u1", "nonce": "n-0S6_WzA2Mj"}
	for _, tt := range []struct {
		purpose, wantTyp string
	}{
		{token.PurposeAccess, "at+jwt"},
		{token.PurposeID, "JWT"},
	} {
		for _, alg := range token.Algorithms {
			t.Run(tt.purpose+"/"+alg, func(t *testing.T) {
				access, id, _, _ := rings(t, token.Encryption{})
				r := map[string]*token.Keyring{token.PurposeAccess: access, token.PurposeID: id}[tt.purpose]
				if err := r.Ensure(t.Context(), alg); err != nil {
					t.Fatal(err)
				}
				k := mustSigning(t, r)
				if k.Purpose != tt.purpose || k.Alg != alg {
					t.Fatalf("signing key %s is %s %s, want %s %s", k.KID, k.Purpose, k.Alg, tt.purpose, alg)
				}
				rounds := 1
				if alg == token.ES256 {
					rounds = 64 // about half would have a high S without lows.go
				}
				for i := range rounds {
					raw, err := k.Sign(claims)
					if err != nil {
						t.Fatal(err)
					}
					jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
					if err != nil {
						t.Fatal(err)
					}
					h := jws.Signatures[0].Protected
					if h.Algorithm != alg || h.KeyID != k.KID || h.ExtraHeaders[jose.HeaderType] != tt.wantTyp {
						t.Fatalf("header alg %q kid %q typ %v; want %s %s %s", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType], alg, k.KID, tt.wantTyp)
					}
					payload, err := jws.Verify(k.Public())
					if err != nil {
						t.Fatalf("signature %d does not verify: %v", i, err)
					}
					var got map[string]any
					if err := json.Unmarshal(payload, &got); err != nil || got["nonce"] != claims["nonce"] || got["sub"] != "u1" {
						t.Fatalf("payload %s, %v", payload, err)
					}
					if alg == token.ES256 {
						sig, err := base64.RawURLEncoding.DecodeString(raw[strings.LastIndex(raw, ".")+1:])
						if err != nil || len(sig) != 64 {
							t.Fatalf("signature %x, %v", sig, err)
						}
						if new(big.Int).SetBytes(sig[32:]).Cmp(half) > 0 {
							t.Fatalf("signature %d has a high S", i)
						}
					}
				}
			})
		}
	}
}

// TestKeySignRefusesNonObject: claims must be a JSON object.
func TestKeySignRefusesNonObject(t *testing.T) {
	_, id, _, _ := rings(t, token.Encryption{})
	if err := id.Ensure(t.Context(), token.EdDSA); err != nil {
		t.Fatal(err)
	}
	for _, c := range []any{"a string", 42, []string{"a"}} {
		if raw, err := mustSigning(t, id).Sign(c); err == nil {
			t.Errorf("Sign(%#v) = %s, want an error", c, raw)
		}
	}
}

// TestPurposesRotateIndependently: the access and the ID-token keyring
// over one store each ensure, rotate and publish their own keys only. A
// rotation of one neither retires nor replaces the other's signing key,
// and each keyring's Ensure looks at its own keys, whatever algorithm the
// other signs with.
func TestPurposesRotateIndependently(t *testing.T) {
	ctx := context.Background()
	access, id, db, clk := rings(t, token.Encryption{})

	steps := []struct {
		name string
		do   func(t *testing.T) // changes the keys
		// wantAccessAlg, wantIDAlg: the algorithm each keyring signs with
		// after the step.
		wantAccessAlg, wantIDAlg string
		// accessChanged, idChanged: whether each keyring's signing key is
		// another than before the step.
		accessChanged, idChanged bool
	}{
		{"ensure access", func(t *testing.T) { must(t, access.Ensure(ctx, token.ES256)) }, token.ES256, "", true, false},
		{"ensure id beside it", func(t *testing.T) { must(t, id.Ensure(ctx, token.RS256)) }, token.ES256, token.RS256, false, true},
		{"ensure both again: nothing to do", func(t *testing.T) {
			must(t, access.Ensure(ctx, token.ES256))
			must(t, id.Ensure(ctx, token.RS256))
		}, token.ES256, token.RS256, false, false},
		{"rotate id", func(t *testing.T) { _, err := id.Rotate(ctx, token.ES256, 0); must(t, err) }, token.ES256, token.ES256, false, true},
		{"rotate access", func(t *testing.T) { _, err := access.Rotate(ctx, token.EdDSA, 0); must(t, err) }, token.EdDSA, token.ES256, true, false},
		{"ensure id with another alg", func(t *testing.T) { must(t, id.Ensure(ctx, token.RS256)) }, token.EdDSA, token.RS256, false, true},
		{"ensure access with the id keys' alg", func(t *testing.T) { must(t, access.Ensure(ctx, token.RS256)) }, token.RS256, token.RS256, true, false},
	}
	var prevAccess, prevID string
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do(t)
			clk.Advance(time.Second)
			var a, i *token.Key
			a = mustSigning(t, access)
			if st.wantIDAlg != "" {
				i = mustSigning(t, id)
			} else if _, err := id.Signing(ctx); !errors.Is(err, token.ErrNoKey) {
				t.Fatalf("id keyring before any id key: %v, want ErrNoKey", err)
			}
			if a.Alg != st.wantAccessAlg || a.Purpose != token.PurposeAccess {
				t.Errorf("access signs with %s %s, want access %s", a.Purpose, a.Alg, st.wantAccessAlg)
			}
			if (a.KID != prevAccess) != st.accessChanged {
				t.Errorf("access signing key %s (before %s): changed %v, want %v", a.KID, prevAccess, a.KID != prevAccess, st.accessChanged)
			}
			prevAccess = a.KID
			if i != nil {
				if i.Alg != st.wantIDAlg || i.Purpose != token.PurposeID {
					t.Errorf("id signs with %s %s, want id %s", i.Purpose, i.Alg, st.wantIDAlg)
				}
				if (i.KID != prevID) != st.idChanged {
					t.Errorf("id signing key %s (before %s): changed %v, want %v", i.KID, prevID, i.KID != prevID, st.idChanged)
				}
				prevID = i.KID
			}

			// Each keyring holds its own purpose's keys only, and the
			// store's unretired key of each purpose is that purpose's
			// signing key: no rotation of one retired the other's.
			stored, err := db.SigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantKids := map[string][]string{}
			for _, sk := range stored {
				wantKids[sk.Purpose] = append(wantKids[sk.Purpose], sk.KID)
				if sk.RetiresAt.IsZero() && sk.KID != map[string]string{token.PurposeAccess: a.KID, token.PurposeID: prevID}[sk.Purpose] {
					t.Errorf("%s key %s unretired but not signing", sk.Purpose, sk.KID)
				}
			}
			for _, r := range []*token.Keyring{access, id} {
				set, err := r.JWKS(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := slices.Sorted(slices.Values(wantKids[r.Purpose()]))
				if got := kidsOf(t, set); !slices.Equal(got, want) {
					t.Errorf("%s JWKS %v, want %v", r.Purpose(), got, want)
				}
			}
			all, err := token.KeySets{access, id}.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := kidsOf(t, all), slices.Sorted(slices.Values(append(wantKids[token.PurposeAccess], wantKids[token.PurposeID]...))); !slices.Equal(got, want) {
				t.Errorf("merged JWKS %v, want %v", got, want)
			}
		})
	}

	// The other purpose's keys are not found by kid either: a verifier of
	// access tokens over the access keyring never trusts an ID-token key.
	if _, err := access.Lookup(ctx, prevID); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("access keyring Lookup of the id key: %v, want ErrUnknownKey", err)
	}
	if _, err := id.Lookup(ctx, prevAccess); !errors.Is(err, token.ErrUnknownKey) {
		t.Errorf("id keyring Lookup of the access key: %v, want ErrUnknownKey", err)
	}
}

// TestPurposePrepareSealsItsOwn: each keyring encrypts the keys of its
// purpose at start, so the composition root, which prepares both, leaves
// no key of either purpose in the clear.
func TestPurposePrepareSealsItsOwn(t *testing.T) {
	ctx := context.Background()
	access, id, db, clk := rings(t, token.Encryption{})
	must(t, access.Ensure(ctx, token.ES256))
	must(t, id.Ensure(ctx, token.RS256))
	kek := token.Encryption{Key: bytes.Repeat([]byte{7}, token.KEKSize)}
	sealed := func() map[string]bool {
		stored, err := db.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, sk := range stored {
			m[sk.Purpose] = bytes.HasPrefix(sk.Private, []byte("ghk1"))
		}
		return m
	}
	r, err := token.NewEncryptedKeyringFor(token.PurposeID, db, clk, time.Minute, 0, kek)
	must(t, err)
	if n, err := r.Prepare(ctx); err != nil || n != 1 {
		t.Fatalf("id Prepare = %d, %v; want 1 key sealed", n, err)
	}
	if got := sealed(); !got[token.PurposeID] || got[token.PurposeAccess] {
		t.Fatalf("after the id keyring's Prepare, sealed: %v; want the id key only", got)
	}
	r, err = token.NewEncryptedKeyringFor(token.PurposeAccess, db, clk, time.Minute, 0, kek)
	must(t, err)
	if n, err := r.Prepare(ctx); err != nil || n != 1 {
		t.Fatalf("access Prepare = %d, %v; want 1 key sealed", n, err)
	}
	if got := sealed(); !got[token.PurposeID] || !got[token.PurposeAccess] {
		t.Fatalf("after both Prepares, sealed: %v; want both", got)
	}
}

// TestIssuerSignsWithAccessKeysOnly: an issuer handed an ID-token keyring
// refuses to sign an access token with it, and a keyring of an unknown
// purpose is not made.
func TestIssuerSignsWithAccessKeysOnly(t *testing.T) {
	_, id, _, clk := rings(t, token.Encryption{})
	must(t, id.Ensure(t.Context(), token.ES256))
	iss := token.NewIssuer(id, clk, "https://gatehouse.example", []string{"https://api.example"}, ttl)
	if raw, _, _, err := iss.Issue(t.Context(), subject); err == nil {
		t.Fatalf("an access token signed by an ID-token key: %s", raw)
	}
	for _, p := range []string{"", "refresh", "ID"} {
		if _, err := token.NewEncryptedKeyringFor(p, nil, clk, time.Minute, 0, token.Encryption{}); err == nil {
			t.Errorf("keyring of purpose %q made", p)
		}
	}
	if token.PurposeAccess != store.PurposeAccess || token.PurposeID != store.PurposeID {
		t.Error("token's purposes are not the store's")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
