package authapi_test

import (
	"bytes"
	"compress/flate"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/token/jwstest"
)

// Forging: the victim's claims changed, signed by the server's own key,
// by the attacker's, or not at all; compact JWS built byte for byte with
// internal/token/jwstest, which the guard's tests forge with too.

// claimsOf decodes a token's claims without checking anything.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %.40s", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// drop, as a claim value, removes the claim.
type dropClaim struct{}

var drop = dropClaim{}

// payload is the victim's live claims changed by over, as JSON: a forged
// token that got through would be answered 200 for a real session.
func (a *arena) payload(over map[string]any) []byte {
	c := make(map[string]any, len(a.claims))
	for k, v := range a.claims {
		c[k] = v
	}
	for k, v := range over {
		if v == drop {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, _ := json.Marshal(c)
	return b
}

// header is the server's own JOSE header, with extra members appended.
func (a *arena) header(extra string) string {
	return `{"alg":"ES256","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"` + extra + `}`
}

// es256 signs a compact JWS with key over the exact header and payload.
func es256(t *testing.T, key *ecdsa.PrivateKey, header string, payload []byte) string {
	t.Helper()
	raw, err := jwstest.Compact(key, header, payload)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// highS returns the other signature of a low-S ES256 signature, (r, n−s):
// it verifies under plain ECDSA whenever the original does.
func highS(t *testing.T, sig64 string) []byte {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err == nil {
		sig, err = jwstest.HighS(sig)
	}
	if err != nil {
		t.Fatalf("not an ES256 signature: %q: %v", sig64, err)
	}
	return sig
}

// forge signs the victim's claims changed by over with the server's own
// key under its own header plus extra.
func (a *arena) forge(t *testing.T, extra string, over map[string]any) string {
	return es256(t, a.key, a.header(extra), a.payload(over))
}

func segments(tok string) []string { return strings.Split(tok, ".") }

// withPad returns the victim's claims padded with a claim of n bytes.
func (a *arena) withPad(n int) []byte {
	return a.payload(map[string]any{"pad": strings.Repeat("p", n)})
}

func deflate(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func (a *arena) publicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&a.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// evilCert is a self-signed certificate for the attacker's key, for x5c.
func (a *arena) evilCert(t *testing.T) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse"},
		NotBefore: a.Clock.Now().Add(-time.Hour), NotAfter: a.Clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.evil.PublicKey, a.evil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// Row builders.
