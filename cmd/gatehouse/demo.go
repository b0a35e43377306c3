package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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

// demoFeedSecret is the revocation feed secret of a `serve --demo` run
// without revocation_feed_secret: two rand.Text values, 52 characters and
// 260 bits, above config.MinFeedSecretBytes. It is kept nowhere; the next
// run has another.
func demoFeedSecret() string { return rand.Text() + rand.Text() }

// printDemoFeedSecret tells the operator, once and only on standard
// output (never in the log), the generated feed secret and how a guard in
// another process uses it: FollowFeed on the public URL's
// /auth/revocations, with the secret as FeedOptions.Secret, which
// docs/guard.md's example reads from GATEHOUSE_REVOCATION_FEED_SECRET.
func printDemoFeedSecret(w io.Writer, secret string, public *url.URL) {
	fmt.Fprintf(w, "Revocation feed secret for this --demo run (generated, shown only now): %s\n", secret)
	fmt.Fprintf(w, "A guard in another process follows %s with it as FeedOptions.Secret (docs/guard.md's example reads it from GATEHOUSE_REVOCATION_FEED_SECRET); set revocation_feed_secret to keep one across restarts\n",
		public.JoinPath("auth", "revocations"))
}
