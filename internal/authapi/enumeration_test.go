package authapi_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestLoginNoEnumeration: through the HTTP server, a login for an unknown
// user, a wrong password and a disabled account get byte-identical
// answers: status, body and every header but Date (ASVS 6.3.8). The
// timing side is TestNoEnumerationByTiming in the session package, which
// measures the engine without HTTP noise.
func TestLoginNoEnumeration(t *testing.T) {
	g := newGH(t)
	ctx := context.Background()
	u, err := g.Engine.AddUser(ctx, session.CLI, "dora", testPassword, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Engine.SetDisabled(ctx, session.CLI, u.ID, true); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"cookie", "bearer"} {
		t.Run(mode, func(t *testing.T) {
			attempts := map[string]map[string]string{
				"unknown user":     {"username": "nobody-at-all", "password": testPassword, "mode": mode},
				"wrong password":   {"username": testUser, "password": "not the password", "mode": mode},
				"disabled account": {"username": "dora", "password": testPassword, "mode": mode},
			}
			var first resp
			var firstName string
			for _, name := range slices.Sorted(maps.Keys(attempts)) {
				r := doWith(t, http.DefaultClient, g.URL, "POST", "/auth/login", attempts[name], "Origin", g.Origin)
				wantProblem(t, name, r, 401, "invalid_credentials")
				r.Header.Del("Date")
				if first.Response == nil {
					first, firstName = r, name
					continue
				}
				if !bytes.Equal(r.Body, first.Body) {
					t.Errorf("%s body %s, %s body %s", name, r.Body, firstName, first.Body)
				}
				if !maps.EqualFunc(r.Header, first.Header, slices.Equal) {
					t.Errorf("%s headers %v\n%s headers %v", name, r.Header, firstName, first.Header)
				}
			}
		})
	}
}
