package guard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
)

// Cookie-borne requests need CSRF defence; bearer requests do not, since
// a browser never attaches an Authorization header on its own (RFC 6750
// §5.3, OWASP CSRF cheat sheet). Two layers, as in Gatehouse itself:
//
//  1. Fetch Metadata / Origin (net/http's CrossOriginProtection): a
//     browser's cross-site unsafe request is refused before anything else.
//  2. Session-bound double submit: the CSRFHeader must equal the
//     CSRFCookie (the page could read the cookie, so it is the page
//     speaking), and the SHA-256 of that value must be the token's
//     csrf_hash claim, so a pair planted by a sibling subdomain, or taken
//     from another session, does not pass (SECURITY-CHECKLIST 19: the
//     naive unsigned double submit is not enough).

// readCookies returns our cookies, through the reader the server uses
// too; a name present twice is an error (the browser sends two when a
// second one was planted with another Domain or Path — cookie tossing —
// and which is genuine cannot be told).
func (g *Guard) readCookies(r *http.Request) (credential.Jar, bool) {
	j, err := credential.Cookies(r, credential.Names{Access: g.cfg.AccessCookie, Refresh: g.cfg.RefreshCookie, CSRF: g.cfg.CSRFCookie})
	return j, err == nil
}

// csrfOK checks the double submit against the token's csrf_hash, in
// constant time at each comparison.
func (g *Guard) csrfOK(r *http.Request, j credential.Jar, p *Principal) bool {
	header, ok := credential.Submitted(r, g.cfg.CSRFHeader, j)
	if !ok || p.CSRFHash == "" {
		return false
	}
	sum := sha256.Sum256([]byte(header))
	var enc [43]byte // base64url of 32 bytes, no padding
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return subtle.ConstantTimeCompare(enc[:], []byte(p.CSRFHash)) == 1
}
