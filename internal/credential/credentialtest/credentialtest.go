// Package credentialtest holds reference readers of request credentials,
// written plainly from the RFCs' grammars, that the fuzz targets of the
// credential reader and of its callers compare against.
package credentialtest

import "strings"

// Cookies is the reference reading of Cookie headers (RFC 6265 §5.4,
// with net/http's leniencies): pairs split at ";" and trimmed of white
// space, cut at the first "=" (a pair without one is a name with an empty
// value), the name trimmed too; a value may be quoted once and is
// otherwise cookie-octets, space and comma. It returns the values of the
// pairs named name.
func Cookies(headers []string, name string) []string {
	var out []string
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ";") {
			n, v, _ := strings.Cut(strings.Trim(part, " \t\r\n"), "=")
			if strings.Trim(n, " \t\r\n") != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			valid := true
			for _, c := range []byte(v) {
				if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
					valid = false
				}
			}
			if valid {
				out = append(out, v)
			}
		}
	}
	return out
}

// BearerToken returns the token of `Bearer 1*SP b64token` credentials
// (RFC 6750 §2.1), b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=", and whether v is such credentials.
func BearerToken(v string) (string, bool) {
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimLeft(rest, " ")
	body := strings.TrimRight(tok, "=")
	if body == "" {
		return "", false
	}
	for _, c := range []byte(body) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return "", false
		}
	}
	return tok, true
}
