package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/internal/strictjson"
)

// decodeError is a request body the server refuses, with its response.
type decodeError struct {
	status int
	code   string
	detail string
}

func (e *decodeError) Error() string { return e.detail }

// decode reads a JSON or form-encoded body into dst, refusing what it does
// not understand: another media type, a body over the limit, invalid UTF-8,
// malformed JSON, trailing data, unknown or repeated fields. A form body is
// turned into a JSON object of strings and goes through the same strict
// decoder, so both encodings obey one set of rules.
//
// An empty body leaves dst untouched and reports empty=true.
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) (empty bool, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return false, &decodeError{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than the limit"}
		}
		return false, &decodeError{http.StatusBadRequest, CodeBadRequest, "could not read the request body"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mt = ""
	}
	switch mt {
	case "application/json":
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return false, &decodeError{http.StatusBadRequest, CodeBadRequest, "malformed form body"}
		}
		obj := make(map[string]string, len(vals))
		for k, v := range vals {
			if !utf8.ValidString(k) || !utf8.ValidString(strings.Join(v, "")) {
				return false, &decodeError{http.StatusBadRequest, CodeInvalidEncoding, "request body is not valid UTF-8"}
			}
			if len(v) != 1 {
				return false, &decodeError{http.StatusBadRequest, CodeBadRequest, "field " + strconvQuote(k) + " is repeated"}
			}
			obj[k] = v[0]
		}
		body, _ = json.Marshal(obj)
	default:
		return false, &decodeError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"Content-Type must be application/json or application/x-www-form-urlencoded"}
	}
	// One strict decoder for both encodings: it refuses invalid UTF-8
	// (encoding/json would replace it with U+FFFD), and member names that
	// are not exactly a field's or that repeat (encoding/json would match
	// them case-insensitively and let the last one win), so that what is
	// stored or compared is what was sent.
	if err := strictjson.Decode(body, dst); err != nil {
		var (
			ute *json.UnmarshalTypeError
			fe  *strictjson.FieldError
		)
		switch {
		case errors.Is(err, strictjson.ErrInvalidUTF8):
			return false, &decodeError{http.StatusBadRequest, CodeInvalidEncoding, "request body is not valid UTF-8"}
		case errors.As(err, &fe) && fe.Repeated:
			return false, &decodeError{http.StatusBadRequest, CodeBadRequest, "field " + strconvQuote(fe.Name) + " is repeated"}
		case errors.As(err, &fe):
			return false, &decodeError{http.StatusBadRequest, CodeUnknownField, "unknown field " + strconvQuote(fe.Name)}
		case errors.As(err, &ute):
			return false, &decodeError{http.StatusBadRequest, CodeMalformedJSON, "field " + strconvQuote(ute.Field) + " has the wrong type"}
		case errors.Is(err, strictjson.ErrNotObject):
			return false, &decodeError{http.StatusBadRequest, CodeMalformedJSON, "request body is not a JSON object"}
		case errors.Is(err, strictjson.ErrTrailing):
			return false, &decodeError{http.StatusBadRequest, CodeMalformedJSON, "request body has data after the JSON value"}
		}
		return false, &decodeError{http.StatusBadRequest, CodeMalformedJSON, "request body is not valid JSON"}
	}
	return false, nil
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
