package password

import (
	_ "embed"
	"errors"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// ErrCommon is returned by Validate for a password on the common-password
// list: such passwords fall to the first guesses of any online or offline
// attack, whatever their length (ASVS 5.0 6.2.4).
var ErrCommon = errors.New("password is too common")

// commonList is the top 10,000 of a ranked list of leaked passwords, folded
// and reduced to those of at least MinRunes; gen_common_passwords.go says
// where it comes from and how to regenerate it.
//
//go:embed common-passwords.txt
var commonList string

// commonSet is built on first use rather than at start-up, so commands that
// never validate a new password do not pay for it.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	set := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		set[l] = struct{}{}
	}
	return set
})

// fold maps a password to the form the list is stored in. Matching is
// case-insensitive and ignores compatibility variants (full-width letters,
// ligatures), which change nothing for a guesser. It is used only for the
// look-up: the password itself is hashed exactly as given.
func fold(pw string) string {
	return strings.ToLower(norm.NFKC.String(pw))
}

// IsCommon reports whether pw, folded, is on the common-password list.
func IsCommon(pw string) bool {
	_, ok := commonSet()[fold(pw)]
	return ok
}
