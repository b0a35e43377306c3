package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/demo"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
)

// demoHandler builds the demo app of `serve --demo`. Its API is protected
// exactly as a separate resource server's would be: by the guard, with the
// scopes of a first-party token required, and with revocations fed from
// this process's revocation hub (the in-process form of the feed), so
// "sign out everywhere" reaches it at once. ctx bounds the feed.
func (e *env) demoHandler(ctx context.Context, a *app, cfg config.Resolved, log *slog.Logger) (http.Handler, error) {
	revoked := guard.NewRevocations()
	go a.hub.Follow(ctx, revoked)
	// The hub drops a revocation after access_token_ttl + clock_leeway;
	// the guard must not accept a token longer than that, so it gets the
	// same leeway. Zero would mean the guard's default, hence the least
	// positive duration instead.
	leeway := max(cfg.ClockLeeway, time.Nanosecond)
	g, err := guard.New(guard.Config{
		Issuer:         cfg.PublicURL.String(),
		Audience:       cfg.Audience,
		Leeway:         leeway,
		Keys:           guardkeys.FromKeyring(a.keys),
		Revocations:    revoked,
		AllowedOrigins: cfg.AllowedOrigins,
		Log:            log,
		Now:            e.clock.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
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
