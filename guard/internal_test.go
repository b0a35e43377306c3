package guard

import (
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"testing"
	"time"
)

func TestCacheBound(t *testing.T) {
	for _, entries := range []int{1, 3, 100, 1000} {
		t.Run(fmt.Sprint(entries), func(t *testing.T) {
			c := newTokenCache(entries)
			p := &Principal{}
			for i := range 5 * entries {
				c.put(fmt.Sprintf("token-%d", i), p, 100, 0)
			}
			if n := c.len(); n > entries || n < entries/2 {
				t.Fatalf("%d entries for a bound of %d", n, entries)
			}
		})
	}
}

func TestCacheExpiry(t *testing.T) {
	c := newTokenCache(8)
	p := &Principal{}
	c.put("a", p, 100, 0)
	if got, ok := c.get("a", 99); !ok || got != p {
		t.Fatal("live entry not served")
	}
	if _, ok := c.get("a", 100); ok {
		t.Fatal("entry served at its exp")
	}
	// A full shard drops expired entries before live ones.
	c = newTokenCache(1)
	c.put("old", p, 10, 0)
	c.put("new", p, 100, 50)
	if _, ok := c.get("new", 60); !ok {
		t.Fatal("new entry missing")
	}
}

func TestCacheHitAllocs(t *testing.T) {
	c := newTokenCache(100)
	c.put("tok", &Principal{}, 100, 0)
	if n := testing.AllocsPerRun(100, func() { c.get("tok", 1) }); n != 0 {
		t.Fatalf("%v allocations per hit", n)
	}
}

func TestMaxAge(t *testing.T) {
	cases := map[string]time.Duration{
		"public, max-age=300":      300 * time.Second,
		"max-age=\"60\"":           time.Minute,
		"MAX-AGE=5, public":        5 * time.Second,
		"no-cache":                 0,
		"max-age=-1":               0,
		"max-age=abc":              0,
		"s-maxage=10, max-age=120": 2 * time.Minute,
	}
	for v, want := range cases {
		if got := maxAge([]string{v}); got != want {
			t.Errorf("%q: %v, want %v", v, got, want)
		}
	}
}

func TestRemoteInterval(t *testing.T) {
	r := RemoteJWKS("http://example.invalid", RemoteOptions{})
	if d := r.interval(); d != defaultRefreshInterval {
		t.Fatalf("default %v", d)
	}
	r.maxAge = time.Minute
	if d := r.interval(); d != time.Minute {
		t.Fatalf("max-age 60: %v", d)
	}
	r.maxAge = time.Second
	if d := r.interval(); d != minRefreshInterval {
		t.Fatalf("max-age 1: %v, want the 10s floor", d)
	}
	r.maxAge = time.Hour
	if d := r.interval(); d != defaultRefreshInterval {
		t.Fatalf("max-age 3600: %v", d)
	}
	if r := RemoteJWKS("x", RemoteOptions{RefreshInterval: time.Second}); r.opts.RefreshInterval != minRefreshInterval {
		t.Fatalf("interval below the floor: %v", r.opts.RefreshInterval)
	}
	if r.opts.Client == nil || r.opts.Client.Timeout == 0 || r.opts.Client == http.DefaultClient {
		t.Fatal("default client has no timeout")
	}
}

func TestParseHeaderStrict(t *testing.T) {
	ok := map[string]header{
		`{"alg":"ES256","kid":"k","typ":"at+jwt"}`:           {"ES256", "k", "at+jwt"},
		` { "alg" : "ES256" , "kid":"k\u0031", "x":[1,{}]} `: {"ES256", "k1", ""},
		`{"kid":"k","alg":"EdDSA","x5t":"abc","cty":"x"}`:    {"EdDSA", "k", ""},
	}
	for in, want := range ok {
		if got, err := parseHeader([]byte(in)); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{
		`{"alg":"ES256","alg":"ES256"}`, `{"alg":"ES256","Alg":"x"}`, `{"JKU":"x"}`, `{"\u0061lg":"none"}`,
		`{"alg":1}`, `{"alg":null}`, `[]`, `{"a":1,}`, ``, `{"x":"\"}"}`[:8],
	} {
		if _, err := parseHeader([]byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func TestParseClaims(t *testing.T) {
	c, err := parseClaims([]byte(`{"iss":"i","aud":"a","sub":"s\n","roles":[],"scope":null,"exp":1.5,"x":{"sub":"no"}}`))
	if err != nil || c.Iss != "i" || len(c.Aud) != 1 || c.Sub != "s\n" || c.Roles == nil || c.Exp.t.UnixMilli() != 1500 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, in := range []string{`{"sub":"a","sub":"b"}`, `{"aud":[1]}`, `{"roles":"admin"}`, `{"exp":-1}`, `{"exp":"1"}`, `{"sub":1}`} {
		if _, err := parseClaims([]byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

// FuzzParse: the hand-written JSON scan never panics, and whatever header
// it accepts, encoding/json reads the same alg, kid and typ from.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"alg":"ES256","kid":"k","typ":"at+jwt"}`, `{"a":[1,{"b":"}"}],"kid":"\u0041"}`,
		`{"iss":"i","aud":["a","b"],"exp":1.5,"roles":["x"]}`, `{"x":"\\\""}`, `[]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parseClaims(b)
		h, err := parseHeader(b)
		if err != nil {
			return
		}
		var ref struct{ Alg, Kid, Typ string }
		if json.Unmarshal(b, &ref) == nil && (ref.Alg != h.alg || ref.Kid != h.kid || ref.Typ != h.typ) {
			t.Fatalf("%q: scan %+v, encoding/json %+v", b, h, ref)
		}
	})
}

// TestP256HalfOrder: the low-S bound is ⌊N/2⌋ of P-256.
func TestP256HalfOrder(t *testing.T) {
	want := new(big.Int).Rsh(elliptic.P256().Params().N, 1).FillBytes(make([]byte, 32))
	if p256HalfOrder != string(want) {
		t.Fatalf("p256HalfOrder %x, want %x", p256HalfOrder, want)
	}
	if n := elliptic.P256().Params().N.FillBytes(make([]byte, 32)); p256Order != string(n) {
		t.Fatalf("p256Order %x, want %x", p256Order, n)
	}
}
