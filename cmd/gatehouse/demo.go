package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/demo"
)

// demoHandler builds the demo app of `serve --demo`. Its API is protected
// exactly as a separate resource server's would be: by the guard (the
// process's one, which the server verifies with too), with the scopes of a
// first-party token required, and with revocations fed from this
// process's revocation hub, so "sign out everywhere" reaches it at once.
func demoHandler(g *guard.Guard, cfg config.Resolved, log *slog.Logger) (http.Handler, error) {
	var reqs []guard.Requirement
	for _, s := range strings.Fields(cfg.AccessTokenScope) {
		reqs = append(reqs, guard.Scope(s))
	}
	return demo.Handler(demo.Deps{Auth: g, Require: guard.Require(reqs...), PrincipalFrom: guardPrincipal, Log: log})
}

// guardPrincipal is the guard's verified caller as the demo shows it.
func guardPrincipal(ctx context.Context) (demo.Principal, bool) {
	p, ok := guard.PrincipalFrom(ctx)
	if !ok {
		return demo.Principal{}, false
	}
	return demo.Principal{UserID: p.Subject, Username: p.Username, Roles: p.Roles, SessionID: p.SessionID}, true
}
