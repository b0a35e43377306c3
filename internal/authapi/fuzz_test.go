package authapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/credential/credentialtest"
	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// The fuzz targets of the server's request parsing
// (docs/security/fuzzing.md). Each holds the code to a property, or to a
// simple reference implementation, not only to "does not panic".

// authVerifier stands in for the guard: it records the token it is asked
// about and accepts one.
type authVerifier struct{ got []string }

const fuzzGoodToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"

func (v *authVerifier) Verify(_ context.Context, raw string) (*guard.Principal, error) {
	v.got = append(v.got, raw)
	if raw == fuzzGoodToken {
		return &guard.Principal{Subject: "u", ClientID: "gatehouse"}, nil
	}
	return nil, guard.ErrMalformed
}

// FuzzAuthorization: where authenticate() takes the access token from.
//   - With an Authorization header, the cookie is never read; the
//     verifier is asked only if the scheme is Bearer (any case), and only
//     about a non-empty token without surrounding white space, which is
//     exactly the b64token for RFC 6750 §2.1 credentials.
//   - Without one, the access cookie is read: a duplicate is refused
//     without asking the verifier, and the verifier is asked about the
//     cookie's value when there is one.
//   - A request is authenticated only when the verifier accepted the
//     token, and it is answered otherwise with 400 or 401.
func FuzzAuthorization(f *testing.F) {
	f.Add("Bearer "+fuzzGoodToken, "")
	f.Add("bearer   "+fuzzGoodToken+" ", "__Host-gh_at=x")
	f.Add("", "__Host-gh_at="+fuzzGoodToken)
	f.Add("", "__Host-gh_at="+fuzzGoodToken+"; __Host-gh_at=x")
	f.Add("Basic dXNlcjpwYXNz", "__Host-gh_at="+fuzzGoodToken)
	f.Add("Bearer", "")
	f.Add("Bearer \t", "")
	f.Add("Bearer a b", "")
	f.Fuzz(func(t *testing.T, authz, cookies string) {
		v := &authVerifier{}
		s := &Server{verifier: v, log: slog.New(slog.DiscardHandler), firstParty: "gatehouse"}
		r := httptest.NewRequest(http.MethodGet, "/auth/session", nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if cookies != "" {
			r.Header.Set("Cookie", cookies)
		}
		w := httptest.NewRecorder()
		a, ok := s.authenticate(w, r)
		if len(v.got) > 1 {
			t.Fatalf("verifier asked %d times", len(v.got))
		}
		asked := len(v.got) == 1
		if ok != (asked && v.got[0] == fuzzGoodToken) || ok && a.principal == nil {
			t.Fatalf("ok=%v after the verifier was asked %q", ok, v.got)
		}
		if !ok && w.Code != http.StatusUnauthorized && w.Code != http.StatusBadRequest {
			t.Fatalf("refused with %d", w.Code)
		}
		if authz != "" {
			scheme, rest, _ := strings.Cut(authz, " ")
			if asked {
				tok := v.got[0]
				if !strings.EqualFold(scheme, "Bearer") || tok == "" || tok != strings.TrimSpace(tok) || tok != strings.TrimSpace(rest) || a.viaCookie {
					t.Fatalf("Authorization %q: verifier asked about %q", authz, tok)
				}
			}
			if b64, isRFC := credentialtest.BearerToken(authz); isRFC && (!asked || v.got[0] != b64) {
				t.Fatalf("RFC 6750 credentials %q: verifier asked %q", authz, v.got)
			}
			return
		}
		vals := credentialtest.Cookies([]string{cookies}, credential.CookieAccess)
		switch {
		case len(vals) > 1 && (asked || w.Code != http.StatusBadRequest):
			t.Fatalf("duplicate access cookie %q: asked %q, status %d", cookies, v.got, w.Code)
		case len(vals) == 1 && vals[0] != "" && (!asked || v.got[0] != vals[0]):
			t.Fatalf("access cookie %q: verifier asked %q", vals[0], v.got)
		case len(vals) == 0 && asked:
			t.Fatalf("no access cookie in %q, verifier asked %q", cookies, v.got)
		}
	})
}

// fuzzOrigins are the login-allowed origins of FuzzLoginOrigin.
var fuzzOrigins = []string{"http://localhost:8080", "https://app.example.com"}

// FuzzLoginOrigin: the login-CSRF check.
//   - An Origin header decides alone, and is let through only if it is
//     exactly an allowed origin.
//   - Without Origin, a Referer is let through only if the page it names
//     (userinfo aside, which browsers never send; the scheme in any case)
//     is on an allowed origin: the origin followed by the end, "/", "?"
//     or "#".
//   - With neither, only a bearer-mode login without Fetch Metadata
//     passes (a script, not a browser).
func FuzzLoginOrigin(f *testing.F) {
	f.Add("http://localhost:8080", "", "", "", false)
	f.Add("", "http://localhost:8080/login?next=/", "same-origin", "cors", false)
	f.Add("", "http://localhost:8080.evil.com/", "", "", false)
	f.Add("", "http://user@localhost:8080/", "", "", false)
	f.Add("", "http://localhost:8080@evil.com/", "", "", false)
	f.Add("", "http://evil.com\\@localhost:8080/", "", "", false)
	f.Add("null", "https://app.example.com/", "", "", true)
	f.Add("", "", "", "", true)
	f.Add("", "", "cross-site", "", true)
	f.Add("", "", "", "cors", true)
	f.Add("HTTP://LOCALHOST:8080", "", "", "", false)
	f.Add("", "https://app.example.com:443/", "", "", false)
	pub, _ := url.Parse(fuzzOrigins[0])
	e, err := edge.New(edge.Config{PublicURL: pub, AllowedOrigins: fuzzOrigins[1:]})
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{edge: e}
	f.Fuzz(func(t *testing.T, origin, referer, site, mode string, bearer bool) {
		r := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
		for k, v := range map[string]string{"Origin": origin, "Referer": referer, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": mode} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		code, _ := s.loginOriginCheck(r, bearer)
		if code != "" {
			if code != problem.CodeForbiddenOrigin {
				t.Fatalf("refused with %q", code)
			}
			return
		}
		switch {
		case origin != "":
			if !s.edge.Trusted(origin) {
				t.Fatalf("Origin %q let through", origin)
			}
		case referer != "":
			page := referer
			if scheme, rest, ok := strings.Cut(page, "://"); ok {
				// Userinfo ends at the last "@" before the path.
				auth := rest
				if i := strings.IndexAny(auth, "/?#"); i >= 0 {
					auth = auth[:i]
				}
				if at := strings.LastIndexByte(auth, '@'); at >= 0 {
					rest = rest[at+1:]
				}
				// The scheme is case-insensitive (RFC 3986 §3.1):
				// "Http://localhost:8080" is on http://localhost:8080.
				page = strings.ToLower(scheme) + "://" + rest
			}
			onAllowed := false
			for _, o := range fuzzOrigins {
				rest, ok := strings.CutPrefix(page, o)
				onAllowed = onAllowed || ok && (rest == "" || strings.ContainsRune("/?#", rune(rest[0])))
			}
			if !onAllowed {
				t.Fatalf("Referer %q let through", referer)
			}
		default:
			// Sec-Fetch-Mode alone is no browser's (Node's fetch sends it).
			if !bearer || site != "" {
				t.Fatalf("no Origin or Referer let through: bearer=%v site=%q mode=%q", bearer, site, mode)
			}
		}
	})
}

// decodeTypes are the request types decode() fills: every body the
// server reads.
var decodeTypes = []func() any{
	func() any { return &loginRequest{} },
	func() any { return &refreshRequest{} },
	func() any { return &logoutRequest{} },
	func() any { return &logoutAllRequest{} },
	func() any { return &changePasswordRequest{} },
	func() any { return &createUserRequest{} },
	func() any { return &setRolesRequest{} },
	func() any { return &setPasswordRequest{} },
	func() any { return &struct{}{} }, // noBody
}

// jsonNames returns the exact JSON member names of the struct v points to.
func jsonNames(v any) map[string]bool {
	names := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	return names
}

// refMembers reads the members of a top-level JSON object with
// encoding/json's tokenizer: the names in order, repeats included.
func refMembers(b []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil, false
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	_, err = dec.Token()
	return names, err == io.EOF
}

// fuzzEdge decodes FuzzDecode's bodies, with a body bound of 1 KiB;
// roundTripEdge their re-encoded values, with 1 MiB.
var fuzzEdge, roundTripEdge = newDecodeEdge(1 << 10), newDecodeEdge(1 << 20)

func newDecodeEdge(limit int64) *edge.Edge {
	pub, _ := url.Parse("http://localhost:8080")
	e, err := edge.New(edge.Config{PublicURL: pub, MaxBodyBytes: limit})
	if err != nil {
		panic(err)
	}
	return e
}

// FuzzDecode: the edge's decode() for every request type, as JSON and as a form.
//   - An empty (all white space) body is reported empty and nothing else.
//   - Every refusal is a decodeError with a 400, 413 or 415.
//   - A body is accepted only with a JSON or form media type, in valid
//     UTF-8, as one JSON object (a form: pairs) with nothing after it,
//     whose member names are exactly the type's JSON names, none twice.
//   - What is accepted survives a round trip: the decoded value, encoded
//     as JSON and decoded again, is the same value.
func FuzzDecode(f *testing.F) {
	const ctJSON, ctForm = "application/json", "application/x-www-form-urlencoded"
	for _, c := range []struct {
		body, ct string
		typ      uint8
	}{
		{`{"username":"alice","password":"correct horse battery staple","mode":"bearer"}`, ctJSON, 0},
		{`username=alice&password=correct+horse&mode=cookie`, ctForm, 0},
		{`{"refresh_token":"ghr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","grant_type":"refresh_token"}`, ctJSON + "; charset=utf-8", 1},
		{`grant_type=refresh_token&refresh_token=ghr_x`, ctForm, 1},
		{`{"refresh_token":""}`, ctJSON, 2},
		{`{"keep_current":true}`, ctJSON, 3},
		{`{"current_password":"a","new_password":"b"}`, ctJSON, 4},
		{`{"username":"bob","password":"pw","roles":["admin","reader"]}`, ctJSON, 5},
		{`{"roles":[]}`, ctJSON, 6},
		{`{"roles":null}`, ctJSON, 6},
		{`{"password":"new one"}`, ctJSON, 7},
		{`{}`, ctJSON, 8},
		{"   \r\n", "", 0},
		{`{"username":"a","username":"b"}`, ctJSON, 0},
		{`{"USERNAME":"a"}`, ctJSON, 0},
		{`{"roles":["reader"],"roles":["admin"]}`, ctJSON, 6},
		{`{"username":"a\u0000"} {}`, ctJSON, 0},
		{"{\"username\":\"\xff\"}", ctJSON, 0},
		{`username=%FF`, ctForm, 0},
		{`username=a&username=b`, ctForm, 0},
		{`null`, ctJSON, 0},
		{`{"keep_current":"yes"}`, ctJSON, 3},
		{`{"x":1}`, "text/plain", 8},
		{strings.Repeat(" ", 2000), ctJSON, 0},
	} {
		f.Add([]byte(c.body), c.ct, c.typ)
	}
	f.Fuzz(func(t *testing.T, body []byte, ct string, typ uint8) {
		newDst := decodeTypes[int(typ)%len(decodeTypes)]
		dst := newDst()
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		empty, ok := fuzzEdge.Decode(rec, r, dst)
		if len(body) > 1<<10 {
			if ok || rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a body of %d bytes: ok=%v status %d", len(body), ok, rec.Code)
			}
			return
		}
		if len(bytes.TrimSpace(body)) == 0 || empty {
			if !empty || !ok {
				t.Fatalf("body %q: empty=%v ok=%v", body, empty, ok)
			}
			return
		}
		if !ok {
			if rec.Code != 400 && rec.Code != 413 && rec.Code != 415 {
				t.Fatalf("refusal %d %s", rec.Code, rec.Body)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted a body that is not UTF-8: %q", body)
		}
		doc := body
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != ctJSON && mt != ctForm {
			t.Fatalf("accepted content type %q", ct)
		}
		switch mt {
		case ctForm:
			vals, err := url.ParseQuery(string(body))
			if err != nil {
				t.Fatalf("accepted a malformed form %q", body)
			}
			obj := map[string]string{}
			for k, v := range vals {
				if len(v) != 1 || !utf8.ValidString(k) || !utf8.ValidString(v[0]) {
					t.Fatalf("accepted form %q: field %q is %q", body, k, v)
				}
				obj[k] = v[0]
			}
			doc, _ = json.Marshal(obj)
		}
		names, ok := refMembers(doc)
		if !ok {
			t.Fatalf("accepted %q (content type %q), which is not one JSON object", body, ct)
		}
		known, seen := jsonNames(dst), map[string]bool{}
		for _, n := range names {
			if !known[n] || seen[n] {
				t.Fatalf("accepted %q: member %q unknown or repeated for %T", body, n, dst)
			}
			seen[n] = true
		}
		again, err := json.Marshal(dst)
		if err != nil {
			t.Fatal(err)
		}
		dst2 := newDst()
		r = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(again))
		r.Header.Set("Content-Type", ctJSON)
		if _, ok := roundTripEdge.Decode(httptest.NewRecorder(), r, dst2); !ok || !reflect.DeepEqual(dst, dst2) {
			t.Fatalf("round trip of %q: %s gave %+v, ok=%v", body, again, dst2, ok)
		}
	})
}
