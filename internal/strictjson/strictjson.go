// Package strictjson decodes a request body into a struct, refusing
// whatever encoding/json would quietly accept and reinterpret. A body is
// one JSON object whose member names are exactly the struct's JSON names,
// each at most once, in valid UTF-8, with nothing after it.
//
// Why not encoding/json alone: it matches member names case-insensitively
// ({"USERNAME":...} fills Username even with DisallowUnknownFields), lets
// the last of repeated members win ({"roles":[],"roles":["admin"]}), and
// replaces invalid UTF-8 with U+FFFD. Each is a way for two readers of one
// body (a proxy or audit log and this server) to see different requests;
// the fuzz targets of the server's and the demo's decoders found the
// first two (docs/security/fuzzing.md).
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"
)

// Errors of Decode besides encoding/json's own (*json.UnmarshalTypeError,
// *json.SyntaxError).
var (
	ErrInvalidUTF8 = errors.New("strictjson: body is not valid UTF-8")
	ErrNotObject   = errors.New("strictjson: body is not a JSON object")
	ErrTrailing    = errors.New("strictjson: data after the JSON value")
)

// FieldError is a member name that is unknown (not exactly a field's JSON
// name) or repeated.
type FieldError struct {
	Name     string
	Repeated bool
}

func (e *FieldError) Error() string {
	if e.Repeated {
		return fmt.Sprintf("field %q is repeated", e.Name)
	}
	return fmt.Sprintf("unknown field %q", e.Name)
}

// Decode decodes the JSON object body into dst, a pointer to a struct.
func Decode(body []byte, dst any) error {
	if !utf8.Valid(body) {
		return ErrInvalidUTF8
	}
	if err := checkMembers(body, fieldNames(reflect.TypeOf(dst))); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	// Not dec.More(): it reports false before a stray "}" or "]", so
	// `{"a":1}}` passed as one object (found by FuzzDecode). Only JSON
	// white space (RFC 8259 §2) may follow the value.
	if len(bytes.Trim(body[dec.InputOffset():], " \t\r\n")) != 0 {
		return ErrTrailing
	}
	return nil
}

// checkMembers reads the top-level object's member names and refuses an
// unknown or repeated one. Malformed JSON is left for the decoder to
// report.
func checkMembers(body []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ErrNotObject
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		// A repeat is looked for first, and without regard to case, so
		// {"username":..,"USERNAME":..} is the repeat it is to encoding/json
		// rather than an unknown field.
		for _, s := range seen {
			if strings.EqualFold(s, name) {
				return &FieldError{Name: name, Repeated: true}
			}
		}
		if !known[name] {
			return &FieldError{Name: name}
		}
		seen = append(seen, name)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}

// fieldNames returns the JSON names of the exported fields of the struct
// t points to.
func fieldNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return names
	}
	for f := range t.Elem().Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names[name] = true
	}
	return names
}
