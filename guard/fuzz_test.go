package guard

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The fuzz targets of the guard (docs/security/fuzzing.md). Each asserts a
// property of what is accepted, not only the absence of a panic: a parser
// that accepts what it should refuse fails no "does not crash" test.

const (
	fuzzIssuer   = "https://gatehouse.test"
	fuzzAudience = "https://api.test"
	fuzzKid      = "k1"
)

// fuzzNow is the fixed clock of FuzzVerify; fuzzNowUnix is it in seconds,
// which the seeds' iat and exp are relative to.
var fuzzNow = time.Unix(fuzzNowUnix, 0)

const fuzzNowUnix = 1795521600 // 2026-11-24T12:00:00Z

// fuzzSigner is a fixed Ed25519 key: deterministic signatures, so a seed
// signed once stays valid, and the cheapest signature to check, so the
// fuzzer spends its time in the parsers rather than in big-number maths.
var fuzzSigner = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

func fuzzGuard(t testing.TB, cacheEntries int) *Guard {
	g, err := New(Config{
		Issuer: fuzzIssuer, Audience: fuzzAudience, CacheEntries: cacheEntries,
		Keys: keySet{fuzzKid: {ID: fuzzKid, Alg: EdDSA, Public: fuzzSigner.Public()}},
		Now:  func() time.Time { return fuzzNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// fuzzSign returns the compact JWS of header and payload, signed with
// fuzzSigner: whatever bytes the fuzzer puts in the header and the claims
// carry a good signature, so Verify's checks after the signature are
// reached at all.
func fuzzSign(header, payload []byte) string {
	in := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fuzzSigner, []byte(in)))
}

// refClaims reads a claims set with encoding/json, member by exact name:
// the reference the hand-written scanner is held to.
type refClaims map[string]json.RawMessage

func (c refClaims) str(t *testing.T, name string) string {
	raw, ok := c[name]
	if !ok || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("claim %s accepted by Verify but is not a string for encoding/json: %s", name, raw)
	}
	return s
}

func (c refClaims) date(t *testing.T, name string) (time.Time, bool) {
	raw, ok := c[name]
	if !ok || string(raw) == "null" {
		return time.Time{}, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > maxNumericDate {
		t.Fatalf("claim %s accepted by Verify but is not a NumericDate in range: %s", name, raw)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}

func (c refClaims) strs(t *testing.T, name string) []string {
	raw, ok := c[name]
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("claim %s accepted by Verify but is not a string or a list of strings: %s", name, raw)
	}
	return l
}

// FuzzVerify drives the whole of Verify with a good signature over
// fuzzed header and claims bytes (so the claims checks are explored, not
// only the signature check that any mutation of a signed token trips), and
// with a fuzzed raw token. Properties:
//   - every refusal is one of the guard's sentinel errors;
//   - a token accepted has the configured alg and kid, typ at+jwt, none of
//     the refused header parameters, and claims that encoding/json reads
//     the same way: iss and aud as configured, sub, sid, jti present,
//     iat not in the future and exp not past (with leeway), every
//     Principal field equal to the claim it comes from;
//   - it is in canonical form: decoding its segments and encoding them
//     again gives the same string (one token, one spelling);
//   - verifying it again, from the cache and with no cache, gives an equal
//     Principal;
//   - changing one character of its payload makes Verify refuse it;
//   - a raw token is accepted only if its signature verifies under the key.
func FuzzVerify(f *testing.F) {
	hdr := []byte(`{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}`)
	good := []byte(`{"iss":"https://gatehouse.test","aud":"https://api.test","sub":"u_1","sid":"s_1","jti":"j_1",` +
		`"iat":1795521600,"exp":1795521900,"auth_time":1795521590,"preferred_username":"alice","roles":["reader"],` +
		`"scope":"openid profile","client_id":"gatehouse","csrf_hash":"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"}`)
	f.Add(hdr, good, "")
	f.Add(hdr, good, fuzzSign(hdr, good))
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1","typ":"application/AT+JWT","x5t":"x"}`),
		[]byte(`{"iss":"https://gatehouse.test","aud":["x","https://api.test"],"sub":"u","sid":"s","jti":"j","iat":1795521600.5,"exp":1795521630.25,"nbf":null}`), "")
	f.Add(hdr, []byte(`{"iss":"https://gatehouse.test","aud":"https://api.test","sub":"u","sid":"s","jti":"j","iat":1795521600,"exp":1795521500}`), "")
	f.Add([]byte(`{"alg":"none","kid":"k1","typ":"at+jwt"}`), good, "eyJhbGciOiJub25lIn0.e30.")
	f.Add([]byte(`{"alg":"EdDSA","kid":"k1","typ":"at+jwt","jwk":{}}`), good, "a.b.c.d")
	f.Add(hdr, []byte(`{"iss":"https://gatehouse.test","Iss":"x","aud":"https://api.test","sub":"u","sid":"s","jti":"j","iat":1,"exp":9e99}`), "e30.e30.AA==")
	g := fuzzGuard(f, 16)
	nocache := fuzzGuard(f, -1)
	f.Fuzz(func(t *testing.T, header, payload []byte, raw string) {
		tok := fuzzSign(header, payload)
		p, err := g.Verify(context.Background(), tok)
		checkRefusal(t, err)
		if err == nil {
			checkAccepted(t, g, nocache, tok, header, payload, p)
		}
		if raw == "" {
			return
		}
		p, err = nocache.Verify(context.Background(), raw)
		checkRefusal(t, err)
		if err != nil {
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %q, which is not three segments", raw)
		}
		h, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
		c, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
		sig, err3 := base64.RawURLEncoding.Strict().DecodeString(parts[2])
		if err1 != nil || err2 != nil || err3 != nil || !ed25519.Verify(fuzzSigner.Public().(ed25519.PublicKey), []byte(parts[0]+"."+parts[1]), sig) {
			t.Fatalf("accepted %q without a good signature", raw)
		}
		checkAccepted(t, g, nocache, raw, h, c, p)
	})
}

// checkRefusal fails unless err is nil or wraps one of Verify's sentinel
// errors, which is what callers (the middleware's answers) switch on.
func checkRefusal(t *testing.T, err error) {
	if err == nil {
		return
	}
	for _, s := range []error{ErrMalformed, ErrSignature, ErrExpired, ErrNotYetValid, ErrClaims} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("refusal wraps no sentinel error: %v", err)
}

func checkAccepted(t *testing.T, g, nocache *Guard, tok string, header, payload []byte, p *Principal) {
	t.Helper()
	var h map[string]json.RawMessage
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatalf("accepted a token whose header encoding/json refuses: %q: %v", header, err)
	}
	for k := range h {
		if refusedHeader([]byte(k)) {
			t.Fatalf("accepted a token with header parameter %q", k)
		}
	}
	hc := refClaims(h)
	if hc.str(t, "alg") != EdDSA || hc.str(t, "kid") != fuzzKid || !isAccessTokenType(hc.str(t, "typ")) {
		t.Fatalf("accepted header %q", header)
	}
	var c refClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("accepted claims encoding/json refuses: %q: %v", payload, err)
	}
	if c.str(t, "iss") != fuzzIssuer {
		t.Fatalf("accepted iss %s", c["iss"])
	}
	aud := c.strs(t, "aud")
	found := false
	for _, a := range aud {
		found = found || a == fuzzAudience
	}
	if !found {
		t.Fatalf("accepted aud %s", c["aud"])
	}
	iat, ok1 := c.date(t, "iat")
	exp, ok2 := c.date(t, "exp")
	if !ok1 || !ok2 || iat.After(fuzzNow.Add(defaultLeeway)) || exp.Before(fuzzNow.Add(-defaultLeeway)) {
		t.Fatalf("accepted iat %s exp %s at %v", c["iat"], c["exp"], fuzzNow)
	}
	if nbf, ok := c.date(t, "nbf"); ok && nbf.After(fuzzNow.Add(defaultLeeway)) {
		t.Fatalf("accepted nbf %s", c["nbf"])
	}
	authTime, _ := c.date(t, "auth_time")
	roles := c.strs(t, "roles")
	if _, ok := c["roles"]; ok && roles == nil {
		roles = []string{}
	}
	want := &Principal{
		Subject: c.str(t, "sub"), Username: c.str(t, "preferred_username"), SessionID: c.str(t, "sid"),
		ClientID: c.str(t, "client_id"), Roles: roles, Scopes: strings.Fields(c.str(t, "scope")),
		AuthTime: authTime, IssuedAt: iat, ExpiresAt: exp, TokenID: c.str(t, "jti"), CSRFHash: c.str(t, "csrf_hash"),
	}
	if want.Subject == "" || want.SessionID == "" || want.TokenID == "" {
		t.Fatalf("accepted claims without sub, sid or jti: %q", payload)
	}
	if !principalsEqual(p, want) {
		t.Fatalf("principal %+v, encoding/json reads %+v from %q", p, want, payload)
	}
	// One token, one spelling: the strict decoder admits no other.
	if again := fuzzSign(header, payload); again[:strings.LastIndexByte(again, '.')] != tok[:strings.LastIndexByte(tok, '.')] {
		t.Fatalf("token %q is not in canonical form", tok)
	}
	for _, v := range []*Guard{g, nocache} {
		p2, err := v.Verify(context.Background(), tok)
		if err != nil || !principalsEqual(p, p2) {
			t.Fatalf("second verification: %+v %v, first %+v", p2, err, p)
		}
	}
	// A changed payload character breaks the signature.
	d1 := strings.IndexByte(tok, '.')
	b := []byte(tok)
	if b[d1+1] == 'A' {
		b[d1+1] = 'B'
	} else {
		b[d1+1] = 'A'
	}
	if _, err := nocache.Verify(context.Background(), string(b)); err == nil {
		t.Fatalf("accepted %q, a changed copy of %q", b, tok)
	}
}

// principalsEqual compares principals with time.Time.Equal (a cached and
// a fresh principal may differ in their monotonic readings only).
func principalsEqual(a, b *Principal) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if !x.AuthTime.Equal(y.AuthTime) || !x.IssuedAt.Equal(y.IssuedAt) || !x.ExpiresAt.Equal(y.ExpiresAt) {
		return false
	}
	x.AuthTime, x.IssuedAt, x.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	y.AuthTime, y.IssuedAt, y.ExpiresAt = time.Time{}, time.Time{}, time.Time{}
	if len(x.Scopes) == 0 && len(y.Scopes) == 0 {
		x.Scopes, y.Scopes = nil, nil
	}
	return reflect.DeepEqual(x, y)
}

// FuzzStaticKeys: the JWK Set parser. A set StaticKeys accepts holds only
// public signing keys of the three algorithms, each of the type and size
// its algorithm needs (P-256 on the curve, Ed25519 of 32 bytes, RSA of at
// least 2048 bits), under a non-empty kid that the input names; and the
// set survives a round trip: serialised with go-jose and parsed again, it
// gives the same kids, algorithms and keys.
func FuzzStaticKeys(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed","use":"sig","alg":"EdDSA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"es"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"h"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","kid":"bad"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := StaticKeys(b)
		if err != nil {
			return
		}
		// The kids the input names, read by encoding/json.
		var doc struct{ Keys []struct{ Kid string } }
		named := map[string]bool{}
		if json.Unmarshal(b, &doc) == nil {
			for _, k := range doc.Keys {
				named[k.Kid] = true
			}
		}
		set := src.(keySet)
		if len(set) == 0 {
			t.Fatal("accepted an empty set")
		}
		var out jose.JSONWebKeySet
		for kid, k := range set {
			if kid == "" || k.ID != kid || !named[kid] {
				t.Fatalf("key %q under kid %q", k.ID, kid)
			}
			checkKey(t, k)
			out.Keys = append(out.Keys, jose.JSONWebKey{Key: k.Public, KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
		}
		again, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("the accepted set does not serialise: %v", err)
		}
		src2, err := StaticKeys(again)
		if err != nil {
			t.Fatalf("the accepted set, serialised again, is refused: %v\n%s", err, again)
		}
		set2 := src2.(keySet)
		if len(set2) != len(set) {
			t.Fatalf("round trip: %d keys, then %d", len(set), len(set2))
		}
		for kid, k := range set {
			k2, ok := set2[kid]
			eq, _ := k.Public.(interface{ Equal(crypto.PublicKey) bool })
			if !ok || k2.Alg != k.Alg || eq == nil || !eq.Equal(k2.Public) {
				t.Fatalf("round trip changed key %q", kid)
			}
		}
	})
}

func checkKey(t *testing.T, k Key) {
	t.Helper()
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		if k.Alg != ES256 || pub.Curve != elliptic.P256() {
			t.Fatalf("EC key %q for %s", k.ID, k.Alg)
		}
		if _, err := pub.ECDH(); err != nil {
			t.Fatalf("EC key %q is not on the curve", k.ID)
		}
	case ed25519.PublicKey:
		if k.Alg != EdDSA || len(pub) != ed25519.PublicKeySize {
			t.Fatalf("Ed25519 key %q for %s", k.ID, k.Alg)
		}
	case *rsa.PublicKey:
		if k.Alg != RS256 || pub.N.BitLen() < minRSABits {
			t.Fatalf("RSA key %q of %d bits for %s", k.ID, pub.N.BitLen(), k.Alg)
		}
	default:
		t.Fatalf("key %q of type %T accepted", k.ID, k.Public)
	}
}

// FuzzReadEvents: the revocation feed's event-stream reader. Properties:
//   - it dispatches what a plain reference reader (a line split on "\n"
//     with a trailing "\r" dropped, as the scanner does) dispatches, event
//     for event, and stops at the first error;
//   - events written the way the server writes them ("event: NAME\n",
//     one "data: " line per line of data, a blank line) come back as
//     written, for any name and data without line breaks or a leading
//     space lost to the field syntax.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte("id: 3\nevent: revoked\ndata: {\"seq\":3,\"sid\":\"s_1\",\"until\":\"2026-11-24T12:05:00Z\"}\n\n"), "ping", "{}")
	f.Add([]byte("event: reset\ndata: {\"head\":0}\n\n: comment\n\nevent: ping\ndata:\n\n"), "revoked", "a\nb")
	f.Add([]byte("data: a\r\ndata:b\r\n\r\nevent\nevent:x:y\ndata\n\n"), "", "")
	f.Add([]byte("data: x\n"), " lead", " data")
	f.Add([]byte("data:\ndata: b\n\n"), "revoked", "\nb") // an empty first data line is kept (it once was lost)
	f.Fuzz(func(t *testing.T, stream []byte, name, data string) {
		type ev struct{ name, data string }
		var got []ev
		errStop := errors.New("stop")
		err := readEvents(bytes.NewReader(stream), func(n, d string) error {
			got = append(got, ev{n, d})
			if n == "stop" {
				return errStop
			}
			return nil
		}, func() {})
		if err == nil {
			t.Fatal("a stream that ends is not an error")
		}
		// The reference reader.
		var want []ev
		var n, d string
		long := false
		lines := strings.Split(string(stream), "\n")
		complete := lines[:len(lines)-1] // bytes after the last "\n" are a line too, but end nothing
		if last := lines[len(lines)-1]; last != "" {
			complete = lines
		}
		for _, l := range complete {
			if len(l) >= maxFeedLine-2 { // the scanner's own bound, give or take the line end
				long = true
				break
			}
			l = strings.TrimSuffix(l, "\r")
			if l == "" {
				want = append(want, ev{n, strings.TrimSuffix(d, "\n")})
				if n == "stop" {
					break
				}
				n, d = "", ""
				continue
			}
			field, value, _ := strings.Cut(l, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				n = value
			case "data":
				if len(d)+len(value) > maxFeedLine {
					long = true
				}
				d += value + "\n"
			}
			if long {
				break
			}
		}
		if !long && !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("stream %q: events %q, reference %q", stream, got, want)
		}
		if len(got) > len(want) {
			t.Fatalf("stream %q: more events than the reference: %q, %q", stream, got, want)
		}

		// Round trip in the server's format.
		if strings.ContainsAny(name+data, "\r") || strings.Contains(name, "\n") || strings.HasPrefix(name, " ") || name == "stop" {
			return
		}
		var buf bytes.Buffer
		buf.WriteString("event: " + name + "\n")
		for l := range strings.SplitSeq(data, "\n") {
			if strings.HasPrefix(l, " ") || len(l) > maxFeedLine/2 {
				return
			}
			buf.WriteString("data: " + l + "\n")
		}
		buf.WriteString("\n")
		got = nil
		readEvents(&buf, func(n, d string) error { got = append(got, ev{n, d}); return nil }, func() {})
		wantData := data
		if len(got) != 1 || got[0].name != name || got[0].data != wantData {
			t.Fatalf("wrote event %q data %q, read %q", name, data, got)
		}
	})
}
