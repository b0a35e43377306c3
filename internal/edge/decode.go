package edge

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

	"github.com/gatehouse-auth/gatehouse/internal/problem"
	"github.com/gatehouse-auth/gatehouse/internal/strictjson"
)

// RequestError is a request refused for what it sent (its body, its
// query), with its answer.
type RequestError struct {
	Status int
	Code   string
	Detail string
}

func (e *RequestError) Error() string { return e.Detail }

// Write sends the refusal as a problem.
func (e *RequestError) Write(w http.ResponseWriter) { WriteProblem(w, e.Status, e.Code, e.Detail) }

// Decode reads the request's body into dst within the body bound (decode);
// a refusal is written to w and ok is false.
func (e *Edge) Decode(w http.ResponseWriter, r *http.Request, dst any) (empty, ok bool) {
	empty, err := decode(w, r, e.cfg.MaxBodyBytes, dst)
	var re *RequestError
	if errors.As(err, &re) {
		re.Write(w)
		return false, false
	}
	return empty, true
}

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
			return false, &RequestError{http.StatusRequestEntityTooLarge, problem.CodeBodyTooLarge, "request body is larger than the limit"}
		}
		return false, &RequestError{http.StatusBadRequest, problem.CodeBadRequest, "could not read the request body"}
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
			return false, &RequestError{http.StatusBadRequest, problem.CodeBadRequest, "malformed form body"}
		}
		obj := make(map[string]string, len(vals))
		for k, v := range vals {
			if !utf8.ValidString(k) || !utf8.ValidString(strings.Join(v, "")) {
				return false, &RequestError{http.StatusBadRequest, problem.CodeInvalidEncoding, "request body is not valid UTF-8"}
			}
			if len(v) != 1 {
				return false, &RequestError{http.StatusBadRequest, problem.CodeBadRequest, "field " + Quote(k) + " is repeated"}
			}
			obj[k] = v[0]
		}
		body, _ = json.Marshal(obj)
	default:
		return false, &RequestError{http.StatusUnsupportedMediaType, problem.CodeUnsupportedMedia,
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
			return false, &RequestError{http.StatusBadRequest, problem.CodeInvalidEncoding, "request body is not valid UTF-8"}
		case errors.As(err, &fe) && fe.Repeated:
			return false, &RequestError{http.StatusBadRequest, problem.CodeBadRequest, "field " + Quote(fe.Name) + " is repeated"}
		case errors.As(err, &fe):
			return false, &RequestError{http.StatusBadRequest, problem.CodeUnknownField, "unknown field " + Quote(fe.Name)}
		case errors.As(err, &ute):
			return false, &RequestError{http.StatusBadRequest, problem.CodeMalformedJSON, "field " + Quote(ute.Field) + " has the wrong type"}
		case errors.Is(err, strictjson.ErrNotObject):
			return false, &RequestError{http.StatusBadRequest, problem.CodeMalformedJSON, "request body is not a JSON object"}
		case errors.Is(err, strictjson.ErrTrailing):
			return false, &RequestError{http.StatusBadRequest, problem.CodeMalformedJSON, "request body has data after the JSON value"}
		}
		return false, &RequestError{http.StatusBadRequest, problem.CodeMalformedJSON, "request body is not valid JSON"}
	}
	return false, nil
}

// Quote writes s as a JSON string, for naming a field in a detail.
func Quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
