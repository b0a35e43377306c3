package session

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// FuzzParseRefreshToken: the refresh-token format (docs/security/fuzzing.md).
// ParseRefreshToken accepts exactly the canonical form: whatever it
// accepts is 32 bytes that format back to the same string (so a token has
// one spelling, and no variant of a stolen token slips past a lookup or a
// revocation list), and every 32 bytes formatted parse back to themselves.
func FuzzParseRefreshToken(f *testing.F) {
	tok, _ := newRefreshToken()
	f.Add(tok, []byte("0123456789abcdef0123456789abcdef"))
	f.Add("ghr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", []byte{})                       // non-zero unused bits
	f.Add("ghr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", []byte{0xff})                  // padding
	f.Add("GHR_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", bytes.Repeat([]byte{0xff}, 32)) // prefix case
	f.Add("ghr_+/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", []byte{})                       // standard alphabet
	f.Add("ghr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nA", []byte{})                      // line break
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, tok string, raw []byte) {
		b, err := ParseRefreshToken(tok)
		if err == nil {
			if len(b) != refreshTokenBytes || RefreshTokenPrefix+base64.RawURLEncoding.EncodeToString(b) != tok {
				t.Fatalf("accepted %q, which is not the canonical form of %x", tok, b)
			}
		} else if err != ErrInvalidRefreshToken || b != nil {
			t.Fatalf("refused %q with %v, %x", tok, err, b)
		}
		if len(raw) < refreshTokenBytes {
			return
		}
		raw = raw[:refreshTokenBytes]
		canon := RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
		if b, err := ParseRefreshToken(canon); err != nil || !bytes.Equal(b, raw) {
			t.Fatalf("%q, the format of %x, parsed to %x, %v", canon, raw, b, err)
		}
	})
}
