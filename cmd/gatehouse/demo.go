package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/demo"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// demoHandler builds the demo app of `serve --demo`, its API protected as
// a resource server's would be. ctx bounds what it runs in the background.
func (e *env) demoHandler(_ context.Context, a *app, _ config.Resolved, log *slog.Logger) (http.Handler, error) {
	auth := &interimAuth{verifier: a.verifier, engine: a.engine}
	return demo.Handler(demo.Deps{Auth: auth, PrincipalFrom: interimPrincipal, Log: log})
}

// interimAuth stands in for the guard until guard.Guard lands: it checks
// what the guard will (a verified access token from the Authorization
// header or the access cookie, a live session, the double-submit CSRF
// token on cookie-borne writes) with the server's own verifier and engine.
type interimAuth struct {
	verifier *token.Verifier
	engine   *session.Engine
}

type interimKey struct{}

func interimPrincipal(ctx context.Context) (demo.Principal, bool) {
	p, ok := ctx.Value(interimKey{}).(demo.Principal)
	return p, ok
}

func (g *interimAuth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, viaCookie := "", false
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				raw = strings.TrimSpace(tok)
			}
		} else if c, err := r.Cookie("__Host-gh_at"); err == nil {
			raw, viaCookie = c.Value, true
		}
		if raw == "" {
			interimProblem(w, http.StatusUnauthorized, "invalid_token", "no access token")
			return
		}
		claims, err := g.verifier.Verify(r.Context(), raw)
		if err != nil {
			interimProblem(w, http.StatusUnauthorized, "invalid_token", "access token is not valid")
			return
		}
		if viaCookie && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			hdr := r.Header.Get("X-XSRF-TOKEN")
			c, err := r.Cookie("XSRF-TOKEN")
			if err != nil || hdr == "" || subtle.ConstantTimeCompare([]byte(hdr), []byte(c.Value)) != 1 || !g.engine.CSRFValid(claims.SessionID, hdr) {
				interimProblem(w, http.StatusForbidden, "csrf_failed", "the X-XSRF-TOKEN header is missing or does not match")
				return
			}
		}
		if _, err := g.engine.Live(r.Context(), claims.SessionID); err != nil {
			if errors.Is(err, session.ErrSessionEnded) {
				interimProblem(w, http.StatusUnauthorized, "session_ended", "the session has ended")
				return
			}
			interimProblem(w, http.StatusServiceUnavailable, "unavailable", "")
			return
		}
		p := demo.Principal{UserID: claims.Subject, Username: claims.Username, Roles: claims.Roles, SessionID: claims.SessionID}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), interimKey{}, p)))
	})
}

func interimProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "urn:gatehouse:problem:" + code, "title": http.StatusText(status), "status": status, "code": code, "detail": detail})
}
