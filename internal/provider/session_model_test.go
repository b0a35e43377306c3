package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/guard"
	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestOneSessionModel: the provider's tokens belong to a session of the
// registry, and every way that session ends ends them: introspection says
// inactive at once, the refresh token is refused, and the guard (fed by
// the revocation feed, as a resource server's is) refuses the access
// token.
func TestOneSessionModel(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(t *testing.T, o *op, sid string)
	}{
		{"admin revokes the session", func(t *testing.T, o *op, sid string) {
			if _, err := o.App.Engine.RevokeSession(t.Context(), session.CLI, sid, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"the user revokes it", func(t *testing.T, o *op, sid string) {
			if _, err := o.App.Engine.RevokeSession(t.Context(), session.Actor{ID: o.UserID}, sid, o.UserID); err != nil {
				t.Fatal(err)
			}
		}},
		{"force logout", func(t *testing.T, o *op, _ string) {
			if _, err := o.App.Engine.ForceLogout(t.Context(), session.CLI, o.UserID); err != nil {
				t.Fatal(err)
			}
		}},
		{"logout everywhere from the first-party API", func(t *testing.T, o *op, _ string) {
			if _, err := o.App.Engine.LogoutAll(t.Context(), o.UserID, "", session.Client{}); err != nil {
				t.Fatal(err)
			}
		}},
		{"user disabled", func(t *testing.T, o *op, _ string) {
			if _, err := o.App.Engine.SetDisabled(t.Context(), session.CLI, o.UserID, true); err != nil {
				t.Fatal(err)
			}
		}},
		{"password changed", func(t *testing.T, o *op, _ string) {
			if _, err := o.App.Engine.SetPassword(t.Context(), session.CLI, o.UserID, "a brand new passphrase"); err != nil {
				t.Fatal(err)
			}
		}},
		{"user deleted", func(t *testing.T, o *op, _ string) {
			if err := o.App.Engine.DeleteUser(t.Context(), session.CLI, o.UserID); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOP(t)
			id, secret := o.register(provider.Spec{})
			code, verifier := o.code(id, nil)
			status, tok := o.exchange(code, verifier, id, secret)
			if status != http.StatusOK {
				t.Fatalf("exchange: %d %v", status, tok)
			}
			at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
			p, err := o.App.Guard().Verify(t.Context(), at)
			if err != nil {
				t.Fatalf("the guard refuses the provider's access token: %v", err)
			}
			if p.ClientID != id || p.Subject != o.UserID {
				t.Fatalf("principal %+v", p)
			}
			if s, err := o.session(p.SessionID); err != nil || s.ClientID != id {
				t.Fatalf("registry: %+v, %v", s, err)
			}

			tt.end(t, o, p.SessionID)

			if o.introspect(at, id, secret) {
				t.Fatal("introspection: the access token is still active")
			}
			if o.introspect(rt, id, secret) {
				t.Fatal("introspection: the refresh token is still active")
			}
			if status, e, _ := o.tokenError(map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret); e != "invalid_grant" {
				t.Fatalf("refresh after the end: %d %q", status, e)
			}
			waitRefused(t, o.App.Guard(), at)
		})
	}
}

// waitRefused waits for the guard to learn of the revocation from the
// feed (at once, on the same process's hub; the wait bounds a slow CI).
func waitRefused(t *testing.T, g *guard.Guard, at string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := g.Verify(context.Background(), at)
		if errors.Is(err, guard.ErrRevoked) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guard still accepts the access token: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLifetimesUnderRotation: an OAuth client's refresh tokens rotate
// through the engine, so the session's idle timeout and absolute lifetime
// hold however often it refreshes (zitadel#12684 let rotation extend
// them), and two presentations inside the grace window get one successor.
func TestLifetimesUnderRotation(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	refresh := func(rt string) (int, string) {
		t.Helper()
		status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret)
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(body, &out)
		return status, out.RefreshToken
	}
	start := func() string {
		code, verifier := o.code(id, nil)
		_, tok := o.exchange(code, verifier, id, secret)
		return tok["refresh_token"].(string)
	}

	rt := start()
	if _, a := refresh(rt); a == "" {
		t.Fatal("first refresh failed")
	} else if _, b := refresh(rt); b != a {
		t.Fatalf("a duplicate inside the grace window got %q, want the same successor %q", b, a)
	}

	rt = start()
	o.Clock.Advance(7*24*time.Hour + time.Second)
	if status, _ := refresh(rt); status != http.StatusBadRequest {
		t.Fatalf("refresh after the idle timeout: %d, want 400", status)
	}

	rt = start()
	authed := o.Clock.Now()
	for o.Clock.Now().Sub(authed) < 30*24*time.Hour-6*24*time.Hour {
		o.Clock.Advance(6 * 24 * time.Hour)
		status, next := refresh(rt)
		if status != http.StatusOK {
			t.Fatalf("refresh %v after sign-in: %d", o.Clock.Now().Sub(authed), status)
		}
		rt = next
	}
	o.Clock.Advance(6 * 24 * time.Hour) // past 30 days since sign-in, never idle
	if status, _ := refresh(rt); status != http.StatusBadRequest {
		t.Fatalf("refresh past the absolute lifetime: %d, want 400", status)
	}
}

// TestClientLifetimes: a client's registered lifetimes hold: its access
// tokens live its access-token lifetime, at the code exchange, at every
// refresh and for client_credentials, and its sessions end at its
// refresh-token lifetime however active; an access-token lifetime longer
// than the server's is capped at the server's.
func TestClientLifetimes(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{AccessTokenTTL: time.Minute, RefreshTokenTTL: 2 * time.Hour,
		GrantTypes: []string{provider.GrantAuthorizationCode, provider.GrantRefreshToken, provider.GrantClientCredentials}})
	long, longSecret := o.register(provider.Spec{AccessTokenTTL: 24 * time.Hour,
		GrantTypes: []string{provider.GrantAuthorizationCode, provider.GrantClientCredentials}})
	expiresIn := func(body []byte) float64 {
		var out struct {
			ExpiresIn float64 `json:"expires_in"`
		}
		_ = json.Unmarshal(body, &out)
		return out.ExpiresIn
	}
	code, verifier := o.code(id, nil)
	status, tok := o.exchange(code, verifier, id, secret)
	if status != http.StatusOK || tok["expires_in"] != float64(60) {
		t.Fatalf("exchange: %d expires_in %v, want 60", status, tok["expires_in"])
	}
	rt := tok["refresh_token"].(string)
	o.Clock.Advance(time.Hour)
	status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret)
	if status != http.StatusOK || expiresIn(body) != 60 {
		t.Fatalf("refresh: %d %s, want expires_in 60", status, body)
	}
	var next struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(body, &next)
	o.Clock.Advance(time.Hour + time.Second) // 2 h since sign-in, active all along
	if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}}, id, secret); e != "invalid_grant" {
		t.Fatalf("refresh past the client's refresh-token lifetime: %d %q", status, e)
	}
	if status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"client_credentials"}}, id, secret); status != http.StatusOK || expiresIn(body) != 60 {
		t.Fatalf("client_credentials: %d %s, want expires_in 60", status, body)
	}
	server := o.App.Issuer.TTL().Seconds()
	if status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"client_credentials"}}, long, longSecret); status != http.StatusOK || expiresIn(body) != server {
		t.Fatalf("a longer lifetime than the server's: %d %s, want expires_in %v", status, body, server)
	}
}
