package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"
)

// The JSON of the header and the claims is read by a small scanner
// rather than encoding/json's reflection, for two reasons. Strictness: a
// duplicate member is refused rather than "last one wins" (RFC 7515 §4,
// RFC 7519 §4), and names match exactly (encoding/json matches field
// names case-insensitively, so {"ALG":...} would fill alg). Speed: one
// validation pass and one scan, which keeps a cold verification within
// 1.2× of the bare signature check (docs/benchmarks.md).

var (
	errNotObject = errors.New("not a JSON object")
	errTooMany   = errors.New("too many members")
	errDuplicate = errors.New("duplicate member")
	errEscaped   = errors.New("escaped member name")
	errNotString = errors.New("not a string")
	errNotArray  = errors.New("not an array of strings")
)

// members calls fn with the name and raw value of each member of the JSON
// object b; the values are substrings of one copy of b, so the strings
// taken from them cost no further allocation. It refuses invalid JSON, more than max members, a member name
// given twice (compared case-insensitively if fold), invalid UTF-8 (which
// encoding/json would silently replace) and escaped names
// (which could spell a refused name in disguise, "\u006awk" for "jwk").
func members(b []byte, max int, fold bool, fn func(name []byte, val string) error) error {
	if !json.Valid(b) || !utf8.Valid(b) { // RFC 8259 §8.1: JSON text is UTF-8
		return errors.New("not JSON")
	}
	str := string(b)
	// From here the input is valid JSON, which keeps the scan simple.
	i := skipSpace(b, 0)
	if b[i] != '{' {
		return errNotObject
	}
	var seen [maxClaims][]byte
	n := 0
	for i = skipSpace(b, i+1); b[i] != '}'; i = skipSpace(b, i) {
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
		end := stringEnd(b, i)
		name := b[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return errEscaped
		}
		if n == max {
			return errTooMany
		}
		for _, s := range seen[:n] {
			if bytes.Equal(s, name) || fold && bytes.EqualFold(s, name) {
				return errDuplicate
			}
		}
		seen[n] = name
		n++
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		vend := valueEnd(b, i)
		if err := fn(name, str[i:vend]); err != nil {
			return err
		}
		i = vend
	}
	return nil
}

// jsonString returns the value of a JSON string.
func jsonString(val string) (string, error) {
	if len(val) < 2 || val[0] != '"' {
		return "", errNotString
	}
	if strings.IndexByte(val, '\\') < 0 {
		return val[1 : len(val)-1], nil
	}
	var s string
	err := json.Unmarshal([]byte(val), &s)
	return s, err
}

// jsonStrings returns the values of a JSON array of strings.
func jsonStrings(val string) ([]string, error) {
	if val[0] != '[' {
		return nil, errNotArray
	}
	out := []string{}
	for i := skipSpace(val, 1); val[i] != ']'; i = skipSpace(val, i) {
		if val[i] == ',' {
			i = skipSpace(val, i+1)
		}
		end := stringEnd(val, i)
		if end < 0 {
			return nil, errNotArray
		}
		s, err := jsonString(val[i:end])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		i = end
	}
	return out, nil
}

func skipSpace[T string | []byte](b T, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at i, or
// -1 if none starts there.
func stringEnd[T string | []byte](b T, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the valid JSON value at i.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && strings.IndexByte(",}] \t\r\n", b[j]) < 0 {
			j++
		}
		return j
	}
}
