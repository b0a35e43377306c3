package authapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/credential"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/token"
	"github.com/gatehouse-auth/gatehouse/internal/token/jwstest"
)

// The rows of the catalogue, by family, and the builders they share.

// presented is a request presenting tok as a Bearer token: to GET
// /auth/session at the server, to the trivial handler behind a guard.
func presented(tok string) request {
	return request{method: "GET", path: "/auth/session", headers: []string{"Authorization", "Bearer " + tok}}
}

// tokenRow is a forged or misused access token presented as a Bearer
// token to the server and to the guard.
func tokenRow(name, source string, mint func(t *testing.T, a *arena) string, want wants) attack {
	return attack{name: name, source: source, targets: onServer | onGuard, want: want,
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return presented(mint(t, a)), nil
		}}
}

// serverRow is an attack on the server alone, with no setup.
func serverRow(name, source string, q func(a *arena) request, want outcome) attack {
	return attack{name: name, source: source, targets: onServer, want: serverOnly(want),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) { return q(a), nil }}
}

// adminQuery is an admin API call with an injection in one place.
func adminQuery(method, path string, body any) func(a *arena) request {
	return func(a *arena) request {
		return request{method: method, path: path, body: body, headers: []string{"Authorization", a.admin}}
	}
}

// jsonList checks that the answer's list under key has n entries.
func jsonList(key string, n int) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var v map[string]json.RawMessage
		r.json(t, &v)
		var list []json.RawMessage
		if err := json.Unmarshal(v[key], &list); err != nil || len(list) != n {
			t.Errorf("%s: %d entries, want %d (%v): %s", key, len(list), n, err, r.Body)
		}
	}
}

// literalMatches checks that every entry of the answer's list under key
// has field equal to the injection itself: the filter compared the
// string literally (an injected OR '1'='1' would list every entry).
func literalMatches(key, field string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		var v map[string]json.RawMessage
		r.json(t, &v)
		var list []map[string]any
		if err := json.Unmarshal(v[key], &list); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for _, e := range list {
			if e[field] != sqlInjection {
				t.Errorf("%s entry with %s %q: the filter did not match literally", key, field, e[field])
			}
		}
	}
}

// sqlInjection is the payload every string input gets.
const sqlInjection = `' OR '1'='1`

// attackCatalogue returns every row. It is a function of nothing, so the
// documentation test can read the names without running an attack.
func attackCatalogue() []attack {
	var rows []attack
	add := func(r ...attack) { rows = append(rows, r...) }

	// Algorithm "none", spelled every way, with and without a signature.
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		hdr := func(a *arena) string {
			return `{"alg":"` + alg + `","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"}`
		}
		add(tokenRow("alg "+alg+" without signature", "RFC 8725 §3.1; RFC 7518 §3.6; ASVS 9.1.2",
			func(t *testing.T, a *arena) string {
				return jwstest.B64([]byte(hdr(a))) + "." + jwstest.B64(a.payload(nil)) + "."
			}, wantBadSig),
			tokenRow("alg "+alg+" with a valid signature", "RFC 8725 §3.1; RFC 7518 §3.6; ASVS 9.1.2",
				func(t *testing.T, a *arena) string { return es256(t, a.key, hdr(a), a.payload(nil)) }, wantBadSig))
	}

	// Key confusion: HMAC keyed with what the attacker can read.
	hsHeader := func(a *arena) string { return `{"alg":"HS256","kid":` + strconv.Quote(a.kid) + `,"typ":"at+jwt"}` }
	add(tokenRow("HS256 keyed with the EC public key (PEM)", "RFC 8725 §3.1–3.2; CVE-2016-10555",
		func(t *testing.T, a *arena) string { return jwstest.HS256(hsHeader(a), a.payload(nil), a.publicPEM(t)) }, wantBadSig),
		tokenRow("HS256 keyed with the EC public key (point bytes)", "RFC 8725 §3.1–3.2; CVE-2016-10555",
			func(t *testing.T, a *arena) string {
				pt, err := a.key.PublicKey.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				return jwstest.HS256(hsHeader(a), a.payload(nil), pt)
			}, wantBadSig),
		tokenRow("HS256 keyed with the JWKS JSON", "RFC 8725 §3.1–3.2; CVE-2016-10555",
			func(t *testing.T, a *arena) string { return jwstest.HS256(hsHeader(a), a.payload(nil), a.jwks) }, wantBadSig))

	// Signatures that are not signatures.
	add(tokenRow("null signature (empty third segment)", "CVE-2020-28042; RFC 7515 §5.2",
		func(t *testing.T, a *arena) string {
			s := segments(a.victim.AccessToken)
			return s[0] + "." + s[1] + "."
		}, wantBadSig),
		tokenRow("truncated signature", "RFC 7518 §3.4; RFC 7515 §5.2",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + s[1] + "." + s[2][:len(s[2])/2]
			}, wantBadSig),
		tokenRow("ECDSA psychic signature r=s=0", "CVE-2022-21449; RFC 8725 §3.4",
			func(t *testing.T, a *arena) string {
				s := segments(a.forge(t, "", map[string]any{"sub": a.userID(t, adminUser), "roles": []string{"admin"}}))
				return s[0] + "." + s[1] + "." + jwstest.B64(make([]byte, 64))
			}, wantBadSig),
		tokenRow("ECDSA malleability: the (r, n-s) twin of a valid token", "RFC 7518 §3.4; BIP 62; ASVS 9.1.1",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + s[1] + "." + jwstest.B64(highS(t, s[2]))
			}, wantBadSig),
		tokenRow("tampered claims under the original signature", "RFC 7515 §5.2; ASVS 9.1.1",
			func(t *testing.T, a *arena) string {
				s := segments(a.victim.AccessToken)
				return s[0] + "." + jwstest.B64(a.payload(map[string]any{"roles": []string{"admin"}})) + "." + s[2]
			}, wantBadSig),
		tokenRow("signed by an attacker key under the server's kid", "RFC 7515 §5.2; ASVS 9.1.1",
			func(t *testing.T, a *arena) string { return es256(t, a.evil, a.header(""), a.payload(nil)) }, wantBadSig))

	// Keys named by the token itself. The attacker's server must not hear
	// a single request (checked for every row).
	evilHeader := func(extra string) string { return `{"alg":"ES256","kid":"attacker-1","typ":"at+jwt",` + extra + `}` }
	add(tokenRow("embedded jwk header with the attacker's key", "CVE-2018-0114; RFC 8725 §3.10; ASVS 9.1.3",
		func(t *testing.T, a *arena) string {
			jwk, _ := json.Marshal(jose.JSONWebKey{Key: &a.evil.PublicKey, KeyID: "attacker-1", Algorithm: "ES256"})
			return es256(t, a.evil, evilHeader(`"jwk":`+string(jwk)), a.payload(nil))
		}, wantMalformed),
		tokenRow("jku pointing to the attacker's key set", "RFC 8725 §3.10 (SSRF); RFC 7515 §4.1.2; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"jku":`+strconv.Quote(a.evilURL+"/jwks.json")), a.payload(nil))
			}, wantMalformed),
		tokenRow("x5u pointing to the attacker's certificate", "RFC 8725 §3.10 (SSRF); RFC 7515 §4.1.5; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"x5u":`+strconv.Quote(a.evilURL+"/cert.pem")), a.payload(nil))
			}, wantMalformed),
		tokenRow("x5c with the attacker's self-signed certificate", "RFC 7515 §4.1.6; ASVS 9.1.3",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, evilHeader(`"x5c":["`+a.evilCert(t)+`"]`), a.payload(nil))
			}, wantMalformed))

	// kid is untrusted input: never a path, never SQL, bounded.
	add(tokenRow("kid path traversal to /dev/null with HS256 and an empty key", "RFC 8725 §3.10",
		func(t *testing.T, a *arena) string {
			return jwstest.HS256(`{"alg":"HS256","kid":"../../../../dev/null","typ":"at+jwt"}`, a.payload(nil), nil)
		}, wantBadSig),
		tokenRow("kid path traversal with ES256", "RFC 8725 §3.10",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":"../../../../dev/null","typ":"at+jwt"}`, a.payload(nil))
			}, wantBadSig),
		tokenRow("kid SQL injection", "RFC 8725 §3.10; ASVS 1.2.4",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":`+strconv.Quote(sqlInjection)+`,"typ":"at+jwt"}`, a.payload(nil))
			}, wantBadSig),
		tokenRow("kid SQL UNION selecting a known HMAC key", "RFC 8725 §3.10; ASVS 1.2.4",
			func(t *testing.T, a *arena) string {
				return jwstest.HS256(`{"alg":"HS256","kid":"x' UNION SELECT 'key' --","typ":"at+jwt"}`, a.payload(nil), []byte("key"))
			}, wantBadSig),
		tokenRow("kid of 10 KB", "RFC 8725 §3.10; CVE-2025-30204",
			func(t *testing.T, a *arena) string {
				return es256(t, a.evil, `{"alg":"ES256","kid":"`+strings.Repeat("k", 10<<10)+`","typ":"at+jwt"}`, a.payload(nil))
			}, wantMalformed))

	// Header extensions and encodings the verifier must refuse, all signed
	// with the server's own key: even Gatehouse's key does not make them
	// acceptable.
	add(tokenRow(`crit ["exp"]`, "RFC 7515 §4.1.11",
		func(t *testing.T, a *arena) string {
			return a.forge(t, `,"crit":["exp"],"exp":`+strconv.FormatInt(a.Clock.Now().Add(time.Hour).Unix(), 10), nil)
		}, wantMalformed),
		tokenRow("crit naming an unknown extension", "RFC 7515 §4.1.11",
			func(t *testing.T, a *arena) string {
				return a.forge(t, `,"crit":["urn:example:unknown"],"urn:example:unknown":true`, nil)
			}, wantMalformed),
		tokenRow("nested JWS (cty JWT, a JWS as the payload)", "RFC 7519 §5.2, §7.2; RFC 8725 §3.11",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, a.header(`,"cty":"JWT"`), []byte(a.victim.AccessToken))
			}, wantMalformed),
		tokenRow("compressed payload (zip DEF)", "RFC 8725 §3.6; RFC 7516 §4.1.3; CVE-2024-28180",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, a.header(`,"zip":"DEF"`), deflate(t, a.payload(nil)))
			}, wantMalformed),
		tokenRow("b64 false (unencoded payload)", "RFC 7797 §3; RFC 7515 §4.1.11",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"b64":false,"crit":["b64"]`, nil) }, wantMalformed),
		tokenRow(`duplicate header member {"alg":"ES256","alg":"none"}`, "RFC 7515 §4; RFC 8725 §3.1",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"alg":"none"`, nil) }, wantMalformed),
		tokenRow(`duplicate header member {"alg":"none","alg":"ES256"}`, "RFC 7515 §4; RFC 8725 §3.1",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"none","kid":`+strconv.Quote(a.kid)+`,"typ":"at+jwt","alg":"ES256"}`, a.payload(nil))
			}, wantMalformed),
		tokenRow(`duplicate claim (two "sub")`, "RFC 7519 §4",
			func(t *testing.T, a *arena) string {
				p := a.payload(nil)
				dup := append([]byte(`{"sub":`+strconv.Quote(a.userID(t, adminUser))+`,`), p[1:]...)
				return es256(t, a.key, a.header(""), dup)
			}, wantMalformed),
		tokenRow("escaped header name spelling jwk", "RFC 7515 §4; RFC 8725 §3.10",
			func(t *testing.T, a *arena) string { return a.forge(t, `,"\u006awk":{}`, nil) }, wantMalformed))

	// Size: refused before any decoding, at the header-size cap for the
	// server and the token-size cap for the guard.
	headersTooLarge := problemOnly(431, "headers_too_large")
	add(tokenRow("huge header (100 KB)", "RFC 8725 §3.10; CVE-2025-30204; OWASP API4:2023",
		func(t *testing.T, a *arena) string {
			return a.forge(t, `,"pad":"`+strings.Repeat("h", 100<<10)+`"`, nil)
		}, wants{server: headersTooLarge, guard: guardInvalid(descMalformed)}),
		tokenRow("huge claims (100 KB)", "CVE-2025-30204; OWASP API4:2023",
			func(t *testing.T, a *arena) string { return es256(t, a.key, a.header(""), a.withPad(100<<10)) },
			wants{server: headersTooLarge, guard: guardInvalid(descMalformed)}),
		tokenRow("token one step over the 8 KiB cap, validly signed", "CVE-2025-30204; CVE-2025-27144",
			func(t *testing.T, a *arena) string {
				for n := 5800; ; n++ {
					if tok := es256(t, a.key, a.header(""), a.withPad(n)); len(tok) > 8<<10 { // the guard's cap (docs/guard.md)
						return tok
					}
				}
			}, wantMalformed))

	// Shape: exactly three base64url segments, nothing else.
	add(tokenRow("extra trailing dot", "RFC 7515 §7.1; CVE-2025-30204",
		func(t *testing.T, a *arena) string { return a.victim.AccessToken + "." }, wantMalformed),
		tokenRow("four segments", "RFC 7515 §7.1; CVE-2025-30204",
			func(t *testing.T, a *arena) string { return a.victim.AccessToken + ".e30" }, wantMalformed),
		tokenRow("many dots (1000)", "CVE-2025-30204; CVE-2025-27144",
			func(t *testing.T, a *arena) string { return strings.Repeat(".", 1000) }, wantMalformed),
		tokenRow("base64 padding on the signature", "RFC 7515 §2 (base64url without padding)",
			func(t *testing.T, a *arena) string { return a.victim.AccessToken + "==" }, wantMalformed),
		tokenRow("standard base64 alphabet", "RFC 7515 §2",
			func(t *testing.T, a *arena) string {
				return strings.NewReplacer("-", "+", "_", "/").Replace(a.victim.AccessToken) + "+/"
			}, wantMalformed),
		attack{name: "space inside a Bearer token", source: "RFC 6750 §2.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return presented(tok[:20] + " " + tok[20:]), nil
			},
			want: wantInvalidRequest},
		attack{name: "tab inside a Bearer token", source: "RFC 6750 §2.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return presented(tok[:20] + "\t" + tok[20:]), nil
			},
			want: wantInvalidRequest},
		attack{name: "space inside the access cookie", source: "RFC 6265 §4.1.1; RFC 7515 §7.1", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tok := a.victim.AccessToken
				return request{method: "GET", path: "/auth/session", headers: []string{"Cookie", credential.CookieAccess + "=" + tok[:20] + " " + tok[20:]}}, nil
			},
			want: wantMalformed},
		attack{name: "two Authorization headers (forged, then valid)", source: "RFC 6750 §2.1; RFC 9110 §5.3", targets: onServer | onGuard,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				forged := jwstest.B64([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + jwstest.B64(a.payload(nil)) + "."
				return request{method: "GET", path: "/auth/session", headers: []string{
					"Authorization", "Bearer " + forged, "Authorization", "Bearer " + a.victim.AccessToken}}, nil
			},
			want: wantInvalidRequest})

	// The right signature on the wrong token.
	add(tokenRow("typ JWT instead of at+jwt", "RFC 8725 §3.11; RFC 9068 §2.1",
		func(t *testing.T, a *arena) string {
			return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`,"typ":"JWT"}`, a.payload(nil))
		}, wantBadClaims),
		tokenRow("typ absent", "RFC 8725 §3.11; RFC 9068 §2.1",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`}`, a.payload(nil))
			}, wantBadClaims),
		tokenRow("ID token (typ JWT, aud the client, nonce) as an access token", "RFC 8725 §3.12; ASVS 9.2.2; OIDC Core §2",
			func(t *testing.T, a *arena) string {
				return es256(t, a.key, `{"alg":"ES256","kid":`+strconv.Quote(a.kid)+`,"typ":"JWT"}`,
					a.payload(map[string]any{"aud": "gatehouse", "nonce": "n-0S6_WzA2Mj", "azp": "gatehouse"}))
			}, wantBadClaims),
		tokenRow("ID token shape with typ at+jwt (aud the client)", "RFC 8725 §3.12; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": "gatehouse", "nonce": "n-0S6_WzA2Mj"})
			}, wantBadClaims),
		tokenRow("token for another audience", "RFC 8725 §3.9; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": "https://api.other.example"})
			}, wantBadClaims),
		tokenRow("aud array not containing us", "RFC 7519 §4.1.3; CVE-2020-26160",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"aud": []string{"https://a.example", "https://b.example"}})
			}, wantBadClaims),
		tokenRow("aud absent", "RFC 9068 §2.2; RFC 8725 §3.9",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"aud": drop}) }, wantBadClaims),
		tokenRow("token from another issuer", "RFC 8725 §3.8; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"iss": "https://issuer.other.example"})
			}, wantBadClaims),
		tokenRow("issuer with a trailing slash", "RFC 8725 §3.8; RFC 9207 §2.4 (exact comparison)",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"iss": a.URL + "/"}) }, wantBadClaims),
		tokenRow("sid absent", "RFC 9068 §2.2",
			func(t *testing.T, a *arena) string { return a.forge(t, "", map[string]any{"sid": drop}) }, wantBadClaims),
		tokenRow("refresh token presented as an access token", "ASVS 9.2.2",
			func(t *testing.T, a *arena) string { return a.victim.RefreshToken }, wantMalformed),
		serverRow("access token presented as a refresh token", "ASVS 9.2.2; RFC 6749 §6",
			func(a *arena) request {
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": a.victim.AccessToken}}
			}, problemOnly(401, "invalid_refresh_token")))

	// Time.
	now := func(a *arena) time.Time { return a.Clock.Now() }
	add(tokenRow("expired beyond the leeway (forged exp)", "RFC 7519 §4.1.4",
		func(t *testing.T, a *arena) string {
			exp := now(a).Add(-sessiontest.Leeway - time.Second)
			return a.forge(t, "", map[string]any{"exp": exp.Unix(), "iat": exp.Add(-accessTTL).Unix(), "nbf": exp.Add(-accessTTL).Unix()})
		}, wantExpired),
		tokenRow("nbf in the future beyond the leeway (forged nbf)", "RFC 7519 §4.1.5",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"nbf": now(a).Add(sessiontest.Leeway + time.Second).Unix()})
			}, wantNotYet),
		tokenRow("iat in the future beyond the leeway", "RFC 7519 §4.1.6; RFC 9068 §4",
			func(t *testing.T, a *arena) string {
				return a.forge(t, "", map[string]any{"iat": now(a).Add(sessiontest.Leeway + time.Second).Unix()})
			}, wantNotYet),
		tokenRow("expired token with a bad signature reports the signature", "CVE-2024-51744",
			func(t *testing.T, a *arena) string {
				exp := now(a).Add(-time.Hour)
				return es256(t, a.evil, a.header(""), a.payload(map[string]any{"exp": exp.Unix(), "iat": exp.Add(-accessTTL).Unix()}))
			}, wantBadSig),
		attack{name: "expired beyond the leeway (clock moved)", source: "RFC 7519 §4.1.4", targets: onServer | onGuard, fresh: true,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				a.Clock.Advance(accessTTL + sessiontest.Leeway + time.Second)
				return presented(tk.AccessToken), nil
			}, want: wantExpired},
		attack{name: "not yet valid beyond the leeway (clock moved back)", source: "RFC 7519 §4.1.5", targets: onServer | onGuard, fresh: true,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				a.Clock.Advance(time.Minute)
				tk := a.bearerLogin(t, testUser, testPassword)
				a.Clock.Advance(-sessiontest.Leeway - time.Second)
				return presented(tk.AccessToken), nil
			}, want: wantNotYet})

	// Ended sessions: the token's signature is still good; the session is
	// not. The server checks its store; a guard learns from the feed.
	// Each row ends a session of a user of its own, so that ending every
	// session of that user leaves the other rows' sessions alone.
	ended := func(name, source string, end func(t *testing.T, a *arena, user string, tk tokens, sid string)) attack {
		return attack{name: name, source: source, targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				user := a.newUser(t, "ended", nil)
				tk := a.bearerLogin(t, user, testPassword)
				sid := claimsOf(t, tk.AccessToken)["sid"].(string)
				end(t, a, user, tk, sid)
				if tg == onFeedGuard {
					a.awaitRevoked(t, sid)
				}
				return presented(tk.AccessToken), nil
			}}
	}
	add(ended("access token reused after logout", "ASVS 7.4.1; OWASP Session Management cheat sheet",
		func(t *testing.T, a *arena, _ string, tk tokens, _ string) {
			if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout", nil, "Authorization", "Bearer "+tk.AccessToken); r.StatusCode != 204 {
				t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
			}
		}),
		ended("access token reused after an admin revoked the session", "ASVS 7.4.5",
			func(t *testing.T, a *arena, _ string, _ tokens, sid string) {
				if r := doWith(t, http.DefaultClient, a.URL, "DELETE", "/admin/sessions/"+sid, nil, "Authorization", a.admin); r.StatusCode != 204 {
					t.Fatalf("admin revoke: %d %s", r.StatusCode, r.Body)
				}
			}),
		ended("access token reused after logout everywhere", "ASVS 7.4.1; ASVS 7.5.2",
			func(t *testing.T, a *arena, user string, _ tokens, _ string) {
				other := a.bearerLogin(t, user, testPassword)
				if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout-all", map[string]bool{"keep_current": true},
					"Authorization", "Bearer "+other.AccessToken); r.StatusCode != 200 {
					t.Fatalf("logout-all: %d %s", r.StatusCode, r.Body)
				}
			}),
		attack{name: "access cookie reused after logout", source: "ASVS 7.4.1", targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				s := a.cookieLogin(t, testUser, testPassword)
				if r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/logout", nil,
					append(a.sameOrigin("Cookie", s.cookies()), "X-XSRF-TOKEN", s.xsrf)...); r.StatusCode != 204 {
					t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
				}
				if tg == onFeedGuard {
					a.awaitRevoked(t, s.sid)
				}
				return request{method: "GET", path: "/auth/session", headers: []string{"Cookie", s.cookies()}}, nil
			}},
		attack{name: "access token of a disabled account", source: "ASVS 7.4.2; GHSA-6rrr-78xp-5jp8", targets: onServer | onFeedGuard, want: wantEnded,
			build: func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
				name := a.newUser(t, "dora", nil)
				tk := a.bearerLogin(t, name, testPassword)
				if _, err := a.Engine.SetDisabled(t.Context(), session.CLI, a.userID(t, name), true); err != nil {
					t.Fatal(err)
				}
				if tg == onFeedGuard {
					a.awaitRevoked(t, claimsOf(t, tk.AccessToken)["sid"].(string))
				}
				return presented(tk.AccessToken), nil
			}})

	// Refresh-token theft.
	sessionOver := func(a *arena, sid, successor string) func(*testing.T, resp) {
		return func(t *testing.T, _ resp) {
			if _, err := a.Engine.Live(t.Context(), sid); !errors.Is(err, session.ErrSessionEnded) {
				t.Errorf("session after reuse: %v, want ended", err)
			}
			r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": successor})
			if r.StatusCode != 401 || r.problem(t).Code != "session_ended" {
				t.Errorf("the thief's successor token after reuse: %d %s", r.StatusCode, r.Body)
			}
		}
	}
	rotate := func(t *testing.T, a *arena, rt string) string {
		t.Helper()
		r := doWith(t, http.DefaultClient, a.URL, "POST", "/auth/refresh", map[string]string{"refresh_token": rt})
		if r.StatusCode != 200 {
			t.Fatalf("refresh: %d %s", r.StatusCode, r.Body)
		}
		var tk tokens
		r.json(t, &tk)
		return tk.RefreshToken
	}
	add(attack{name: "refresh token replayed after rotation, past the grace window", source: "RFC 9700 §4.14.2; ASVS 10.4.5",
		targets: onServer, fresh: true, want: serverOnly(problemOnly(401, "refresh_token_reused")),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			tk := a.bearerLogin(t, testUser, testPassword)
			next := rotate(t, a, tk.RefreshToken)
			a.Clock.Advance(grace + time.Second)
			return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}},
				sessionOver(a, claimsOf(t, tk.AccessToken)["sid"].(string), next)
		}},
		attack{name: "stale refresh token (grandparent) inside the grace window", source: "RFC 9700 §4.14.2; SECURITY-CHECKLIST 22",
			targets: onServer, want: serverOnly(problemOnly(401, "refresh_token_reused")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				last := rotate(t, a, rotate(t, a, tk.RefreshToken))
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": tk.RefreshToken}},
					sessionOver(a, claimsOf(t, tk.AccessToken)["sid"].(string), last)
			}},
		attack{name: "another user's refresh cookie with the victim's access cookie and CSRF pair", source: "OWASP CSRF Prevention cheat sheet (signed double submit); ASVS 3.5.1",
			targets: onServer, want: serverOnly(problemOnly(403, "csrf_failed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				victim, thief := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
				same := a.untouched(t, victim.sid, thief.sid)
				c := strings.Join([]string{credential.CookieAccess + "=" + victim.at, credential.CookieRefresh + "=" + thief.rt, credential.CookieCSRF + "=" + victim.xsrf}, "; ")
				return request{method: "POST", path: "/auth/refresh", headers: a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", victim.xsrf)},
					func(t *testing.T, r resp) { same(t); noCookiesSet(t, r) }
			}},
		attack{name: "another user's refresh cookie and CSRF pair with the victim's access cookie", source: "OWASP CSRF Prevention cheat sheet; ASVS 7.2.4",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				victim, thief := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
				same := a.untouched(t, victim.sid)
				c := strings.Join([]string{credential.CookieAccess + "=" + victim.at, credential.CookieRefresh + "=" + thief.rt, credential.CookieCSRF + "=" + thief.xsrf}, "; ")
				// The refresh rotates the thief's own session and no other:
				// the victim's is untouched and nothing of it is handed out.
				return request{method: "POST", path: "/auth/refresh", headers: a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", thief.xsrf)},
					func(t *testing.T, r resp) {
						same(t)
						var v struct {
							User    struct{ Username string }
							Session struct{ ID string }
						}
						r.json(t, &v)
						if v.Session.ID != thief.sid || v.User.Username != attackerUser {
							t.Errorf("refresh answered session %s of %s, want the thief's own %s", v.Session.ID, v.User.Username, thief.sid)
						}
						for _, c := range r.Cookies() {
							if c.Name == credential.CookieAccess && claimsOf(t, c.Value)["sid"] != thief.sid {
								t.Errorf("new access cookie for session %v", claimsOf(t, c.Value)["sid"])
							}
						}
					}
			}})

	// CSRF and cookie tossing, at the server and at a guard alike.
	victimWith := func(method, path string, mk func(a *arena, victim, other browserSession) []string) func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
		return func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp)) {
			victim, other := a.cookieLogin(t, testUser, testPassword), a.cookieLogin(t, attackerUser, attackerPassword)
			same := a.untouched(t, victim.sid, other.sid)
			return request{method: method, path: path, headers: mk(a, victim, other)}, func(t *testing.T, r resp) { same(t); noCookiesSet(t, r) }
		}
	}
	dup := problemOnly(400, "duplicate_cookie")
	add(attack{name: "CSRF pair of another session (cookie and header from session B with session A's cookies)",
		source:  "OWASP CSRF Prevention cheat sheet (signed double submit); ASVS 3.5.1; SECURITY-CHECKLIST 19",
		targets: onServer | onGuard, want: wants{server: problemOnly(403, "csrf_failed"), guard: problemOnly(403, "csrf_failed")},
		build: victimWith("POST", "/auth/logout", func(a *arena, v, o browserSession) []string {
			c := strings.Join([]string{credential.CookieAccess + "=" + v.at, credential.CookieRefresh + "=" + v.rt, credential.CookieCSRF + "=" + o.xsrf}, "; ")
			return a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", o.xsrf)
		})},
		attack{name: "CSRF header without the cookie", source: "OWASP CSRF Prevention cheat sheet; ASVS 3.5.1",
			targets: onServer | onGuard, want: wants{server: problemOnly(403, "csrf_failed"), guard: problemOnly(403, "csrf_failed")},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, _ browserSession) []string {
				c := credential.CookieAccess + "=" + v.at + "; " + credential.CookieRefresh + "=" + v.rt
				return a.sameOrigin("Cookie", c, "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cookie tossing: duplicate __Host-gh_at", source: "RFC 6265 §8.6; RFC 6265bis §4.1.3 (cookie prefixes)",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("GET", "/auth/session", func(a *arena, v, o browserSession) []string {
				return []string{"Cookie", v.cookies(credential.CookieAccess + "=" + o.at)}
			})},
		attack{name: "cookie tossing: duplicate XSRF-TOKEN on a write", source: "RFC 6265 §8.6; OWASP CSRF Prevention cheat sheet",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, o browserSession) []string {
				return a.sameOrigin("Cookie", v.cookies(credential.CookieCSRF+"="+o.xsrf), "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cookie tossing: duplicate XSRF-TOKEN on a read", source: "RFC 6265 §8.6",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("GET", "/auth/session", func(a *arena, v, o browserSession) []string {
				return []string{"Cookie", v.cookies(credential.CookieCSRF + "=" + o.xsrf)}
			})},
		attack{name: "cookie tossing: duplicate __Secure-gh_rt", source: "RFC 6265 §8.6; RFC 6265bis §4.1.3",
			targets: onServer | onGuard, want: wants{server: dup, guard: dup},
			build: victimWith("POST", "/auth/refresh", func(a *arena, v, o browserSession) []string {
				return a.sameOrigin("Cookie", v.cookies(credential.CookieRefresh+"="+o.rt), "X-XSRF-TOKEN", v.xsrf)
			})},
		attack{name: "cross-site write with the victim's cookies (Sec-Fetch-Site cross-site)", source: "ASVS 3.5.2; W3C Fetch Metadata",
			targets: onServer | onGuard, want: wants{server: problemOnly(403, "cross_origin_request"), guard: problemOnly(403, "cross_origin_request")},
			build: victimWith("POST", "/auth/logout", func(a *arena, v, _ browserSession) []string {
				return []string{"Cookie", v.cookies(), "X-XSRF-TOKEN", v.xsrf, "Sec-Fetch-Site", "cross-site", "Origin", evilOrigin}
			})},
		attack{name: "session fixation: login over an attacker's planted cookies", source: "ASVS 7.2.4; OWASP Session Management cheat sheet",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				planted := a.cookieLogin(t, attackerUser, attackerPassword)
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": testPassword},
						headers: []string{"Origin", a.Origin, "Cookie", planted.cookies()}},
					func(t *testing.T, r resp) {
						// The session the new login replaced (here the
						// attacker's own) ends: nothing is left behind the
						// browser's new cookies.
						if s, err := a.DB.SessionByID(t.Context(), planted.sid); err != nil || s.RevokedAt.IsZero() {
							t.Errorf("the replaced session %s is still live: %v", planted.sid, err)
						}
						var v struct{ Session struct{ ID string } }
						r.json(t, &v)
						if v.Session.ID == "" || v.Session.ID == planted.sid {
							t.Errorf("login kept the planted session %q", v.Session.ID)
						}
						for _, c := range r.Cookies() {
							if c.Value == planted.at || c.Value == planted.rt || c.Value == planted.xsrf {
								t.Errorf("login handed back the planted %s", c.Name)
							}
						}
					}
			}})

	// Login CSRF: a hostile page must not log the victim into the
	// attacker's account.
	loginAs := map[string]string{"username": attackerUser, "password": attackerPassword}
	loginCSRF := func(name, source string, body any, want outcome, headers ...string) attack {
		return attack{name: name, source: source, targets: onServer, want: serverOnly(want),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: body, headers: headers},
					func(t *testing.T, r resp) { noCookiesSet(t, r) }
			}}
	}
	const loginCSRFSource = "OWASP CSRF Prevention cheat sheet (login CSRF); ASVS 3.5.1"
	add(loginCSRF("login CSRF: foreign Origin", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"), "Origin", evilOrigin),
		loginCSRF("login CSRF: foreign Referer and no Origin", loginCSRFSource, loginAs, problemOnly(403, "forbidden_origin"), "Referer", evilOrigin+"/page"),
		loginCSRF("login CSRF: neither Origin nor Referer, cookie mode", loginCSRFSource, loginAs, problemOnly(403, "forbidden_origin")),
		loginCSRF("login CSRF: cross-site form post (Sec-Fetch-Site cross-site)", loginCSRFSource,
			"username="+attackerUser+"&password="+url.QueryEscape(attackerPassword), problemOnly(403, "cross_origin_request"),
			"Content-Type", "application/x-www-form-urlencoded", "Sec-Fetch-Site", "cross-site"),
		loginCSRF("login CSRF: Origin null (sandboxed frame)", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"), "Origin", "null"),
		loginCSRF("login CSRF: sibling subdomain (Sec-Fetch-Site same-site)", loginCSRFSource, loginAs, problemOnly(403, "cross_origin_request"),
			"Sec-Fetch-Site", "same-site"),
		loginCSRF("login CSRF: bearer mode from a browser without Origin", loginCSRFSource,
			map[string]string{"username": attackerUser, "password": attackerPassword, "mode": "bearer"}, problemOnly(403, "forbidden_origin"),
			"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors"))

	// Open redirects: no endpoint takes a redirect target, and none answers
	// 3xx whatever is added; unknown query parameters on the JSON
	// endpoints are ignored (the admin API alone refuses them).
	for _, ep := range []struct {
		name string
		q    func(a *arena) request
		want outcome
	}{
		{"login", func(a *arena) request {
			return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": testPassword}, headers: []string{"Origin", a.Origin}}
		}, outcome{status: 200}},
		{"logout", func(a *arena) request { return request{method: "POST", path: "/auth/logout"} }, outcome{status: 204}},
		{"refresh", func(a *arena) request { return request{method: "POST", path: "/auth/refresh"} }, problemOnly(401, "invalid_refresh_token")},
		{"root", func(a *arena) request { return request{method: "GET", path: "/"} }, problemOnly(404, "not_found")},
	} {
		for _, param := range []string{"redirect_uri", "next", "return_to", "redirect"} {
			add(attack{name: "open redirect: " + ep.name + " with " + param, source: "RFC 9700 §4.11; ASVS 10.4.1; OWASP Unvalidated Redirects cheat sheet",
				targets: onServer, want: serverOnly(ep.want),
				build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
					q := ep.q(a)
					q.path += "?" + param + "=" + url.QueryEscape(evilOrigin+"/phish")
					return q, func(t *testing.T, r resp) { notMentioned(t, r, "evil.example") }
				}})
		}
	}
	add(serverRow("open redirect: protocol-relative path //evil.example", "RFC 9700 §4.11; OWASP Unvalidated Redirects cheat sheet",
		func(a *arena) request { return request{method: "GET", path: "//evil.example/"} },
		// Go's ServeMux cleans the path with a same-origin redirect; it
		// never leaves the host.
		outcome{status: 307, location: "/evil.example/"}))

	// Methods.
	add(serverRow("TRACE (cross-site tracing)", "OWASP WSTG-CONF-06",
		func(a *arena) request {
			return request{method: "TRACE", path: "/auth/session", headers: []string{"Cookie", credential.CookieAccess + "=" + a.victim.AccessToken}}
		}, problemOnly(405, "method_not_allowed")),
		serverRow("TRACK (cross-site tracing)", "OWASP WSTG-CONF-06",
			func(a *arena) request {
				return request{method: "TRACK", path: "/auth/session", headers: []string{"Cookie", credential.CookieAccess + "=" + a.victim.AccessToken}}
			}, problemOnly(405, "method_not_allowed")),
		attack{name: "logout by GET (state change on a safe method)", source: "ASVS 3.5.3; RFC 9110 §9.2.1", targets: onServer,
			want: serverOnly(problemOnly(405, "method_not_allowed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				s := a.cookieLogin(t, testUser, testPassword)
				same := a.untouched(t, s.sid)
				return request{method: "GET", path: "/auth/logout", headers: []string{"Cookie", s.cookies()}},
					func(t *testing.T, r resp) { same(t) }
			}},
		attack{name: "CORS preflight from a foreign origin", source: "ASVS 3.4.2; OWASP HTML5 Security cheat sheet (CORS)", targets: onServer,
			want: serverOnly(problemOnly(405, "method_not_allowed")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "OPTIONS", path: "/auth/login", headers: []string{"Origin", evilOrigin, "Access-Control-Request-Method", "POST",
						"Access-Control-Request-Headers", "content-type, x-xsrf-token"}},
					func(t *testing.T, r resp) {
						for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods"} {
							if v := r.Header.Get(h); v != "" {
								t.Errorf("%s: %s", h, v)
							}
						}
					}
			}})

	// Host header and forwarding headers from a peer that is not a
	// trusted proxy.
	const hostSource = "OWASP WSTG-INPV-17 (Host header injection)"
	spoofed := func(name string, login map[string]string, want outcome, headers ...string) attack {
		return attack{name: name, source: hostSource, targets: onServer, want: serverOnly(want),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: login, host: "evil.example", headers: headers},
					func(t *testing.T, r resp) { a.unspoofed(t, r) }
			}}
	}
	bearerAlice := map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"}
	cookieAlice := map[string]string{"username": testUser, "password": testPassword}
	add(spoofed("Host header spoofing: bearer login", bearerAlice, outcome{status: 200}),
		attack{name: "Host header spoofing: cookie login from the real origin", source: hostSource, targets: onServer,
			want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: cookieAlice, host: "evil.example", headers: []string{"Origin", a.Origin}},
					func(t *testing.T, r resp) { a.unspoofed(t, r) }
			}},
		spoofed("Host header spoofing: login with an Origin matching the spoofed Host", cookieAlice, problemOnly(403, "forbidden_origin"),
			"Origin", "http://evil.example"),
		attack{name: "Host header spoofing: JWKS", source: hostSource, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/.well-known/jwks.json", host: "evil.example"},
					func(t *testing.T, r resp) { notMentioned(t, r, "evil.example") }
			}},
		attack{name: "X-Forwarded-For, -Proto and -Host from an untrusted peer", source: "RFC 7239 §8.1; OWASP WSTG-INPV-17",
			targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "POST", path: "/auth/login", body: cookieAlice, headers: []string{"Origin", a.Origin,
						"X-Forwarded-For", "203.0.113.66", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example",
						"Forwarded", "for=203.0.113.66;proto=https;host=evil.example", "X-Real-IP", "203.0.113.66"}},
					func(t *testing.T, r resp) {
						a.unspoofed(t, r)
						if h := r.Header.Get("Strict-Transport-Security"); h != "" {
							t.Errorf("HSTS over plain HTTP on a claim of https: %s", h)
						}
						var v struct{ Session struct{ ID, IP string } }
						r.json(t, &v)
						s := a.stored(t, v.Session.ID)
						if v.Session.IP != "127.0.0.1" || s.CreatedIP != "127.0.0.1" || s.LastIP != "127.0.0.1" {
							t.Errorf("recorded IP %q / %q / %q, want the peer's 127.0.0.1", v.Session.IP, s.CreatedIP, s.LastIP)
						}
					}
			}})

	// SQL injection in every string input. Every row also checks that no
	// user row was lost.
	const sqli = "ASVS 1.2.4; OWASP WSTG-INPV-05"
	esc := url.PathEscape(sqlInjection)
	qesc := url.QueryEscape(sqlInjection)
	add(serverRow("SQL injection: login username", sqli,
		func(a *arena) request {
			return request{method: "POST", path: "/auth/login", body: map[string]string{"username": "alice'--", "password": testPassword, "mode": "bearer"}}
		}, problemOnly(401, "invalid_credentials")),
		serverRow("SQL injection: login username with spaces", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": sqlInjection, "password": testPassword, "mode": "bearer"}}
			}, problemOnly(400, "invalid_request")),
		serverRow("SQL injection: login password", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/login", body: map[string]string{"username": testUser, "password": "x" + sqlInjection + " --", "mode": "bearer"}}
			}, problemOnly(401, "invalid_credentials")),
		serverRow("SQL injection: admin create username", sqli,
			adminQuery("POST", "/admin/users", map[string]any{"username": "x'); DROP TABLE users;--", "password": "a long enough password", "roles": []string{}}),
			problemOnly(400, "invalid_request")),
		attack{name: "SQL injection: admin create username stored literally", source: sqli, targets: onServer,
			want: serverOnly(outcome{status: 201, location: "/admin/users/"}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				name := "x';delete/**/from/**/users;--" + strconv.FormatInt(a.seq.Add(1), 10)
				return adminQuery("POST", "/admin/users", map[string]any{"username": name, "password": "a long enough password", "roles": []string{}})(a),
					func(t *testing.T, r resp) {
						if id := a.userID(t, name); r.Header.Get("Location") != "/admin/users/"+id {
							t.Errorf("Location %q for user %s", r.Header.Get("Location"), id)
						}
					}
			}},
		serverRow("SQL injection: admin role", sqli,
			adminQuery("POST", "/admin/users", map[string]any{"username": "roley", "password": "a long enough password", "roles": []string{sqlInjection}}),
			problemOnly(400, "invalid_request")),
		attack{name: "SQL injection: admin user search", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/users?search="+qesc, nil)(a), jsonList("users", 0)
			}},
		attack{name: "SQL injection: admin user listing cursor (after)", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				// Every username sorts after a quote: the whole list, as for
				// any cursor, and nothing more.
				return adminQuery("GET", "/admin/users?limit=200&after="+qesc, nil)(a), jsonList("users", len(a.userIDs(t)))
			}},
		attack{name: "SQL injection: admin sessions user_id", source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/sessions?user_id="+qesc, nil)(a), jsonList("sessions", 0)
			}},
		serverRow("SQL injection: admin sessions cursor (after)", sqli, adminQuery("GET", "/admin/sessions?after="+qesc, nil), outcome{status: 200}))
	for _, param := range []string{"user_id", "type", "session_id", "actor_id"} {
		add(attack{name: "SQL injection: admin audit " + param, source: sqli, targets: onServer, want: serverOnly(outcome{status: 200}),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return adminQuery("GET", "/admin/audit?"+param+"="+qesc, nil)(a), literalMatches("events", param)
			}})
	}
	add(serverRow("SQL injection: admin audit cursor (before)", sqli, adminQuery("GET", "/admin/audit?before="+qesc, nil), problemOnly(400, "invalid_request")),
		serverRow("SQL injection: admin get user id", sqli, adminQuery("GET", "/admin/users/"+esc, nil), problemOnly(404, "not_found")),
		serverRow("SQL injection: admin delete user id", sqli, adminQuery("DELETE", "/admin/users/"+esc, nil), problemOnly(404, "not_found")),
		serverRow("SQL injection: admin revoke session id", sqli, adminQuery("DELETE", "/admin/sessions/"+esc, nil), problemOnly(404, "not_found")),
		attack{name: "SQL injection: session id in DELETE /auth/sessions/{id}", source: sqli, targets: onServer,
			want: serverOnly(problemOnly(404, "not_found")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				tk := a.bearerLogin(t, testUser, testPassword)
				same := a.untouched(t, claimsOf(t, tk.AccessToken)["sid"].(string))
				return request{method: "DELETE", path: "/auth/sessions/" + esc, headers: []string{"Authorization", "Bearer " + tk.AccessToken}},
					func(t *testing.T, r resp) { same(t) }
			}},
		serverRow("SQL injection: refresh_token", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/refresh", body: map[string]string{"refresh_token": "ghr_" + sqlInjection}}
			}, problemOnly(401, "invalid_refresh_token")),
		serverRow("SQL injection: refresh_token at logout", sqli,
			func(a *arena) request {
				return request{method: "POST", path: "/auth/logout", body: map[string]string{"refresh_token": "ghr_" + sqlInjection}}
			}, outcome{status: 204}))

	// Bodies: bounded, strict, no parser differentials.
	const dos = "OWASP API4:2023 (unrestricted resource consumption)"
	js := []string{"Content-Type", "application/json"}
	rawBody := func(body string) func(a *arena) request {
		return func(a *arena) request { return request{method: "POST", path: "/auth/login", body: body, headers: js} }
	}
	over := `{"username":"alice","password":"` + strings.Repeat("p", 64<<10) + `"}`
	nested := func(n int) string {
		return `{"username":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `,"password":"x"}`
	}
	add(serverRow("oversize JSON body (over max_body_bytes)", dos, rawBody(over), problemOnly(413, "body_too_large")),
		serverRow("deeply nested JSON in a field (100,000 arrays) over the body limit", dos, rawBody(nested(100_000)), problemOnly(413, "body_too_large")),
		attack{name: "deeply nested JSON in a field (100,000 arrays) within a 1 MiB body limit", source: dos, targets: onServer, fresh: true,
			opts: []option{func(c *config.Resolved, _ *app.Options) { c.MaxBodyBytes = 1 << 20 }},
			want: serverOnly(problemOnly(400, "malformed_json")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return rawBody(nested(100_000))(a), nil
			}},
		serverRow("deeply nested JSON objects (10,001) within the default limit", dos,
			rawBody(`{"username":`+strings.Repeat(`{"a":`, 10_001)+"1"+strings.Repeat("}", 10_001)+`}`), problemOnly(400, "malformed_json")),
		serverRow("duplicate JSON member in a login body", "RFC 8259 §4; RFC 7493 §2.3 (I-JSON); docs/api.md conventions",
			rawBody(`{"username":"nobody","password":"`+testPassword+`","username":"`+testUser+`","mode":"bearer"}`), problemOnly(400, "invalid_request")),
		serverRow("duplicate JSON member in another case", "RFC 8259 §4; RFC 7493 §2.3 (I-JSON)",
			rawBody(`{"username":"nobody","password":"`+testPassword+`","USERNAME":"`+testUser+`","mode":"bearer"}`), problemOnly(400, "invalid_request")),
		serverRow("unknown JSON member in a login body", "docs/api.md conventions; ASVS 2.2.1",
			rawBody(`{"username":"`+testUser+`","password":"`+testPassword+`","mode":"bearer","roles":["admin"]}`), problemOnly(400, "unknown_field")))

	// Authorization: another user's objects, and the admin API without
	// the admin role, now or any longer.
	add(attack{name: "IDOR: end another user's session through DELETE /auth/sessions/{id}", source: "OWASP API1:2023 (BOLA); ASVS 8.2.2",
		targets: onServer, want: serverOnly(problemOnly(404, "not_found")),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			other := a.cookieLogin(t, testUser, testPassword)
			same := a.untouched(t, other.sid)
			thief := a.bearerLogin(t, attackerUser, attackerPassword)
			return request{method: "DELETE", path: "/auth/sessions/" + other.sid, headers: []string{"Authorization", "Bearer " + thief.AccessToken}},
				func(t *testing.T, r resp) { same(t) }
		}},
		attack{name: "admin API without the admin role", source: "OWASP API5:2023 (broken function level authorization); ASVS 8.2.1",
			targets: onServer, want: serverOnly(problemOnly(403, "forbidden")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/admin/users", headers: []string{"Authorization", "Bearer " + a.victim.AccessToken}}, nil
			}},
		attack{name: "admin API with the token of a demoted admin", source: "ASVS 8.3.1; ASVS 7.4.2",
			targets: onServer, want: serverOnly(problemOnly(403, "forbidden")),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				name := a.newUser(t, "ex-admin", []string{"admin"})
				tk := a.bearerLogin(t, name, testPassword)
				if _, err := a.Engine.SetRoles(t.Context(), session.CLI, a.userID(t, name), nil); err != nil {
					t.Fatal(err)
				}
				// The token still says admin; the store no longer does.
				return request{method: "GET", path: "/admin/users", headers: []string{"Authorization", "Bearer " + tk.AccessToken}}, nil
			}})

	// Keys: what is published, and how long a key is trusted.
	add(attack{name: "JWKS carries no private key member", source: "RFC 7517 §4, RFC 7518 §6.2.2 (d is private); ASVS 9.1.3",
		targets: onServer, want: serverOnly(outcome{status: 200}),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return request{method: "GET", path: "/.well-known/jwks.json"}, func(t *testing.T, r resp) {
				var set struct{ Keys []map[string]any }
				r.json(t, &set)
				if len(set.Keys) == 0 {
					t.Fatal("no keys")
				}
				for _, k := range set.Keys {
					for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
						if _, ok := k[private]; ok {
							t.Errorf("key %v publishes %q", k["kid"], private)
						}
					}
				}
			}
		}},
		attack{name: "token signed by a retired key after its tokens have expired", source: "RFC 7517 §4.5; SECURITY-CHECKLIST 10",
			targets: onServer | onGuard, fresh: true, want: wantBadSig,
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				// The key is rotated out at once and stays published for
				// the lifetime of its last token; after that, even a fresh
				// token it signed (a leaked old key) verifies nowhere.
				if _, err := a.Keys.Rotate(t.Context(), token.ES256, 0); err != nil {
					t.Fatal(err)
				}
				a.Clock.Advance(accessTTL + sessiontest.Leeway + time.Minute)
				n := a.Clock.Now()
				return presented(a.forge(t, "", map[string]any{"iat": n.Unix(), "nbf": n.Unix(), "exp": n.Add(accessTTL).Unix()})), nil
			}})

	// The revocation feed is a credential-bearing endpoint of its own.
	feedSecret := strings.Repeat("s", 40)
	withFeed := []option{func(c *config.Resolved, _ *app.Options) { c.RevocationFeedSecret = feedSecret }}
	feedRefused := outcome{status: 401, code: "invalid_token", challenge: `Bearer error="invalid_token"`}
	add(attack{name: "revocation feed with a wrong secret", source: "RFC 6750 §3.1; OWASP API2:2023 (broken authentication)", targets: onServer, fresh: true, opts: withFeed,
		want: serverOnly(feedRefused),
		build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
			return request{method: "GET", path: "/auth/revocations", headers: []string{"Authorization", "Bearer " + strings.Repeat("x", 40)}}, nil
		}},
		attack{name: "revocation feed with an access token as the secret", source: "RFC 6750 §3.1; ASVS 9.2.2", targets: onServer, fresh: true, opts: withFeed,
			want: serverOnly(feedRefused),
			build: func(t *testing.T, a *arena, _ target) (request, func(*testing.T, resp)) {
				return request{method: "GET", path: "/auth/revocations", headers: []string{"Authorization", "Bearer " + a.victim.AccessToken}}, nil
			}})
	return rows
}
