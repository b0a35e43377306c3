package csrf

import (
	"bytes"
	"testing"
)

// FuzzValid: the CSRF token format (docs/security/fuzzing.md). Valid is
// true only for a token minted for that very session under that key: a
// token it accepts is exactly the canonical spelling of a nonce and that
// nonce's MAC for the session id, and is refused for any other session id
// and under any other key (but accepted while its key is a previous one). A token minted from a fuzzed nonce is accepted
// for its session and no other, and a changed character refuses it.
func FuzzValid(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 32)
	k := New(key)
	f.Add("s_1", "s_2", k.Mint("s_1"), []byte("0123456789abcdef"))
	f.Add("s_1", "s_1\x00", k.Mint("s_1\x00"), []byte{})
	f.Add("1!a", "1", "AAAAAAAAAAAAAAAAAAAAAA.AAAA", bytes.Repeat([]byte{0}, 16))
	f.Add("", "s", "", []byte{})
	f.Add("s", "t", "AAAAAAAAAAAAAAAAAAAAAA==.x", []byte{})
	other := New(bytes.Repeat([]byte{2}, 32))
	rotated := New(bytes.Repeat([]byte{3}, 32), key) // key is the previous one
	f.Fuzz(func(t *testing.T, sid, otherSID, token string, nonce []byte) {
		if k.Valid(sid, token) {
			n, _, _ := bytesCut(token)
			raw, err := b64.DecodeString(n)
			if err != nil || sid == "" || token != b64.EncodeToString(raw)+"."+b64.EncodeToString(mac(key, sid, raw)) {
				t.Fatalf("accepted %q for %q, which is not the token minted for it", token, sid)
			}
			if otherSID != sid && k.Valid(otherSID, token) {
				t.Fatalf("%q is valid for %q and for %q", token, sid, otherSID)
			}
			if other.Valid(sid, token) {
				t.Fatalf("%q is valid under two keys", token)
			}
			if !rotated.Valid(sid, token) {
				t.Fatalf("%q is refused after a key change that kept its key", token)
			}
		}
		if len(nonce) < nonceLen || sid == "" {
			return
		}
		nonce = nonce[:nonceLen]
		tok := b64.EncodeToString(nonce) + "." + b64.EncodeToString(mac(key, sid, nonce))
		if !k.Valid(sid, tok) {
			t.Fatalf("minted %q for %q, refused", tok, sid)
		}
		if otherSID != sid && k.Valid(otherSID, tok) {
			t.Fatalf("minted %q for %q, accepted for %q", tok, sid, otherSID)
		}
		for _, i := range []int{0, len(tok) / 2, len(tok) - 1} {
			b := []byte(tok)
			b[i] ^= 1
			if k.Valid(sid, string(b)) {
				t.Fatalf("minted %q, accepted changed as %q", tok, b)
			}
		}
	})
}

func bytesCut(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
