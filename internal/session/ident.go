package session

import (
	"crypto/rand"
	"errors"
	"strings"

	"golang.org/x/text/secure/precis"
)

// newID returns a random 128-bit identifier (26 base32 characters).
func newID() string { return rand.Text() }

// MaxUsernameBytes bounds a username before normalisation.
const MaxUsernameBytes = 256

// NormalizeUsername trims surrounding space and applies the PRECIS
// UsernameCaseMapped profile (RFC 8265 §3.3): width mapping, case folding
// and NFC, refusing control characters, spaces inside the name and other
// disallowed code points. "Alice", " alice " and "ＡＬＩＣＥ" are one user.
func NormalizeUsername(s string) (string, error) {
	if len(s) > MaxUsernameBytes {
		return "", errors.New("username too long")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("username is empty")
	}
	out, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", errors.New("username has characters that are not allowed")
	}
	return out, nil
}

// DeviceLabel derives a short human label ("Firefox on Linux") from a user
// agent, for the session list. It is a hint for people, never a security
// decision.
func DeviceLabel(ua string) string {
	browser := firstMatch(ua, [][2]string{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go client"},
	})
	os := firstMatch(ua, [][2]string{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	})
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	case os != "":
		return os
	}
	return "Unknown device"
}

func firstMatch(ua string, table [][2]string) string {
	for _, row := range table {
		if strings.Contains(ua, row[0]) {
			return row[1]
		}
	}
	return ""
}
