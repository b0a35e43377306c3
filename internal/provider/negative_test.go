package provider_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/provider"
	"github.com/gatehouse-auth/gatehouse/internal/session"
)

// TestAuthorizeRefusals: every refusal of the authorization endpoint, with
// the RFC's error. Until the client's redirect URI is known to be
// registered, the refusal is a page and the browser goes nowhere (RFC 6749
// §4.1.2.1, RFC 9700 §4.1); after, it is a redirect to the client with
// error, state and iss (RFC 9207 §2: errors carry it too).
func TestAuthorizeRefusals(t *testing.T) {
	o := newOP(t)
	confidential, _ := o.register(provider.Spec{Audiences: []string{"https://api.example.test"}})
	public, _ := o.register(provider.Spec{Public: true})
	par, _ := o.register(provider.Spec{RequirePAR: true})
	_, challenge := pkce()
	for _, tt := range []struct {
		name     string
		clientID string
		extra    url.Values
		// wantError is the error redirected to the client; "" means a page
		// and no redirect.
		wantError string
	}{
		{"unknown client", "no-such-client", nil, ""},
		{"redirect URI not registered", confidential, url.Values{"redirect_uri": {rpCallback + "/other"}}, ""},
		{"redirect URI a prefix of the registered", confidential, url.Values{"redirect_uri": {"https://rp.example.test/"}}, ""},
		{"redirect URI with an extra query", confidential, url.Values{"redirect_uri": {rpCallback + "?x=1"}}, ""},
		{"redirect URI missing", confidential, url.Values{"redirect_uri": {""}}, ""},
		{"redirect URI repeated", confidential, url.Values{"redirect_uri": {rpCallback, rpCallback}}, ""},
		{"missing PKCE", confidential, url.Values{"code_challenge": {""}, "code_challenge_method": {""}}, "invalid_request"},
		{"plain PKCE", confidential, url.Values{"code_challenge_method": {"plain"}}, "invalid_request"},
		{"PKCE method missing (plain by default)", confidential, url.Values{"code_challenge_method": {""}}, "invalid_request"},
		{"public client without PKCE", public, url.Values{"code_challenge": {""}, "code_challenge_method": {""}}, "invalid_request"},
		{"challenge not a SHA-256", confidential, url.Values{"code_challenge": {"short"}}, "invalid_request"},
		{"response_type token", confidential, url.Values{"response_type": {"token"}}, "unsupported_response_type"},
		{"response_type code id_token", confidential, url.Values{"response_type": {"code id_token"}}, "unsupported_response_type"},
		{"response_type missing", confidential, url.Values{"response_type": {""}}, "invalid_request"},
		{"response_mode fragment", confidential, url.Values{"response_mode": {"fragment"}}, "invalid_request"},
		{"scope not allowed for the client", confidential, url.Values{"scope": {"openid admin"}}, "invalid_scope"},
		{"no scope", confidential, url.Values{"scope": {""}}, "invalid_scope"},
		{"audience not allowed for the client", confidential, url.Values{"resource": {"https://other.example.test"}}, "invalid_target"},
		{"request object", confidential, url.Values{"request": {"eyJhbGciOiJub25lIn0.e30."}}, "request_not_supported"},
		{"PAR required", par, nil, "invalid_request"},
		{"prompt=none (no single sign-on)", confidential, url.Values{"prompt": {"none"}}, "login_required"},
		{"prompt=none with login", confidential, url.Values{"prompt": {"none login"}}, "invalid_request"},
		{"state repeated", confidential, url.Values{"state": {"a", "b"}}, "invalid_request"},
		{"request_uri never pushed", confidential, url.Values{"request_uri": {"urn:ietf:params:oauth:request_uri:nope"}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := o.browser().get(o.authorizeURL(tt.clientID, challenge, tt.extra))
			if tt.wantError == "" {
				if p.Status != http.StatusBadRequest || p.Location != "" || !strings.Contains(p.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("want a 400 page and no redirect, got %d to %q", p.Status, p.Location)
				}
				return
			}
			q := callback(t, p)
			if q.Get("error") != tt.wantError || q.Get("iss") != o.URL || q.Get("code") != "" {
				t.Fatalf("redirect %v: want error %q with iss %q", q, tt.wantError, o.URL)
			}
			if st := tt.extra["state"]; len(st) < 2 && q.Get("state") != "st-1" {
				t.Fatalf("state %q not returned", q.Get("state"))
			}
		})
	}
}

// tokenError posts to the token endpoint and returns the status and the
// RFC 6749 §5.2 error.
func (o *op) tokenError(form url.Values, clientID, secret string) (int, string, http.Header) {
	o.t.Helper()
	status, h, body := o.postForm(provider.PathToken, form, clientID, secret)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return status, e.Error, h
}

func (o *op) exchange(code, verifier, clientID, secret string) (int, map[string]any) {
	o.t.Helper()
	status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, clientID, secret)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return status, out
}

// TestTokenRefusals: every refusal of the token endpoint, with the RFC's
// error, and what each does to the session the code or token belongs to.
func TestTokenRefusals(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	other, otherSecret := o.register(provider.Spec{})
	postClient, postSecret := o.register(provider.Spec{AuthMethod: provider.AuthSecretPost})

	t.Run("wrong code_verifier spends the code and ends its session", func(t *testing.T) {
		code, _ := o.code(id, nil)
		other, _ := pkce()
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {other}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
		o.wantNoLiveSessions(id)
	})
	t.Run("missing code_verifier", func(t *testing.T) {
		code, _ := o.code(id, nil)
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
		o.wantNoLiveSessions(id)
	})
	t.Run("another redirect_uri", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback + "/x"}, "code_verifier": {verifier}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
	})
	t.Run("code reused: refused, and its tokens revoked", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		status, tok := o.exchange(code, verifier, id, secret)
		if status != http.StatusOK {
			t.Fatalf("first exchange: %d %v", status, tok)
		}
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("replay: %d %q, want 400 invalid_grant", status, e)
		}
		if active := o.introspect(tok["access_token"].(string), id, secret); active {
			t.Fatal("the access token of a replayed code is still active")
		}
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}},
			id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("the refresh token of a replayed code: %d %q", status, e)
		}
	})
	t.Run("code expired", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		o.Clock.Advance(61 * time.Second)
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
	})
	t.Run("code of another client", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, other, otherSecret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
	})
	t.Run("made-up code", func(t *testing.T) {
		_, verifier := pkce()
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("A", 43)},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, id, secret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		status, e, h := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, id, secret+"x")
		if status != http.StatusUnauthorized || e != "invalid_client" || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("%d %q %q, want 401 invalid_client with a Basic challenge", status, e, h.Get("WWW-Authenticate"))
		}
		// A wrong secret is not the client: its code stays redeemable.
		if status, tok := o.exchange(code, verifier, id, secret); status != http.StatusOK {
			t.Fatalf("the code after a wrong secret: %d %v", status, tok)
		}
	})
	t.Run("unknown client, same answer", func(t *testing.T) {
		status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, "no-such-client", "secret")
		if status != http.StatusUnauthorized || e != "invalid_client" {
			t.Fatalf("%d %q, want 401 invalid_client", status, e)
		}
	})
	t.Run("either secret method, whichever was registered", func(t *testing.T) {
		// RFC 6749 §2.3.1: Basic must be supported, the form may be; both
		// carry the same secret, and relying parties differ in their default.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {postClient}, "client_secret": {postSecret}}
		if status, e, _ := o.tokenError(form, "", ""); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("client_secret_post as registered: %d %q, want the grant refused, not the client", status, e)
		}
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, postClient, postSecret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("Basic for a client_secret_post client: %d %q, want the grant refused, not the client", status, e)
		}
		form.Set("client_secret", postSecret+"x")
		if status, e, _ := o.tokenError(form, "", ""); status != http.StatusUnauthorized || e != "invalid_client" {
			t.Fatalf("a wrong secret in the form: %d %q, want 401 invalid_client", status, e)
		}
	})
	t.Run("refresh token of another client", func(t *testing.T) {
		code, verifier := o.code(id, nil)
		_, tok := o.exchange(code, verifier, id, secret)
		rt := tok["refresh_token"].(string)
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, other, otherSecret); status != http.StatusBadRequest || e != "invalid_grant" {
			t.Fatalf("%d %q, want 400 invalid_grant", status, e)
		}
		// Neither rotated nor counted as reuse: it still works for its own client.
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, id, secret); status != http.StatusOK {
			t.Fatalf("its own client after the refusal: %d %q", status, e)
		}
	})
	t.Run("grant type not registered", func(t *testing.T) {
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"client_credentials"}}, id, secret); status != http.StatusBadRequest || e != "unauthorized_client" {
			t.Fatalf("%d %q, want 400 unauthorized_client", status, e)
		}
	})
	t.Run("grant type unknown", func(t *testing.T) {
		if status, e, _ := o.tokenError(url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword}}, id, secret); status != http.StatusBadRequest || e != "unsupported_grant_type" {
			t.Fatalf("%d %q, want 400 unsupported_grant_type", status, e)
		}
	})
}

// TestEndSessionRefusals: an unregistered post_logout_redirect_uri is
// refused and never redirected to (RP-Initiated Logout 1.0 §3).
func TestEndSessionRefusals(t *testing.T) {
	o := newOP(t)
	id, _ := o.register(provider.Spec{PostLogoutRedirectURIs: []string{"https://rp.example.test/bye"}})
	for _, tt := range []struct {
		name   string
		q      url.Values
		status int
	}{
		{"unregistered post_logout_redirect_uri", url.Values{"client_id": {id}, "post_logout_redirect_uri": {"https://evil.example/"}}, http.StatusBadRequest},
		{"a redirect with no client named", url.Values{"post_logout_redirect_uri": {"https://rp.example.test/bye"}}, http.StatusBadRequest},
		{"a forged id_token_hint", url.Values{"id_token_hint": {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}}, http.StatusBadRequest},
		{"registered", url.Values{"client_id": {id}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}, "state": {"s"}}, http.StatusFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := o.browser().get(o.URL + provider.PathEndSession + "?" + tt.q.Encode())
			if p.Status != tt.status {
				t.Fatalf("%d to %q: want %d", p.Status, p.Location, tt.status)
			}
			if tt.status == http.StatusFound && p.Location != "https://rp.example.test/bye?state=s" {
				t.Fatalf("redirected to %q", p.Location)
			}
			if tt.status != http.StatusFound && p.Location != "" {
				t.Fatalf("redirected to %q", p.Location)
			}
		})
	}
}

// TestFirstPartyAtTokenEndpoint: a first-party login API session is a
// session of the built-in client, so its refresh token rotates at the
// token endpoint too (with that client's id and no secret), through the
// same engine; no other client can use it, and the built-in client
// cannot be sent to the authorization endpoint.
func TestFirstPartyAtTokenEndpoint(t *testing.T) {
	o := newOP(t)
	other, otherSecret := o.register(provider.Spec{})
	g, err := o.App.Engine.Login(t.Context(), testUser, testPassword, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	fp := o.App.Engine.FirstParty().ClientID
	if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}, other, otherSecret); e != "invalid_grant" {
		t.Fatalf("another client: %d %q, want invalid_grant", status, e)
	}
	status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}, fp, "")
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.RefreshToken == "" || tok.RefreshToken == g.RefreshToken {
		t.Fatalf("the built-in client's refresh: %d %s", status, body)
	}
	// Rotation through the engine: the spent token outside the grace
	// window is reuse, and ends the session.
	o.Clock.Advance(time.Minute)
	if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {g.RefreshToken}}, fp, ""); e != "invalid_grant" {
		t.Fatalf("the spent token: %d %q", status, e)
	}
	if s, _ := o.session(g.Session.ID); s.RevokeReason != "refresh_token_reuse" {
		t.Fatalf("session after reuse: %+v", s)
	}
	if p := o.browser().get(o.authorizeURL(fp, "x", nil)); p.Status != http.StatusBadRequest || p.Location != "" {
		t.Fatalf("the built-in client at authorize: %d to %q", p.Status, p.Location)
	}
}

// TestPrune: expired pushed requests go at once; a code is kept a day past
// its expiry, so that a late replay still ends its session.
func TestPrune(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	code, verifier := o.code(id, nil)
	_, challenge := pkce()
	if status, _, body := o.postForm(provider.PathPAR, url.Values{"response_type": {"code"}, "redirect_uri": {rpCallback},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}, id, secret); status != http.StatusCreated {
		t.Fatalf("PAR: %d %s", status, body)
	}
	pr := provider.NewPruner(o.App.DB, o.Clock, slog.New(slog.DiscardHandler))
	if status, _ := o.exchange(code, verifier, id, secret); status != http.StatusOK {
		t.Fatal("exchange failed")
	}
	o.Clock.Advance(2 * time.Minute)
	if codes, pushed, err := pr.Prune(t.Context()); err != nil || codes != 0 || pushed != 1 {
		t.Fatalf("after 2 minutes: %d codes, %d pushed, %v; want 0 and 1", codes, pushed, err)
	}
	// The replay is still known: refused, and its session ended.
	if status, e, _ := o.tokenError(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}}, id, secret); e != "invalid_grant" {
		t.Fatalf("replay: %d %q", status, e)
	}
	o.wantNoLiveSessions(id)
	o.Clock.Advance(provider.CodeRetention)
	if codes, _, err := pr.Prune(t.Context()); err != nil || codes != 1 {
		t.Fatalf("a day later: %d codes, %v; want 1", codes, err)
	}
}

// TestDirectEndpointInput: malformed requests to the endpoints clients call directly (token, introspection, revocation, userinfo, PAR)
// get a 4xx with an RFC 6749 error, never a 500; parameters in the URL are
// refused (a secret or a code there ends up in logs).
func TestDirectEndpointInput(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	for _, tt := range []struct {
		name, method, path, query, contentType, body string
		basic                                        bool
		wantStatus                                   int
		wantError                                    string
	}{
		{"secret in the URL", http.MethodPost, provider.PathToken, "client_id=" + id + "&client_secret=" + secret, "application/x-www-form-urlencoded", "grant_type=client_credentials", false, 400, "invalid_request"},
		{"code in the URL", http.MethodPost, provider.PathToken, "code=abc", "application/x-www-form-urlencoded", "grant_type=authorization_code", true, 400, "invalid_request"},
		{"token in the URL of introspection", http.MethodPost, provider.PathIntrospect, "token=abc", "application/x-www-form-urlencoded", "", true, 400, "invalid_request"},
		{"JSON body", http.MethodPost, provider.PathToken, "", "application/json", `{"grant_type":"client_credentials"}`, true, 400, "invalid_request"},
		{"no grant_type", http.MethodPost, provider.PathToken, "", "application/x-www-form-urlencoded", "", true, 400, "invalid_request"},
		{"malformed form", http.MethodPost, provider.PathToken, "", "application/x-www-form-urlencoded", "grant_type=%zz", true, 400, "invalid_request"},
		{"huge body", http.MethodPost, provider.PathToken, "", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=" + strings.Repeat("a", 1<<20), true, 400, "invalid_request"},
		{"no client", http.MethodPost, provider.PathToken, "", "application/x-www-form-urlencoded", "grant_type=client_credentials", false, 400, "invalid_request"},
		{"introspection without a client", http.MethodPost, provider.PathIntrospect, "", "application/x-www-form-urlencoded", "token=abc", false, 400, "invalid_request"},
		{"revocation without a token", http.MethodPost, provider.PathRevoke, "", "application/x-www-form-urlencoded", "", true, 400, "invalid_request"},
		{"GET on the token endpoint", http.MethodGet, provider.PathToken, "", "", "", false, 405, "invalid_request"},
		{"userinfo without a token", http.MethodGet, provider.PathUserinfo, "", "", "", false, 401, "invalid_request"},
		{"userinfo with garbage", http.MethodGet, provider.PathUserinfo, "", "", "", false, 401, "invalid_token"},
		{"PAR without a client", http.MethodPost, provider.PathPAR, "", "application/x-www-form-urlencoded", "response_type=code", false, 401, "invalid_client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := o.URL + tt.path
			if tt.query != "" {
				u += "?" + tt.query
			}
			req, _ := http.NewRequest(tt.method, u, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.basic {
				req.SetBasicAuth(id, secret)
			}
			if tt.name == "userinfo with garbage" {
				req.Header.Set("Authorization", "Bearer not.a.token")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != tt.wantStatus || json.NewDecoder(resp.Body).Decode(&e) != nil || e.Error != tt.wantError {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, e.Error, tt.wantStatus, tt.wantError)
			}
		})
	}
}

// TestRefreshTokenBoundToClient: an OAuth client's refresh token does not
// rotate at the first-party API's /auth/refresh, which authenticates no
// client (RFC 6749 §6: a confidential client's refresh needs its
// secret), and the refusal does not spend it; its access token does not
// act for the user at the first-party API; a refresh naming a scope must
// name the one granted.
func TestRefreshTokenBoundToClient(t *testing.T) {
	o := newOP(t)
	id, secret := o.register(provider.Spec{})
	code, verifier := o.code(id, nil)
	_, tok := o.exchange(code, verifier, id, secret)
	rt := tok["refresh_token"].(string)
	req, _ := http.NewRequest(http.MethodPost, o.URL+"/auth/refresh", strings.NewReader(`{"refresh_token":"`+rt+`"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/auth/refresh with an OAuth client's token: %d, want 401", resp.StatusCode)
	}
	// Nor does its access token act for the user at the first-party API.
	for _, path := range []string{"/auth/session", "/auth/sessions", "/auth/consents", "/admin/users"} {
		req, _ := http.NewRequest(http.MethodGet, o.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET %s with an OAuth client's access token: %d, want 401", path, resp.StatusCode)
		}
	}
	if status, e, _ := o.tokenError(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"openid"}}, id, secret); e != "invalid_scope" {
		t.Fatalf("narrowed scope: %d %q, want invalid_scope", status, e)
	}
	status, _, body := o.postForm(provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
		"scope": {"offline_access openid profile"}}, id, secret)
	if status != http.StatusOK {
		t.Fatalf("the same token at the token endpoint, with the granted scope: %d %s", status, body)
	}
}
