package authapi_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/app"
	"github.com/gatehouse-auth/gatehouse/internal/problem"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/authapi"
	"github.com/gatehouse-auth/gatehouse/internal/csrf"
	"github.com/gatehouse-auth/gatehouse/internal/guardkeys"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/session/sessiontest"
	"github.com/gatehouse-auth/gatehouse/internal/store"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// outageStore is the real SQLite store with a switch: while down, every
// call fails as the PostgreSQL backend fails while its server restarts,
// with store.ErrUnavailable, and does nothing. The real store does all
// the work otherwise, so what the test sees afterwards is what a node sees
// once its database is back.
type outageStore struct {
	app.Database
	down atomic.Bool
}

func (s *outageStore) fail() error {
	if s.down.Load() {
		return fmt.Errorf("postgres: %w: failed to connect to `user=gatehouse database=gatehouse`: connection refused", store.ErrUnavailable)
	}
	return nil
}

func (s *outageStore) CreateUser(ctx context.Context, u store.User) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.CreateUser(ctx, u)
}

func (s *outageStore) UserByUsername(ctx context.Context, username string) (store.User, error) {
	if err := s.fail(); err != nil {
		return store.User{}, err
	}
	return s.Database.UserByUsername(ctx, username)
}

func (s *outageStore) UserByID(ctx context.Context, id string) (store.User, error) {
	if err := s.fail(); err != nil {
		return store.User{}, err
	}
	return s.Database.UserByID(ctx, id)
}

func (s *outageStore) ListUsers(ctx context.Context, q store.UserQuery) ([]store.User, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Database.ListUsers(ctx, q)
}

func (s *outageStore) CountUsers(ctx context.Context) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Database.CountUsers(ctx)
}

func (s *outageStore) DeleteUser(ctx context.Context, id string, at time.Time, ev store.AuditEvent) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.DeleteUser(ctx, id, at, ev)
}

func (s *outageStore) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	if err := s.fail(); err != nil {
		return store.User{}, err
	}
	return s.Database.UpdateUser(ctx, id, fn)
}

func (s *outageStore) CreateSession(ctx context.Context, sess store.Session, rt store.RefreshToken) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.CreateSession(ctx, sess, rt)
}

func (s *outageStore) SessionByID(ctx context.Context, id string) (store.Session, error) {
	if err := s.fail(); err != nil {
		return store.Session{}, err
	}
	return s.Database.SessionByID(ctx, id)
}

func (s *outageStore) ListSessions(ctx context.Context, q store.SessionQuery) ([]store.Session, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Database.ListSessions(ctx, q)
}

func (s *outageStore) PruneSessions(ctx context.Context, endedBefore time.Time, idle time.Duration) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Database.PruneSessions(ctx, endedBefore, idle)
}

func (s *outageStore) RefreshToken(ctx context.Context, hash []byte) (store.RefreshToken, error) {
	if err := s.fail(); err != nil {
		return store.RefreshToken{}, err
	}
	return s.Database.RefreshToken(ctx, hash)
}

func (s *outageStore) RotateRefreshToken(ctx context.Context, r store.Rotation) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.RotateRefreshToken(ctx, r)
}

func (s *outageStore) RevokeSession(ctx context.Context, id, reason string, at time.Time, ev store.AuditEvent) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.RevokeSession(ctx, id, reason, at, ev)
}

func (s *outageStore) RevokeUserSessions(ctx context.Context, userID, except, reason string, at time.Time, ev store.AuditEvent) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Database.RevokeUserSessions(ctx, userID, except, reason, at, ev)
}

func (s *outageStore) PruneRevocations(ctx context.Context, before time.Time) (int, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Database.PruneRevocations(ctx, before)
}

func (s *outageStore) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Database.AppendAudit(ctx, ev)
}

func (s *outageStore) AuditEvents(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Database.AuditEvents(ctx, f)
}

func (s *outageStore) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	if err := s.fail(); err != nil {
		return nil, err
	}
	return s.Database.SigningKeys(ctx)
}

var (
	_ session.Store  = (*outageStore)(nil)
	_ token.KeyStore = (*outageStore)(nil)
)

// TestDatabaseUnavailable: while the store cannot reach its database,
// every endpoint that needs it answers 503 unavailable with Retry-After
// (never 500), the access tokens already out keep verifying at a guard,
// and once the database is back the same refresh token refreshes and
// logins work again, with nothing restarted.
func TestDatabaseUnavailable(t *testing.T) {
	logs := &syncBuffer{}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	f := sessiontest.New(t, sessiontest.Options{Issuer: base,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	// The keyring, and so the server's guard, reads the keys through the
	// same switch: after its reload interval it must reach the database.
	st := &outageStore{Database: f.DB}
	keys := token.NewKeyring(st, f.Clock, sessiontest.AccessTTL+sessiontest.Leeway, 10*time.Second)
	g0, err := guard.New(guard.Config{Issuer: base, Audience: base, Leeway: sessiontest.Leeway,
		Keys: guardkeys.FromKeyring(keys), Log: f.Log, Now: f.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	engine := session.New(session.Deps{Store: st, Hasher: password.NewHasher(sessiontest.Cheap),
		Tokens: token.NewIssuer(keys, f.Clock, base, []string{base}, sessiontest.AccessTTL),
		CSRF:   csrf.New(f.CSRFKey), Clock: f.Clock, Log: f.Log},
		session.Config{Grace: sessiontest.Grace, IdleTimeout: sessiontest.Idle, Lifetime: sessiontest.Lifetime,
			RevocationWindow: sessiontest.AccessTTL + sessiontest.Leeway})
	srv.Config.Handler = apiHandler(t, authapi.Deps{Engine: engine, Verifier: g0, Keys: keys, Log: f.Log, Clock: f.Clock}, base)
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if _, err := engine.AddUser(ctx, session.CLI, testUser, testPassword, []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	g := &gh{t: t, URL: base, Origin: base}

	tk := g.bearerLogin()
	bearer := "Bearer " + tk.AccessToken
	if r := doWith(t, http.DefaultClient, base, "GET", "/auth/session", nil, "Authorization", bearer); r.StatusCode != http.StatusOK {
		t.Fatalf("GET /auth/session before the outage: %d %s", r.StatusCode, r.Body)
	}

	// A second session whose access token the server has not verified
	// yet, so it is in no cache when the outage comes.
	unseen := g.bearerLogin()

	st.down.Store(true)
	for _, c := range []struct {
		name, method, path string
		body               any
		auth               bool
	}{
		{"login", "POST", "/auth/login", map[string]string{"username": testUser, "password": testPassword, "mode": "bearer"}, false},
		{"refresh", "POST", "/auth/refresh", map[string]string{"refresh_token": tk.RefreshToken}, false},
		{"who am I (the session must be live)", "GET", "/auth/session", nil, true},
		{"list my sessions", "GET", "/auth/sessions", nil, true},
		{"admin: list users", "GET", "/admin/users", nil, true},
	} {
		var h []string
		if c.auth {
			h = []string{"Authorization", bearer}
		}
		r := doWith(t, http.DefaultClient, base, c.method, c.path, c.body, h...)
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s during the outage: %d %s, want 503", c.name, r.StatusCode, r.Body)
			continue
		}
		if p := r.problem(t); p.Code != problem.CodeUnavailable {
			t.Errorf("%s during the outage: code %q, want %q", c.name, p.Code, problem.CodeUnavailable)
		}
		if ra := r.Header.Get("Retry-After"); ra != "1" {
			t.Errorf("%s during the outage: Retry-After %q, want 1", c.name, ra)
		}
	}
	// A guard needs no database while its keys are fresh: the token
	// still verifies, and so do the JWKS and the health check.
	if _, err := g0.Verify(ctx, tk.AccessToken); err != nil {
		t.Errorf("guard during the outage: %v", err)
	}
	for _, p := range []string{"/.well-known/jwks.json", "/healthz"} {
		if r := doWith(t, http.DefaultClient, base, "GET", p, nil); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s during the outage: %d %s", p, r.StatusCode, r.Body)
		}
	}
	// Past the reload interval the keyring must reread the keys and
	// cannot: a token the server has not seen is not known to be bad, so
	// the answer is 503, not a 401 that would send the client to refresh
	// or log in for nothing. /healthz stays up: the process is fine.
	f.Clock.Advance(11 * time.Second)
	for _, p := range []string{"/auth/session", "/.well-known/jwks.json"} {
		r := doWith(t, http.DefaultClient, base, "GET", p, nil, "Authorization", "Bearer "+unseen.AccessToken)
		if r.StatusCode != http.StatusServiceUnavailable || r.problem(t).Code != problem.CodeUnavailable || r.Header.Get("Retry-After") != "1" {
			t.Errorf("GET %s during the outage, keys due for a reload: %d %s, want 503 unavailable with Retry-After", p, r.StatusCode, r.Body)
		}
	}
	if r := doWith(t, http.DefaultClient, base, "GET", "/healthz", nil); r.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz during the outage: %d %s", r.StatusCode, r.Body)
	}

	st.down.Store(false)
	r, next := g.bearerRefresh(tk.RefreshToken)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh after the outage with the token the failed refresh presented: %d %s", r.StatusCode, r.Body)
	}
	for _, at := range []string{next.AccessToken, unseen.AccessToken} {
		if r := doWith(t, http.DefaultClient, base, "GET", "/auth/session", nil, "Authorization", "Bearer "+at); r.StatusCode != http.StatusOK {
			t.Errorf("GET /auth/session after the outage: %d %s", r.StatusCode, r.Body)
		}
	}
	g.bearerLogin()

	out := logs.String()
	if strings.Contains(out, "request failed") {
		t.Errorf("an outage was logged as a failed request (a 500):\n%s", out)
	}
	if !strings.Contains(out, "database unavailable") {
		t.Errorf("the outage was not logged:\n%s", out)
	}
}
