package provider_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// receiver is a relying party's back-channel logout endpoint (Back-Channel
// Logout 1.0 §2.5): it answers the nth request (from 1) with answer(n),
// 200 by default, and keeps the logout tokens of the requests it took.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(n int) int
	// trap is where a redirect points: a sender that followed it would
	// hit it.
	trap *httptest.Server

	mu       sync.Mutex
	requests int
	taken    []string
	trapped  int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	rc := &receiver{t: t, answer: answer}
	rc.trap = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.trapped++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.trap.Close)
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/backchannel-logout" }

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/backchannel-logout" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		rc.t.Errorf("back-channel request %s %s, Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil || len(r.PostForm) != 1 || r.PostForm.Get("logout_token") == "" {
		rc.t.Errorf("back-channel form %v, %v: want logout_token alone", r.PostForm, err)
	}
	rc.mu.Lock()
	rc.requests++
	status := http.StatusOK
	if rc.answer != nil {
		status = rc.answer(rc.requests)
	}
	if status/100 == 2 {
		rc.taken = append(rc.taken, r.PostForm.Get("logout_token"))
	}
	rc.mu.Unlock()
	if status/100 == 3 {
		w.Header().Set("Location", rc.trap.URL+"/elsewhere")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

// counts are the requests it got, the tokens it took, and the hits of
// the trap.
func (rc *receiver) counts() (requests int, taken []string, trapped int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, append([]string(nil), rc.taken...), rc.trapped
}

// rpSession is a session of a client, started with the real code flow.
type rpSession struct {
	ID, IDToken, AccessToken, RefreshToken, Code, Verifier string
}

// rpLogin runs the code flow for the client and returns the session.
func (o *op) rpLogin(clientID, secret string) rpSession {
	o.t.Helper()
	code, verifier := o.code(clientID, nil)
	status, tok := o.exchange(code, verifier, clientID, secret)
	if status != http.StatusOK {
		o.t.Fatalf("exchange: %d %v", status, tok)
	}
	s := rpSession{Code: code, Verifier: verifier}
	s.IDToken, _ = tok["id_token"].(string)
	s.AccessToken, _ = tok["access_token"].(string)
	s.RefreshToken, _ = tok["refresh_token"].(string)
	parts := strings.Split(s.IDToken, ".")
	var c struct {
		SID string `json:"sid"`
	}
	if len(parts) != 3 {
		o.t.Fatalf("ID token %q", s.IDToken)
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &c) != nil || c.SID == "" {
		o.t.Fatalf("ID token payload: %v", err)
	}
	s.ID = c.SID
	return s
}

// notice is the store's logout notice of the session.
func (o *op) notice(sid string) (store.LogoutNotice, error) {
	return o.App.DB.LogoutNotice(context.Background(), sid)
}

// settle drives the sender until the session's notice is done: it wakes
// the sender, and once the notice has ended and waits for a retry, moves
// the clock to it. Only the retries' back-off is skipped this way; a
// notice still armed is left to the session's own deadline.
func (o *op) settle(sid string) store.LogoutNotice {
	o.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := o.notice(sid)
		if err != nil {
			o.t.Fatalf("notice of %s: %v", sid, err)
		}
		if !n.DoneAt.IsZero() {
			return n
		}
		if time.Now().After(deadline) {
			o.t.Fatalf("the notice of %s is not settled: %+v", sid, n)
		}
		if !n.EndedAt.IsZero() && n.Lease == "" && n.DueAt.After(o.Clock.Now()) {
			o.Clock.Advance(n.DueAt.Sub(o.Clock.Now()))
		}
		o.App.Backchannel.Wake()
		time.Sleep(5 * time.Millisecond)
	}
}

// quiet wakes the sender a few more times, for a second delivery to show
// if there were one.
func (o *op) quiet() {
	for range 5 {
		o.App.Backchannel.Wake()
		time.Sleep(10 * time.Millisecond)
	}
}

// logoutClaims are what the test reads of a logout token.
type logoutClaims struct {
	Issuer   string                     `json:"iss"`
	Audience audience                   `json:"aud"`
	IssuedAt int64                      `json:"iat"`
	Expiry   int64                      `json:"exp"`
	ID       string                     `json:"jti"`
	Subject  string                     `json:"sub"`
	SID      string                     `json:"sid"`
	Events   map[string]json.RawMessage `json:"events"`
	Nonce    *string                    `json:"nonce"`
}

// audience is an aud claim: a string or a list of them (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(a))
}

// verifyLogoutToken checks a logout token as a relying party does
// (Back-Channel Logout 1.0 §2.6): the signature against the provider's
// JWKS (go-oidc's remote key set, as for ID tokens), typ logout+jwt, iss,
// aud, iat and a short exp, jti, the event, no nonce, and the sub and sid
// of the session.
func (o *op) verifyLogoutToken(raw, clientID, sub, sid string) {
	o.t.Helper()
	ctx := context.Background()
	keys := oidc.NewRemoteKeySet(ctx, o.URL+provider.PathJWKS)
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		o.t.Fatalf("the logout token does not verify against the JWKS: %v", err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		o.t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	if h.ExtraHeaders[jose.HeaderType] != "logout+jwt" || h.KeyID == "" {
		o.t.Errorf("logout token header typ %v kid %q; want logout+jwt and a kid", h.ExtraHeaders[jose.HeaderType], h.KeyID)
	}
	if idKey, err := o.App.IDKeys.Lookup(ctx, h.KeyID); err != nil || idKey.Alg != h.Algorithm {
		o.t.Errorf("the logout token is not signed by an ID-token key: %v", err)
	}
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		o.t.Fatal(err)
	}
	now := o.Clock.Now().Unix()
	ev, ok := c.Events["http://schemas.openid.net/event/backchannel-logout"]
	switch {
	case c.Issuer != o.URL:
		o.t.Errorf("iss %q, want %q", c.Issuer, o.URL)
	case len(c.Audience) != 1 || c.Audience[0] != clientID:
		o.t.Errorf("aud %v, want %s", c.Audience, clientID)
	case c.Subject != sub || c.SID != sid:
		o.t.Errorf("sub %q sid %q, want %q %q", c.Subject, c.SID, sub, sid)
	case c.IssuedAt > now || c.Expiry <= now || c.Expiry-c.IssuedAt > 120:
		o.t.Errorf("iat %d exp %d at %d: want issued by now, expiring within two minutes", c.IssuedAt, c.Expiry, now)
	case c.ID == "":
		o.t.Error("no jti")
	case !ok || string(ev) != "{}" || len(c.Events) != 1:
		o.t.Errorf("events %v, want the back-channel logout event alone, {}", c.Events)
	case c.Nonce != nil:
		o.t.Errorf("a nonce (%q): a logout token must not have one (§2.4)", *c.Nonce)
	}
}

// backchannelAudit returns the back-channel audit events of the session, by type.
func (o *op) backchannelAudit(sid string) map[string][]store.AuditEvent {
	o.t.Helper()
	out := map[string][]store.AuditEvent{}
	for _, typ := range []string{provider.EventBackchannelSent, provider.EventBackchannelFailed} {
		evs, err := o.App.Engine.Audit(context.Background(), store.AuditFilter{Type: typ, SessionID: sid})
		if err != nil {
			o.t.Fatal(err)
		}
		if len(evs) > 0 {
			out[typ] = evs
		}
	}
	return out
}

// TestBackchannelLogout: every way a session of a client with a
// backchannel_logout_uri ends sends the client one logout token, which
// verifies against the provider's JWKS and names the session; a delivery
// that fails is retried with back-off and recorded once, as sent, when it
// gets through, or as failed after the last attempt; a redirect is never
// followed; and a client without the URI gets nothing.
func TestBackchannelLogout(t *testing.T) {
	const idle, lifetime = 7 * 24 * time.Hour, 30 * 24 * time.Hour
	type env struct {
		o            *op
		id, secret   string
		s            rpSession
		rc           *receiver
		otherSession string // the user's session of a client without a back-channel URI
	}
	for _, tt := range []struct {
		name   string
		answer func(n int) int
		end    func(t *testing.T, e env)
		reason string
		// attempts the sender makes; a delivery that gets through (sent)
		// is the last one.
		attempts int
		sent     bool
	}{
		{name: "logout", reason: "logout", end: func(t *testing.T, e env) {
			s, err := e.o.session(e.s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.o.App.Engine.Logout(t.Context(), s, session.Client{}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "RP-initiated logout", reason: "logout", end: func(t *testing.T, e env) {
			p := e.o.browser().get(e.o.URL + provider.PathEndSession + "?" + url.Values{"id_token_hint": {e.s.IDToken}}.Encode())
			if p.Status != http.StatusOK {
				t.Fatalf("end-session: %d %s", p.Status, p.Body)
			}
		}},
		{name: "admin revokes the session", reason: "revoked_by_admin", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.RevokeSession(t.Context(), session.CLI, e.s.ID, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "the user revokes it", reason: "revoked_by_user", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.RevokeSession(t.Context(), session.Actor{ID: e.o.UserID}, e.s.ID, e.o.UserID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "force logout", reason: "force_logout", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.ForceLogout(t.Context(), session.CLI, e.o.UserID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "logout everywhere", reason: "logout_all", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.LogoutAll(t.Context(), e.o.UserID, "", session.Client{}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "user disabled", reason: "user_disabled", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.SetDisabled(t.Context(), session.CLI, e.o.UserID, true); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "user deleted", reason: "user_deleted", end: func(t *testing.T, e env) {
			if err := e.o.App.Engine.DeleteUser(t.Context(), session.CLI, e.o.UserID); err != nil {
				t.Fatal(err)
			}
			if _, err := e.o.session(e.s.ID); !errors.Is(err, errNoSession) {
				t.Fatalf("the deleted user's session is still there: %v", err)
			}
		}},
		{name: "password changed", reason: "password_changed", end: func(t *testing.T, e env) {
			if _, err := e.o.App.Engine.SetPassword(t.Context(), session.CLI, e.o.UserID, "a brand new passphrase"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "refresh-token reuse", reason: "refresh_token_reuse", end: func(t *testing.T, e env) {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {e.s.RefreshToken}}
			if status, _, body := e.o.postForm(provider.PathToken, form, e.id, e.secret); status != http.StatusOK {
				t.Fatalf("refresh: %d %s", status, body)
			}
			e.o.Clock.Advance(time.Minute) // past the grace window
			if _, code, _ := e.o.tokenError(form, e.id, e.secret); code != "invalid_grant" {
				t.Fatalf("the spent refresh token again: %q, want invalid_grant", code)
			}
		}},
		{name: "replayed authorization code", reason: "authorization_code_replay", end: func(t *testing.T, e env) {
			if status, tok := e.o.exchange(e.s.Code, e.s.Verifier, e.id, e.secret); status != http.StatusBadRequest {
				t.Fatalf("the code again: %d %v", status, tok)
			}
		}},
		{name: "token revocation", reason: "token_revoked", end: func(t *testing.T, e env) {
			if status, _, body := e.o.postForm(provider.PathRevoke, url.Values{"token": {e.s.RefreshToken}}, e.id, e.secret); status != http.StatusOK {
				t.Fatalf("revocation: %d %s", status, body)
			}
		}},
		{name: "consent withdrawn", reason: "consent_revoked", end: func(t *testing.T, e env) {
			if err := e.o.App.Clients.RevokeConsent(t.Context(), session.Actor{ID: e.o.UserID}, e.o.UserID, e.id); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "idle timeout", reason: "idle_timeout", end: func(t *testing.T, e env) {
			e.o.Clock.Advance(idle - time.Second)
			e.o.quiet()
			if _, taken, _ := e.rc.counts(); len(taken) != 0 {
				t.Fatal("a logout token before the idle deadline")
			}
			e.o.Clock.Advance(time.Second) // no row changes: the sender finds it
		}},
		{name: "absolute lifetime", reason: "lifetime_exceeded", end: func(t *testing.T, e env) {
			// Refreshed every six days, never idle, until the lifetime
			// runs out.
			rt, authed := e.s.RefreshToken, e.o.Clock.Now()
			for e.o.Clock.Now().Sub(authed)+6*24*time.Hour < lifetime {
				e.o.Clock.Advance(6 * 24 * time.Hour)
				status, _, body := e.o.postForm(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.id, e.secret)
				var tok struct {
					RefreshToken string `json:"refresh_token"`
				}
				if status != http.StatusOK || json.Unmarshal(body, &tok) != nil {
					t.Fatalf("refresh %v after sign-in: %d %s", e.o.Clock.Now().Sub(authed), status, body)
				}
				rt = tok.RefreshToken
				e.o.quiet()
			}
			if _, taken, _ := e.rc.counts(); len(taken) != 0 {
				t.Fatal("a logout token for a session being refreshed")
			}
			e.o.Clock.Advance(authed.Add(lifetime).Sub(e.o.Clock.Now()))
		}},
		{name: "the client fails twice, then takes it", reason: "revoked_by_admin", attempts: 3,
			answer: func(n int) int {
				return map[bool]int{true: http.StatusServiceUnavailable, false: http.StatusOK}[n <= 2]
			},
			end: func(t *testing.T, e env) {
				if _, err := e.o.App.Engine.RevokeSession(t.Context(), session.CLI, e.s.ID, ""); err != nil {
					t.Fatal(err)
				}
			}, sent: true},
		{name: "the client always fails, redirects are not followed", reason: "revoked_by_admin", attempts: 5,
			answer: func(n int) int {
				if n%2 == 0 {
					return http.StatusTemporaryRedirect
				}
				return http.StatusInternalServerError
			},
			end: func(t *testing.T, e env) {
				if _, err := e.o.App.Engine.RevokeSession(t.Context(), session.CLI, e.s.ID, ""); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		if tt.attempts == 0 {
			tt.attempts, tt.sent = 1, true
		}
		t.Run(tt.name, func(t *testing.T) {
			o := newOP(t)
			rc := newReceiver(t, tt.answer)
			id, secret := o.register(provider.Spec{BackchannelLogoutURI: rc.URL()})
			plain, plainSecret := o.register(provider.Spec{})
			e := env{o: o, id: id, secret: secret, rc: rc, s: o.rpLogin(id, secret)}
			e.otherSession = o.rpLogin(plain, plainSecret).ID
			if n, err := o.notice(e.s.ID); err != nil || !n.EndedAt.IsZero() {
				t.Fatalf("the live session's notice: %+v, %v; want armed", n, err)
			}
			o.quiet()
			if requests, _, _ := rc.counts(); requests != 0 {
				t.Fatalf("%d requests for a live session", requests)
			}

			tt.end(t, e)
			n := o.settle(e.s.ID)
			o.quiet()

			requests, taken, trapped := rc.counts()
			if requests != tt.attempts || trapped != 0 {
				t.Errorf("%d requests, %d followed redirects; want %d and none", requests, trapped, tt.attempts)
			}
			if n.Reason != tt.reason || n.Attempts != tt.attempts {
				t.Errorf("notice %+v: want reason %s after %d attempts", n, tt.reason, tt.attempts)
			}
			evs := o.backchannelAudit(e.s.ID)
			if tt.sent {
				if len(taken) != 1 {
					t.Fatalf("%d logout tokens taken, want exactly one", len(taken))
				}
				o.verifyLogoutToken(taken[0], id, o.UserID, e.s.ID)
				sent := evs[provider.EventBackchannelSent]
				if n.Outcome != store.NoticeSent || len(evs) != 1 || len(sent) != 1 || sent[0].Outcome != "success" ||
					sent[0].UserID != o.UserID || !strings.Contains(sent[0].Detail, "client "+id) {
					t.Errorf("outcome %q, audit %+v: want one success event naming the client", n.Outcome, evs)
				}
			} else {
				failed := evs[provider.EventBackchannelFailed]
				if len(taken) != 0 || n.Outcome != store.NoticeFailed || len(evs) != 1 || len(failed) != 1 ||
					failed[0].Outcome != "failure" || !strings.Contains(failed[0].Detail, "client "+id) {
					t.Errorf("%d tokens taken, outcome %q, audit %+v: want none, failed, one failure event naming the client",
						len(taken), n.Outcome, evs)
				}
			}

			// The client without a back-channel URI is owed nothing, and
			// nothing is recorded for it, whether or not its session ended
			// too.
			if _, err := o.notice(e.otherSession); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a notice for the client without a back-channel URI: %v", err)
			}
			if evs := o.backchannelAudit(e.otherSession); len(evs) != 0 {
				t.Errorf("back-channel audit for the client without a URI: %+v", evs)
			}
		})
	}
}

// TestBackchannelLogoutNotOwed: sessions of the first-party login API
// (a client that is no registration) and of a client without a
// back-channel URI are owed nothing when they end.
func TestBackchannelLogoutNotOwed(t *testing.T) {
	o := newOP(t)
	plain, secret := o.register(provider.Spec{})
	s := o.rpLogin(plain, secret)
	g, err := o.App.Engine.Login(t.Context(), testUser, testPassword, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.App.Engine.ForceLogout(t.Context(), session.CLI, o.UserID); err != nil {
		t.Fatal(err)
	}
	o.quiet()
	for _, sid := range []string{s.ID, g.Session.ID} {
		if _, err := o.notice(sid); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("notice of %s: %v, want none", sid, err)
		}
		if evs := o.backchannelAudit(sid); len(evs) != 0 {
			t.Errorf("back-channel audit of %s: %+v", sid, evs)
		}
	}
}

// TestBackchannelLogoutMultiNode: on PostgreSQL, three nodes, each
// running its sender, share the notices of 40 sessions ended at once (more
// than one claim takes): every session's client gets exactly one logout
// token, and one sent event is recorded for it, whichever node sent it.
func TestBackchannelLogoutMultiNode(t *testing.T) {
	nodes := newCluster(t, 3)
	ctx := t.Context()
	var mu sync.Mutex
	got := map[string]int{}
	rc := newReceiver(t, nil)
	rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // a while in flight, for the other nodes to claim meanwhile
		_ = r.ParseForm()
		rc.serve(w, r)
		var c logoutClaims
		if parts := strings.Split(r.PostForm.Get("logout_token"), "."); len(parts) == 3 {
			if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(b, &c) == nil {
				mu.Lock()
				got[c.SID]++
				mu.Unlock()
			}
		}
	})
	id, _ := nodes[0].register(provider.Spec{BackchannelLogoutURI: rc.URL()})
	u, err := nodes[0].App.Engine.UserByID(ctx, nodes[0].UserID)
	if err != nil {
		t.Fatal(err)
	}
	var sids []string
	for i := range 40 {
		g, err := nodes[i%3].App.Engine.Start(ctx, session.Grantee{ClientID: id, Scope: "openid"}, u, nodes[0].Clock.Now(), session.Client{})
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, g.Session.ID)
	}
	if _, err := nodes[1].App.Engine.ForceLogout(ctx, session.CLI, u.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, sid := range sids {
		for {
			n, err := nodes[0].notice(sid)
			if err != nil {
				t.Fatal(err)
			}
			if !n.DoneAt.IsZero() {
				if n.Outcome != store.NoticeSent || n.Attempts != 1 {
					t.Errorf("notice %+v: want sent at the first attempt", n)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the notice of %s is not settled: %+v", sid, n)
			}
			for _, o := range nodes {
				o.App.Backchannel.Wake()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	nodes[2].quiet()
	requests, taken, _ := rc.counts()
	mu.Lock()
	defer mu.Unlock()
	if requests != len(sids) || len(taken) != len(sids) || len(got) != len(sids) {
		t.Errorf("%d requests, %d tokens for %d sessions, want one each", requests, len(got), len(sids))
	}
	for _, sid := range sids {
		if got[sid] != 1 {
			t.Errorf("session %s: %d logout tokens, want one", sid, got[sid])
		}
		if evs := nodes[2].backchannelAudit(sid); len(evs[provider.EventBackchannelSent]) != 1 || len(evs) != 1 {
			t.Errorf("session %s: audit %+v, want one sent event", sid, evs)
		}
	}
}

// TestBackchannelDiscovery: discovery says back-channel logout is
// supported, with the sid in every logout token (§2.1).
func TestBackchannelDiscovery(t *testing.T) {
	o := newOP(t)
	resp, err := http.Get(o.URL + provider.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		Supported        *bool `json:"backchannel_logout_supported"`
		SessionSupported *bool `json:"backchannel_logout_session_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Supported == nil || !*meta.Supported || meta.SessionSupported == nil || !*meta.SessionSupported {
		t.Fatalf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v; want both true",
			meta.Supported, meta.SessionSupported)
	}
}
