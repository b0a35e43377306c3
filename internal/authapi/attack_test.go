package authapi_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/credential"
)

// The attack catalogue: every attack Gatehouse is meant to refuse, one
// row each, with where it comes from and the exact refusal. A row runs
// against the live HTTP server and, where the attack concerns a resource
// server, against a guard in front of a trivial handler, so the two can
// never drift apart on what they refuse. docs/security/attacks.md lists
// the same rows; TestAttackCatalogueDocumented keeps the two in step.

// target is a system an attack row is sent to.
type target uint8

const (
	// onServer is Gatehouse itself: the real handler behind newGH.
	onServer target = 1 << iota
	// onGuard is the fixture's guard (same keys, issuer and audience as
	// the server) in front of a handler that answers 200 to anyone it
	// lets through.
	onGuard
	// onFeedGuard is a guard that also follows the server's revocation
	// hub, as a resource server following the feed would: for the rows
	// about ended sessions, which a guard without revocations cannot know.
	onFeedGuard
)

var targetOrder = []target{onServer, onGuard, onFeedGuard}

// sqlLeak finds a database error in an answer ("SQL logic error",
// "SQLSTATE 23505", "sql: no rows"), and not the letters SQL inside a
// random id (session ids are base32: "Y3UG3SQLK5…").
var sqlLeak = regexp.MustCompile(`(^|[^A-Z0-9])(SQL(STATE|[^A-Z0-9]|$)|sql: )`)

func (tg target) String() string {
	switch tg {
	case onServer:
		return "server"
	case onGuard:
		return "guard"
	case onFeedGuard:
		return "guard with feed"
	}
	return "?"
}

// outcome is the exact answer a row expects from one target.
type outcome struct {
	status int
	// code is the problem code; "" for an answer below 400.
	code string
	// challenge is the exact WWW-Authenticate; "" means none at all.
	challenge string
	// location is a prefix the Location header must start with; ""
	// means no Location at all (no redirect, anywhere, to anyone).
	location string
}

// wants are a row's outcomes: one for the server, one for either guard.
type wants struct {
	server, guard outcome
}

// request is what a row sends. headers are name/value pairs, added (so a
// name may repeat); host, when set, replaces the Host header.
type request struct {
	method, path string
	body         any // nil, a string or []byte sent as is, or a value sent as JSON
	headers      []string
	host         string
}

// attack is one row of the catalogue.
type attack struct {
	name    string
	source  string // the RFC section, CVE, or OWASP/ASVS item the attack comes from
	targets target
	// fresh gives the row an arena of its own per target, with opts: for
	// rows that move the clock or need another configuration.
	fresh bool
	opts  []option
	// build prepares the attack (logging in, revoking, forging) and
	// returns the request, and optionally a check of what the request
	// did or did not do, run after the answer's exact assertions.
	build func(t *testing.T, a *arena, tg target) (request, func(*testing.T, resp))
	want  wants
}

// Exact WWW-Authenticate values of the server and of the guard.
const (
	srvInvalidCh = `Bearer error="invalid_token", error_description="access token is not valid"`
	srvExpiredCh = `Bearer error="invalid_token", error_description="access token has expired"`
	srvEndedCh   = `Bearer error="invalid_token", error_description="session ended"`

	descSig       = "the access token's signature or key is not valid"
	descMalformed = "the access token is malformed"
	descClaims    = "the access token's claims are not acceptable"
	descExpired   = "the access token expired"
	descNotYet    = "the access token is not valid yet"
	descEnded     = "the session has ended"
)

func guardInvalid(desc string) outcome {
	return outcome{status: 401, code: "invalid_token", challenge: `Bearer error="invalid_token", error_description="` + desc + `"`}
}

func problemOnly(status int, code string) outcome { return outcome{status: status, code: code} }

var (
	srvInvalid = outcome{status: 401, code: "invalid_token", challenge: srvInvalidCh}
	srvExpired = outcome{status: 401, code: "invalid_token", challenge: srvExpiredCh}
	srvEnded   = outcome{status: 401, code: "session_ended", challenge: srvEndedCh}
	guardEnded = outcome{status: 401, code: "session_ended", challenge: `Bearer error="invalid_token", error_description="` + descEnded + `"`}

	wantBadSig    = wants{server: srvInvalid, guard: guardInvalid(descSig)}
	wantMalformed = wants{server: srvInvalid, guard: guardInvalid(descMalformed)}
	// An Authorization header that is not one Bearer token: both read it
	// with the one credential reader and answer RFC 6750 §3.1's 400.
	invalidRequest     = outcome{status: 400, code: "invalid_request", challenge: `Bearer error="invalid_request"`}
	wantInvalidRequest = wants{server: invalidRequest, guard: invalidRequest}
	wantBadClaims      = wants{server: srvInvalid, guard: guardInvalid(descClaims)}
	wantExpired        = wants{server: srvExpired, guard: guardInvalid(descExpired)}
	wantNotYet         = wants{server: srvInvalid, guard: guardInvalid(descNotYet)}
	wantEnded          = wants{server: srvEnded, guard: guardEnded}
)

// serverOnly is a row's wants when only the server applies.
func serverOnly(o outcome) wants { return wants{server: o} }

const (
	attackerUser     = "mallory"
	attackerPassword = "mallory's very own passphrase"
	evilOrigin       = "https://evil.example"
)

// noCookiesSet fails if the answer sets any cookie: a refused request
// must not start, rotate or hand over a session.
func noCookiesSet(t *testing.T, r resp) {
	t.Helper()
	if c := r.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("refused request set cookies: %q", c)
	}
}

// notMentioned fails if the answer carries s anywhere: body or header.
func notMentioned(t *testing.T, r resp, s string) {
	t.Helper()
	if strings.Contains(string(r.Body), s) {
		t.Errorf("body mentions %q: %.300s", s, r.Body)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, s) {
				t.Errorf("header %s mentions %q: %s", k, s, v)
			}
		}
	}
}

// unspoofed checks an answer to a request with a spoofed Host or
// forwarding headers: the issuer in any token is still the public URL,
// every cookie is host-only with its usual attributes, and nothing in the
// answer names the spoofed host.
func (a *arena) unspoofed(t *testing.T, r resp) {
	t.Helper()
	notMentioned(t, r, "evil.example")
	var tk tokens
	if json.Unmarshal(r.Body, &tk) == nil && tk.AccessToken != "" {
		if c := claimsOf(t, tk.AccessToken); c["iss"] != a.URL || c["aud"] != a.URL {
			t.Errorf("token iss %v aud %v, want %s", c["iss"], c["aud"], a.URL)
		}
	}
	for _, c := range r.Cookies() {
		if c.Domain != "" || !c.Secure {
			t.Errorf("cookie %s: Domain %q Secure %v", c.Name, c.Domain, c.Secure)
		}
		if c.Name == credential.CookieAccess {
			if iss := claimsOf(t, c.Value)["iss"]; iss != a.URL {
				t.Errorf("access cookie iss %v, want %s", iss, a.URL)
			}
		}
	}
}

// TestAttackCatalogue runs every attack against each of its targets and
// asserts the exact refusal, and for every row alike: no redirect, a
// consistent problem body, no stack trace, no request to the attacker's
// server, and no user row lost.
func TestAttackCatalogue(t *testing.T) {
	rows := attackCatalogue()
	shared := newArena(t)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.source == "" || row.targets == 0 || row.build == nil {
				t.Fatal("a row needs a source, targets and a request")
			}
			for _, tg := range targetOrder {
				if row.targets&tg == 0 {
					continue
				}
				t.Run(tg.String(), func(t *testing.T) {
					a := shared
					if row.fresh {
						a = newArena(t, row.opts...)
					}
					want := row.want.server
					if tg != onServer {
						want = row.want.guard
					}
					if want.status == 0 {
						t.Fatalf("no outcome for target %s", tg)
					}
					runAttack(t, a, row, tg, want)
				})
			}
		})
	}
	// The victim's session, whose claims the forgeries reused, is live to
	// the end: a forgery let through would have been answered 200, not
	// refused for an ended session. The server kept serving through it
	// all, logged no error and no credential.
	if r := shared.send(t, onServer, presented(shared.victim.AccessToken)); r.StatusCode != 200 {
		t.Errorf("the victim's own token after the attacks: %d %s", r.StatusCode, r.Body)
	}
	shared.bearerLogin(t, testUser, testPassword)
	if strings.Contains(shared.Logs.String(), "level=ERROR") {
		t.Errorf("an attack caused an error log:\n%s", shared.Logs.String())
	}
	assertNoTokensLogged(t, shared.gh, shared.victim.AccessToken, shared.victim.RefreshToken)
}

func runAttack(t *testing.T, a *arena, row attack, tg target, want outcome) {
	t.Helper()
	q, after := row.build(t, a, tg)
	users := a.userIDs(t)
	hits := a.attackerHits.Load()
	r := a.send(t, tg, q)

	if r.StatusCode != want.status {
		t.Fatalf("status %d, want %d: %.300s", r.StatusCode, want.status, r.Body)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != want.challenge {
		t.Errorf("WWW-Authenticate %q, want %q", got, want.challenge)
	}
	if loc, ok := r.Header["Location"]; want.location == "" && ok {
		t.Errorf("Location %q: no answer may redirect", loc)
	} else if want.location != "" && !strings.HasPrefix(r.Header.Get("Location"), want.location) {
		t.Errorf("Location %q, want %s...", r.Header.Get("Location"), want.location)
	}
	switch {
	case r.StatusCode >= 400:
		p := r.problem(t)
		if p.Code != want.code {
			t.Errorf("code %q, want %q (%s)", p.Code, want.code, p.Detail)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q on a refusal", cc)
		}
	case want.code != "":
		t.Errorf("status %d has no problem code, want %q", r.StatusCode, want.code)
	}
	for _, leak := range []string{"goroutine ", ".go:", "sqlite"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("the answer leaks %q: %.300s", leak, r.Body)
		}
	}
	if m := sqlLeak.FindString(string(r.Body)); m != "" {
		t.Errorf("the answer leaks %q: %.300s", m, r.Body)
	}
	if n := a.attackerHits.Load() - hits; n != 0 {
		t.Errorf("the attacker's server received %d requests", n)
	}
	now := a.userIDs(t)
	for _, id := range users {
		if !slices.Contains(now, id) {
			t.Errorf("user %s is gone from the store", id)
		}
	}
	if after != nil {
		after(t, r)
	}
}

// TestAttackCatalogueDocumented: docs/security/attacks.md lists exactly
// the rows of the catalogue, by name, so that the list a reader trusts is
// the list the tests run.
func TestAttackCatalogueDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../docs/security/attacks.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{} // name: source
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		name := strings.TrimSpace(cells[0])
		if name == "attack" || strings.Trim(name, "-:| ") == "" {
			continue // the header row and its rule
		}
		source := ""
		if len(cells) > 1 {
			source = strings.TrimSpace(cells[1])
		}
		documented[strings.ReplaceAll(name, `\|`, "|")] = source
	}
	names := map[string]bool{}
	for _, row := range attackCatalogue() {
		if names[row.name] {
			t.Errorf("two rows are named %q", row.name)
		}
		names[row.name] = true
		if source, ok := documented[row.name]; !ok {
			t.Errorf("row %q is not in docs/security/attacks.md", row.name)
		} else if source != row.source {
			t.Errorf("row %q: the doc gives the source %q, the test %q", row.name, source, row.source)
		}
	}
	for name := range documented {
		if !names[name] {
			t.Errorf("docs/security/attacks.md lists %q, which is not a row", name)
		}
	}
}
