package guard

import (
	"net/http"
	"strings"
)

// Requirement is one condition Require checks on the principal. Make it
// with Role or Scope.
type Requirement struct {
	scope bool // a scope, else a role
	name  string
}

// Role requires the principal to have the role (the roles claim). It
// panics on an empty name: that is a programming error, found at start-up.
func Role(name string) Requirement {
	if name == "" {
		panic("guard: Role with an empty name")
	}
	return Requirement{name: name}
}

// Scope requires the token to carry the scope (the scope claim, RFC 8693
// §4.2, RFC 9068 §2.2.3). It panics on a name that is not an RFC 6749
// §3.3 scope token, which would also break the WWW-Authenticate header.
func Scope(name string) Requirement {
	if name == "" {
		panic("guard: Scope with an empty name")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			panic("guard: Scope " + name + " is not an RFC 6749 §3.3 scope token")
		}
	}
	return Requirement{scope: true, name: name}
}

func (q Requirement) holds(p *Principal) bool {
	if q.scope {
		return p.HasScope(q.name)
	}
	return p.HasRole(q.name)
}

// Require returns middleware that lets a request through only if the
// principal the guard's Middleware placed in its context meets every
// requirement. Without a principal (Require used without the guard in
// front) it answers 401; when a requirement fails, 403 with the RFC 6750
// §3.1 insufficient_scope challenge naming the scopes this route needs,
// and problem code insufficient_scope.
func Require(reqs ...Requirement) func(http.Handler) http.Handler {
	var scopes []string
	for _, q := range reqs {
		if q.scope {
			scopes = append(scopes, q.name)
		}
	}
	challenge := `Bearer error="insufficient_scope"`
	if len(scopes) > 0 {
		challenge += `, scope="` + strings.Join(scopes, " ") + `"`
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := PrincipalFrom(r.Context())
			if !ok {
				writeProblem(w, http.StatusUnauthorized, codeInvalidToken, "the request carries no access token", challengeNoCredentials)
				return
			}
			for _, q := range reqs {
				if !q.holds(p) {
					writeProblem(w, http.StatusForbidden, codeInsufficientScope,
						"the access token lacks a role or scope this resource needs", challenge)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}
