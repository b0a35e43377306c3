package csrf

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// flip returns s with the byte at i replaced by another base64url
// character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestValid(t *testing.T) {
	k := New(testKey(1))
	tok := k.Mint("session-1")
	nonce, mac, _ := strings.Cut(tok, ".")

	tests := []struct {
		name string
		k    *Keyed
		sid  string
		tok  string
		want bool
	}{
		{"minted for this session", k, "session-1", tok, true},
		{"another session", k, "session-2", tok, false},
		{"session id prefix", k, "session-", tok, false},
		{"session id extended", k, "session-11", tok, false},
		{"empty session id", k, "", tok, false},
		{"wrong key", New(testKey(2)), "session-1", tok, false},
		{"nonce first char", k, "session-1", flip(nonce, 0) + "." + mac, false},
		{"nonce last char", k, "session-1", flip(nonce, len(nonce)-1) + "." + mac, false},
		{"mac first char", k, "session-1", nonce + "." + flip(mac, 0), false},
		{"mac last char", k, "session-1", nonce + "." + flip(mac, len(mac)-1), false},
		{"nonce of another session's token", k, "session-1", strings.Split(k.Mint("session-2"), ".")[0] + "." + mac, false},
		{"mac truncated", k, "session-1", nonce + "." + mac[:len(mac)-2], false},
		{"mac extended", k, "session-1", tok + "AA", false},
		{"overlong", k, "session-1", tok + strings.Repeat("A", MaxLen), false},
		{"padded", k, "session-1", nonce + "==." + mac + "=", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.k.Valid(tt.sid, tt.tok); got != tt.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tt.sid, tt.tok, got, tt.want)
			}
		})
	}
}

// TestNonCanonical: the last character of each half carries bits that
// base64 decoding ignores unless strict; a token has exactly one spelling.
func TestNonCanonical(t *testing.T) {
	k := New(testKey(1))
	for range 20 {
		tok := k.Mint("s")
		nonce, mac, _ := strings.Cut(tok, ".")
		for _, bad := range []string{
			nonce[:len(nonce)-1] + string(nonce[len(nonce)-1]+1) + "." + mac,
			nonce + "." + mac[:len(mac)-1] + string(mac[len(mac)-1]+1),
		} {
			if bad != tok && k.Valid("s", bad) {
				t.Fatalf("Valid accepts %q, a respelling of %q", bad, tok)
			}
		}
	}
}

func TestGarbage(t *testing.T) {
	k := New(testKey(1))
	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"dot only", "."},
		{"no dot", "AAAAAAAAAAAAAAAAAAAAAA"},
		{"empty nonce", ".AAAA"},
		{"empty mac", "AAAAAAAAAAAAAAAAAAAAAA."},
		{"three parts", "AAAAAAAAAAAAAAAAAAAAAA.AAAA.AAAA"},
		{"standard base64", "+/+/+/+/+/+/+/+/+/+/+w.AAAA"},
		{"short nonce", "AAAA.AAAA"},
		{"long nonce", strings.Repeat("A", 24) + ".AAAA"},
		{"spaces", " AAAAAAAAAAAAAAAAAAAAAA.AAAA "},
		{"not ascii", "ñññññññññññ.ññññ"},
		{"nul", "AAAAAAAAAAAAAAAAAAAAAA\x00.AAAA"},
		{"a JWT", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k.Valid("s", tt.tok) {
				t.Errorf("Valid(%q) = true", tt.tok)
			}
		})
	}
}

func TestMint(t *testing.T) {
	k := New(testKey(1))
	seen := map[string]bool{}
	for i := range 100 {
		tok := k.Mint("s" + strconv.Itoa(i))
		if seen[tok] {
			t.Fatalf("two sessions got %q", tok)
		}
		seen[tok] = true
		if len(tok) > MaxLen {
			t.Fatalf("minted token of %d bytes exceeds MaxLen %d", len(tok), MaxLen)
		}
		if strings.ContainsAny(tok, "+/= ") {
			t.Fatalf("token %q is not unpadded base64url: unsafe in a cookie or header", tok)
		}
	}
}

func TestNewCopiesKey(t *testing.T) {
	key := testKey(1)
	k := New(key)
	tok := k.Mint("s")
	key[0] ^= 0xff
	if !k.Valid("s", tok) {
		t.Error("changing the caller's key slice changed the Keyed")
	}
}

func TestNewShortKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a 31-byte key")
		}
	}()
	New(make([]byte, 31))
}

func TestHash(t *testing.T) {
	a, b := Hash("token-a"), Hash("token-b")
	if len(a) != 32 {
		t.Errorf("len(Hash) = %d, want 32", len(a))
	}
	if bytes.Equal(a, b) {
		t.Error("two tokens hash equal")
	}
	if !bytes.Equal(a, Hash("token-a")) {
		t.Error("Hash is not deterministic")
	}
}

// TestMintStable: a session's token is one value for the life of the
// session (Angular's retry after a refresh sends the first one again), and
// differs between sessions and between keys.
func TestMintStable(t *testing.T) {
	k := New(testKey(1))
	a := k.Mint("session-1")
	if k.Mint("session-1") != a || New(testKey(1)).Mint("session-1") != a {
		t.Fatal("a session's token changed")
	}
	if k.Mint("session-2") == a || New(testKey(2)).Mint("session-1") == a {
		t.Fatal("two sessions or two keys share a token")
	}
	n1, _, _ := strings.Cut(a, ".")
	n2, _, _ := strings.Cut(k.Mint("session-2"), ".")
	if n1 == n2 {
		t.Fatal("the nonce does not depend on the session")
	}
}

// TestKeyChange: tokens minted under a previous key stay valid while it is
// accepted, new tokens use the current key, and a key dropped from the
// list no longer validates anything.
func TestKeyChange(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old := New(oldKey)
	tok := old.Mint("s1")
	both := New(newKey, oldKey)
	if !both.Valid("s1", tok) {
		t.Fatal("a token of the previous key is refused during the change")
	}
	fresh := both.Mint("s1")
	if old.Valid("s1", fresh) || !New(newKey).Valid("s1", fresh) {
		t.Fatal("new tokens are not minted with the current key")
	}
	if New(newKey).Valid("s1", tok) {
		t.Fatal("a dropped key still validates")
	}
	if both.Valid("s2", tok) {
		t.Fatal("a previous key's token is valid for another session")
	}
}

// TestDeriveKey: with a key-encryption key, the stored secret alone does
// not validate or mint tokens (a stolen database is not enough); without
// one the secret is the key, as before.
func TestDeriveKey(t *testing.T) {
	secret, kek := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	if !bytes.Equal(DeriveKey(secret, nil), secret) {
		t.Fatal("without a KEK the secret must be the key")
	}
	derived := DeriveKey(secret, kek)
	if bytes.Equal(derived, secret) || len(derived) != 32 || bytes.Equal(derived, DeriveKey(secret, bytes.Repeat([]byte{8}, 32))) {
		t.Fatal("derived key must depend on the KEK and differ from the secret")
	}
	tok := New(derived).Mint("s1")
	if New(secret).Valid("s1", tok) {
		t.Fatal("the stored secret alone validates a token minted under the KEK")
	}
}
