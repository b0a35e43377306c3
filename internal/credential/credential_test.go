package credential

import (
	"errors"
	"net/http/httptest"
	"testing"
)

func TestBearer(t *testing.T) {
	for _, c := range []struct {
		name    string
		values  []string
		tok     string
		present bool
		err     error
	}{
		{"none", nil, "", false, nil},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true, nil},
		{"scheme in any case, spaces after it", []string{"bEaReR   abc"}, "abc", true, nil},
		{"b64token with padding", []string{"Bearer a-b_c~d+e/f=="}, "a-b_c~d+e/f==", true, nil},
		{"Basic", []string{"Basic YTpi"}, "", true, ErrMalformedAuthorization},
		{"scheme alone", []string{"Bearer"}, "", true, ErrMalformedAuthorization},
		{"scheme and a space", []string{"Bearer "}, "", true, ErrMalformedAuthorization},
		{"empty", []string{""}, "", true, ErrMalformedAuthorization},
		{"two tokens", []string{"Bearer a b"}, "", true, ErrMalformedAuthorization},
		{"trailing space", []string{"Bearer a "}, "", true, ErrMalformedAuthorization},
		{"tab", []string{"Bearer a\tb"}, "", true, ErrMalformedAuthorization},
		{"tab after the scheme", []string{"Bearer\ta"}, "", true, ErrMalformedAuthorization},
		{"two headers", []string{"Bearer a", "Bearer a"}, "", true, ErrMalformedAuthorization},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.values != nil {
				r.Header["Authorization"] = c.values
			}
			tok, present, err := Bearer(r)
			if tok != c.tok || present != c.present || !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
				t.Fatalf("got %q %v %v, want %q %v %v", tok, present, err, c.tok, c.present, c.err)
			}
		})
	}
}

func TestCookies(t *testing.T) {
	for _, c := range []struct {
		name, header string
		want         Jar
		dup          string
	}{
		{"none", "", Jar{}, ""},
		{"all three and others", "a=1; __Host-gh_at=at; __Secure-gh_rt=rt; XSRF-TOKEN=x; b=2", Jar{Access: "at", Refresh: "rt", CSRF: "x"}, ""},
		{"access twice", "__Host-gh_at=a; __Host-gh_at=b", Jar{}, "__Host-gh_at"},
		{"refresh twice, one empty", "__Secure-gh_rt=; __Secure-gh_rt=b", Jar{}, "__Secure-gh_rt"},
		{"CSRF twice on a read", "__Host-gh_at=a; XSRF-TOKEN=x; XSRF-TOKEN=y", Jar{}, "XSRF-TOKEN"},
		{"names are case-sensitive", "xsrf-token=x; XSRF-TOKEN=y", Jar{CSRF: "y"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Cookie", c.header)
			}
			j, err := Cookies(r, fuzzNames)
			var dup *DuplicateCookieError
			switch {
			case c.dup != "" && (!errors.As(err, &dup) || dup.Name != c.dup):
				t.Fatalf("got %+v, %v; want a duplicate %s", j, err, c.dup)
			case c.dup == "" && (err != nil || j != c.want):
				t.Fatalf("got %+v, %v; want %+v", j, err, c.want)
			}
		})
	}
}

func TestSubmitted(t *testing.T) {
	for _, c := range []struct {
		name   string
		header []string
		cookie string
		ok     bool
	}{
		{"equal", []string{"tok"}, "tok", true},
		{"no header", nil, "tok", false},
		{"empty header and cookie", []string{""}, "", false},
		{"no cookie", []string{"tok"}, "", false},
		{"different", []string{"tok"}, "tik", false},
		{"prefix", []string{"to"}, "tok", false},
		{"two headers", []string{"tok", "tok"}, "tok", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if c.header != nil {
				r.Header["X-Xsrf-Token"] = c.header
			}
			v, ok := Submitted(r, "X-XSRF-TOKEN", Jar{CSRF: c.cookie})
			if ok != c.ok || ok && v != c.cookie {
				t.Fatalf("got %q %v, want ok=%v", v, ok, c.ok)
			}
		})
	}
}
