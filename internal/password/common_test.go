package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// listKept is how many of the top 10,000 ranked source entries
// (gen_common_passwords.go -n) are long enough to matter and unique once
// folded. ASVS 6.2.4 asks for at least the top 3,000.
const listKept = 3309

func TestValidateCommon(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"most common of 8+", "password", ErrCommon},
		{"digits", "12345678", ErrCommon},
		{"listed with digit", "password1", ErrCommon},
		{"listed", "password123", ErrCommon},
		{"keyboard walk", "qwertyuiop", ErrCommon},
		{"repeat", "aaaaaaaa", ErrCommon},
		// Case-insensitive: a capital or two adds next to nothing for a
		// guesser, who tries those variants first.
		{"capitalised", "Password1", ErrCommon},
		{"all caps", "PASSWORD123", ErrCommon},
		{"mixed case", "TrUsTnO1", ErrCommon},
		// NFKC: full-width letters fold to the ASCII they look like.
		{"full-width", "ｐａｓｓｗｏｒｄ", ErrCommon},
		{"short and common is too short first", "123456", ErrTooShort},
		{"exactly 8 runes, not listed", "kq7#Vwz2", nil},
		{"8 multibyte runes, not listed", "пароль密码🔑é", nil},
		{"long passphrase", "correct horse battery staple", nil},
		{"random passphrase", "vivid-otter-quietly-folds-19-maps", nil},
		{"listed plus a suffix", "password123!x", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Validate(tt.pw); !errors.Is(err, tt.want) {
				t.Errorf("Validate(%q) = %v, want %v", tt.pw, err, tt.want)
			}
		})
	}
}

// TestCommonListWellFormed guards the embedded file: a blank line would
// match nothing useful, a duplicate hints at a broken regeneration, and an
// entry that is not already folded or is shorter than MinRunes could never
// match a candidate that passes the length check.
func TestCommonListWellFormed(t *testing.T) {
	if !strings.HasSuffix(commonList, "\n") {
		t.Error("list does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	if len(lines) < listKept {
		t.Errorf("list has %d entries, want at least %d", len(lines), listKept)
	}
	seen := make(map[string]int, len(lines))
	for i, l := range lines {
		n := i + 1
		switch {
		case l == "":
			t.Errorf("line %d is empty", n)
		case !utf8.ValidString(l):
			t.Errorf("line %d is not valid UTF-8", n)
		case strings.ContainsAny(l, "\r\t"):
			t.Errorf("line %d %q has a carriage return or tab", n, l)
		case fold(l) != l:
			t.Errorf("line %d %q is not folded (want %q)", n, l, fold(l))
		case utf8.RuneCountInString(l) < MinRunes:
			t.Errorf("line %d %q is shorter than %d runes", n, l, MinRunes)
		}
		if prev, dup := seen[l]; dup {
			t.Errorf("line %d %q repeats line %d", n, l, prev)
		}
		seen[l] = n
	}
	if got := len(commonSet()); got != len(lines) {
		t.Errorf("set has %d entries, list %d", got, len(lines))
	}
}

func BenchmarkValidate(b *testing.B) {
	commonSet() // build the set outside the timing
	for _, pw := range []string{"correct horse battery staple", "Password123"} {
		b.Run(pw, func(b *testing.B) {
			for b.Loop() {
				Validate(pw)
			}
		})
	}
}
