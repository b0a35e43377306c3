package credential

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/credential/credentialtest"
)

// The fuzz targets of the credential reader (docs/security/fuzzing.md).
// Each holds the code to a reference reader, not only to "does not panic".

var fuzzNames = Names{Access: "__Host-gh_at", Refresh: "__Secure-gh_rt", CSRF: "XSRF-TOKEN"}

// FuzzCookies: Cookies refuses exactly the requests in which the reference
// reader finds one of the three names more than once (cookie tossing), and
// otherwise returns, for each name, the value the reference finds, or "".
// which picks the name whose value the seeds are about; every name is
// checked.
func FuzzCookies(f *testing.F) {
	f.Add("__Host-gh_at=eyJhbGciOiJFUzI1NiJ9.e30.c2ln; XSRF-TOKEN=abc.def", "", uint8(0))
	f.Add("XSRF-TOKEN=a; XSRF-TOKEN=b", "", uint8(2))
	f.Add("__Secure-gh_rt=ghr_x", "__Secure-gh_rt=ghr_y", uint8(1))
	f.Add(`XSRF-TOKEN="quoted"; XSRF-TOKEN="bad`, "", uint8(2))
	f.Add("xsrf-token=a; XSRF-TOKEN =b;  XSRF-TOKEN=c", "", uint8(2))
	f.Add("__Host-gh_at=; __Host-gh_at=", "\t__Host-gh_at=x\t", uint8(0))
	f.Fuzz(func(t *testing.T, h1, h2 string, _ uint8) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		var headers []string
		for _, h := range []string{h1, h2} {
			if h != "" {
				r.Header.Add("Cookie", h)
				headers = append(headers, h)
			}
		}
		if strings.Count(h1+h2, ";") > 1000 {
			return // net/http reads no cookie at all past its limit on their number
		}
		j, err := Cookies(r, fuzzNames)
		got := map[string]string{fuzzNames.Access: j.Access, fuzzNames.Refresh: j.Refresh, fuzzNames.CSRF: j.CSRF}
		dup := false
		for name := range got {
			if len(credentialtest.Cookies(headers, name)) > 1 {
				dup = true
			}
		}
		if dup != (err != nil) {
			t.Fatalf("%q: duplicate per the reference %v, Cookies error %v", headers, dup, err)
		}
		if err != nil {
			return
		}
		for name, v := range got {
			want := credentialtest.Cookies(headers, name)
			if len(want) == 1 && v != want[0] || len(want) == 0 && v != "" {
				t.Fatalf("%q: %s read %q, reference %q", headers, name, v, want)
			}
		}
	})
}

// FuzzBearer: the reading of the Authorization header accepts exactly the
// headers of RFC 6750 §2.1's grammar ("Bearer", any case, spaces, a
// b64token), each with its token, as a plain reference reader finds it;
// two header values are never accepted, and a request without the header
// has no token and no error.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig", "bearer  abc", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
		"Bearer a b", "Bearer\tabc", "BEARER abc=", "Bearer abc\t", "Bearer \x00", "Bearerabc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		read := func(values ...string) (string, bool, error) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = values
			return Bearer(r)
		}
		tok, present, err := read(v)
		if !present {
			t.Fatalf("%q: header not seen", v)
		}
		// Exactly the credentials of RFC 6750 §2.1's grammar are accepted,
		// each with its token.
		want, isRFC := credentialtest.BearerToken(v)
		if isRFC != (err == nil) || isRFC && tok != want {
			t.Fatalf("%q: token %q, error %v; RFC 6750 credentials: %v", v, tok, err, isRFC)
		}
		if _, _, err := read(v, v); err == nil {
			t.Fatalf("two Authorization values accepted: %q", v)
		}
		if _, present, err := read(); present || err != nil {
			t.Fatal("no header, yet present or an error")
		}
	})
}
