package provider

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse/internal/edge"
	"github.com/gatehouse-auth/gatehouse/internal/sealed"
	"github.com/gatehouse-auth/gatehouse/internal/session"
	"github.com/gatehouse-auth/gatehouse/internal/store"
)

// maxFormBytes bounds the body of an authorization request, a pushed
// request and the login and consent forms.
const maxFormBytes = 32 << 10

// bindCookie binds the login and consent forms to the browser that
// started the authorization request: the sealed request carries the
// cookie's value, and a form posted from another browser (login CSRF,
// a forwarded link) does not match it. Strict: only this site's own
// pages send it back.
const bindCookie = "__Host-gh_authz"

// pending is an authorization request between the authorization endpoint
// and the login and consent forms, sealed into the page (AES-GCM under a
// key from the server's secret), so that any node can take the form and
// nothing is stored for a request nobody finishes.
type pending struct {
	ClientID      string    `json:"cid"`
	RedirectURI   string    `json:"ru"`
	State         string    `json:"st,omitempty"`
	Nonce         string    `json:"n,omitempty"`
	CodeChallenge string    `json:"cc"`
	Scope         []string  `json:"sc"`
	Audience      []string  `json:"aud,omitempty"`
	LoginHint     string    `json:"lh,omitempty"`
	Consent       bool      `json:"pc,omitempty"` // prompt=consent
	Bind          string    `json:"b"`
	Expires       time.Time `json:"exp"`
	// Set once the user has signed in on the login page.
	UserID      string    `json:"uid,omitempty"`
	Username    string    `json:"un,omitempty"`
	CredVersion int64     `json:"cv,omitempty"`
	AuthTime    time.Time `json:"at,omitzero"`
}

// pendingAD is the associated data of a sealed pending request: a blob
// made for another purpose does not open as one.
var pendingAD = []byte("pending authorization request")

func (p *Provider) seal(pr pending) (string, error) {
	b, err := sealed.Seal(p.pending, pendingAD, pr)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// errPending: the form's request is not one this provider sealed, has
// expired, or was started in another browser.
var errPending = errors.New("provider: the sign-in request is not valid here")

func (p *Provider) unseal(r *http.Request, s string) (pending, error) {
	var pr pending
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 8<<10 || sealed.Open(p.pending, pendingAD, b, &pr) != nil {
		return pr, errPending
	}
	if !p.d.Clock.Now().Before(pr.Expires) {
		return pr, errPending
	}
	ck, err := r.Cookie(bindCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(pr.Bind)) != 1 {
		return pr, errPending
	}
	return pr, nil
}

// binding returns the browser's binding value, setting the cookie when
// there is none (one per browser, so two tabs signing in at once do not
// undo each other).
func binding(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(bindCookie); err == nil && len(ck.Value) == 26 {
		return ck.Value
	}
	v := rand.Text()
	http.SetCookie(w, &http.Cookie{Name: bindCookie, Value: v, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	return v
}

// authzError is an error of the authorization endpoint, sent to the
// client's redirect URI once that is known to be registered (RFC 6749
// §4.1.2.1), with the issuer (RFC 9207 §2).
type authzError struct {
	code, desc string
}

func (e *authzError) Error() string { return e.code + ": " + e.desc }

func authzErr(code, desc string) *authzError { return &authzError{code: code, desc: desc} }

// single returns the parameter's one value; a repeated parameter is an
// error (RFC 6749 §3.1).
func single(q url.Values, name string) (string, bool) {
	v := q[name]
	switch len(v) {
	case 0:
		return "", true
	case 1:
		return v[0], true
	}
	return "", false
}

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OpenID
// Connect Core §3.1.2): it checks the request and shows the login page.
// Until the client and its redirect URI are known, a refusal is a page;
// after, it is a redirect to the client with error, state and iss.
func (p *Provider) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.pages.error(w, http.StatusBadRequest, "The sign-in request could not be read.")
		return
	}
	q := r.Form
	clientID, ok := single(q, "client_id")
	if !ok || clientID == "" {
		p.pages.error(w, http.StatusBadRequest, "The sign-in request names no application (client_id).")
		return
	}
	client, err := p.clientOf(r.Context(), clientID)
	if err != nil {
		p.pages.error(w, http.StatusBadRequest, "The application asking you to sign in is not registered here.")
		return
	}
	pushed := false
	if ru, ok := single(q, "request_uri"); !ok {
		p.pages.error(w, http.StatusBadRequest, "The sign-in request is malformed.")
		return
	} else if ru != "" {
		params, err := p.takePushed(r, client, ru)
		if err != nil {
			p.pages.error(w, http.StatusBadRequest, "The sign-in request has expired or was already used. Start again from the application.")
			return
		}
		q, pushed = params, true
	}
	redirectURI, ok := single(q, "redirect_uri")
	if !ok || redirectURI == "" || !MatchRedirect(client, redirectURI) {
		// Never redirected to (RFC 6749 §4.1.2.1, RFC 9700 §4.1).
		p.pages.error(w, http.StatusBadRequest, "The application's return address (redirect_uri) is not registered for it.")
		return
	}
	state, _ := single(q, "state")
	pr, aerr := p.checkAuthorize(client, q, pushed)
	if aerr != nil {
		p.redirectError(w, r, redirectURI, state, aerr)
		return
	}
	pr.RedirectURI, pr.State = redirectURI, state
	pr.Bind = binding(w, r)
	pr.Expires = p.d.Clock.Now().Add(p.cfg.PendingTTL)
	p.showLogin(w, http.StatusOK, client, pr, "")
}

// checkAuthorize applies the rules of an authorization request whose
// redirect URI is registered, and returns it as pending.
func (p *Provider) checkAuthorize(client store.Client, q url.Values, pushed bool) (pending, *authzError) {
	var pr pending
	for _, name := range []string{"response_type", "response_mode", "scope", "state", "nonce", "code_challenge",
		"code_challenge_method", "prompt", "max_age", "login_hint", "request"} {
		if len(q[name]) > 1 {
			return pr, authzErr(string(oidc.InvalidRequest), name+" is repeated")
		}
	}
	switch {
	case q.Get("request") != "":
		return pr, authzErr(string(oidc.RequestNotSupported), "request objects are not supported; use pushed authorization requests")
	case q.Get("response_type") == "":
		return pr, authzErr(string(oidc.InvalidRequest), "response_type is required")
	case q.Get("response_type") != "code":
		return pr, authzErr("unsupported_response_type", "only response_type=code is supported")
	case q.Get("response_mode") != "" && q.Get("response_mode") != "query":
		return pr, authzErr(string(oidc.InvalidRequest), "only response_mode=query is supported")
	case !hasGrant(client, GrantAuthorizationCode):
		return pr, authzErr(string(oidc.UnauthorizedClient), "the client is not registered for the authorization code grant")
	case client.RequirePAR && !pushed:
		return pr, authzErr(string(oidc.InvalidRequest), "this client must push its authorization requests (RFC 9126)")
	case q.Get("code_challenge") == "":
		return pr, authzErr(string(oidc.InvalidRequest), "code_challenge is required (PKCE, RFC 7636)")
	case q.Get("code_challenge_method") != "S256":
		return pr, authzErr(string(oidc.InvalidRequest), "code_challenge_method must be S256")
	case !challengeFormat(q.Get("code_challenge")):
		return pr, authzErr(string(oidc.InvalidRequest), "code_challenge is not a base64url SHA-256")
	}
	scopes := dedupe(strings.Fields(q.Get("scope")))
	if len(scopes) == 0 {
		return pr, authzErr(string(oidc.InvalidScope), "scope is required")
	}
	for _, sc := range scopes {
		if !slices.Contains(client.Scopes, sc) {
			return pr, authzErr(string(oidc.InvalidScope), "scope "+strconv.Quote(sc)+" is not allowed for this client")
		}
	}
	aud, err := audienceFor(client, q["resource"])
	if err != nil {
		return pr, authzErr(string(oidc.InvalidTarget), "a resource is not registered for this client")
	}
	prompts := strings.Fields(q.Get("prompt"))
	for _, v := range prompts {
		switch v {
		case oidc.PromptNone:
			if len(prompts) > 1 {
				return pr, authzErr(string(oidc.InvalidRequest), "prompt=none cannot be combined")
			}
			// Every authorization signs in afresh (docs/provider.md).
			return pr, authzErr(string(oidc.LoginRequired), "the user must sign in")
		case oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount:
		default:
			return pr, authzErr(string(oidc.InvalidRequest), "prompt "+strconv.Quote(v)+" is not supported")
		}
	}
	if ma := q.Get("max_age"); ma != "" {
		// Satisfied by construction: auth_time is always this sign-in.
		if _, err := strconv.ParseUint(ma, 10, 32); err != nil {
			return pr, authzErr(string(oidc.InvalidRequest), "max_age is not a number of seconds")
		}
	}
	if len(q.Get("state")) > 2048 || len(q.Get("nonce")) > 512 || len(q.Get("login_hint")) > 256 {
		return pr, authzErr(string(oidc.InvalidRequest), "state, nonce or login_hint is too long")
	}
	return pending{ClientID: client.ID, Nonce: q.Get("nonce"), CodeChallenge: q.Get("code_challenge"), Scope: scopes,
		Audience: aud, LoginHint: q.Get("login_hint"), Consent: slices.Contains(prompts, oidc.PromptConsent)}, nil
}

// challengeFormat reports whether s is an S256 code challenge: the
// base64url of a SHA-256, 43 characters (RFC 7636 §4.2).
func challengeFormat(s string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}

// redirectError sends an authorization error to the client (RFC 6749
// §4.1.2.1), with iss (RFC 9207 §2).
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state string, e *authzError) {
	v := url.Values{"error": {e.code}, "error_description": {e.desc}}
	p.redirect(w, r, redirectURI, state, v)
}

// redirect sends the browser to the client's redirect URI with the
// authorization response's parameters, state and iss added to its query.
func (p *Provider) redirect(w http.ResponseWriter, r *http.Request, redirectURI, state string, v url.Values) {
	u, err := url.Parse(redirectURI)
	if err != nil { // registered URIs parse: the registry checked them
		p.pages.error(w, http.StatusInternalServerError, "The application's return address cannot be used.")
		return
	}
	q := u.Query()
	for k, vs := range v {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", p.cfg.Issuer.String())
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	// #nosec G710 -- redirectURI is one of the client's registered redirect
	// URIs, matched exactly (MatchRedirect) before any redirect is made.
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// handleLogin takes the login form.
func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.pages.error(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	pr, err := p.unseal(r, r.PostForm.Get("request"))
	if err != nil {
		p.pages.error(w, http.StatusBadRequest, "This sign-in form has expired or was opened in another browser. Start again from the application.")
		return
	}
	client, err := p.clientOf(r.Context(), pr.ClientID)
	if err != nil {
		p.pages.error(w, http.StatusBadRequest, "The application asking you to sign in is no longer registered.")
		return
	}
	username := r.PostForm.Get("username")
	pr.LoginHint = username
	u, err := p.d.Sessions.Authenticate(r.Context(), username, r.PostForm.Get("password"), p.peer(r))
	var rl *session.RateLimitError
	switch {
	case errors.As(err, &rl):
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(rl.RetryAfter.Round(time.Second)/time.Second))))
		p.showLogin(w, http.StatusTooManyRequests, client, pr, "Too many attempts. Wait a moment, then try again.")
		return
	case errors.Is(err, session.ErrBusy):
		w.Header().Set("Retry-After", "1")
		p.showLogin(w, http.StatusServiceUnavailable, client, pr, "The server is busy. Try again in a moment.")
		return
	case errors.Is(err, session.ErrInvalidCredentials), errors.Is(err, session.ErrInvalidInput):
		// One message for every cause: an unknown user, a wrong password
		// and a disabled account look the same.
		p.showLogin(w, http.StatusBadRequest, client, pr, "The username or password is incorrect.")
		return
	case err != nil:
		p.d.Log.Error("provider login failed", "err", err)
		p.pages.error(w, http.StatusInternalServerError, "Signing in failed. Try again later.")
		return
	}
	pr.UserID, pr.Username, pr.CredVersion, pr.AuthTime = u.ID, u.Username, u.CredentialVersion, p.d.Clock.Now()
	if p.needsConsent(r, client, pr) {
		p.showConsent(w, client, pr)
		return
	}
	p.finish(w, r, client, pr)
}

// needsConsent reports whether the user must consent: not for a
// first-party client, nor when a remembered consent covers the scopes,
// unless the client asked (prompt=consent).
func (p *Provider) needsConsent(r *http.Request, client store.Client, pr pending) bool {
	if client.FirstParty {
		return false
	}
	if pr.Consent {
		return true
	}
	c, err := p.d.Store.Consent(r.Context(), pr.UserID, client.ID)
	if err != nil {
		return true
	}
	for _, sc := range pr.Scope {
		if !slices.Contains(c.Scopes, sc) {
			return true
		}
	}
	return false
}

// handleConsent takes the consent form.
func (p *Provider) handleConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.pages.error(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	pr, err := p.unseal(r, r.PostForm.Get("request"))
	if err != nil || pr.UserID == "" {
		p.pages.error(w, http.StatusBadRequest, "This consent form has expired or was opened in another browser. Start again from the application.")
		return
	}
	client, err := p.clientOf(r.Context(), pr.ClientID)
	if err != nil {
		p.pages.error(w, http.StatusBadRequest, "The application asking for access is no longer registered.")
		return
	}
	switch r.PostForm.Get("decision") {
	case "allow":
	case "deny":
		p.redirectError(w, r, pr.RedirectURI, pr.State, authzErr(string(oidc.AccessDenied), "the user denied the request"))
		return
	default:
		p.pages.error(w, http.StatusBadRequest, "The form was not answered.")
		return
	}
	granted := pr.Scope
	if prev, err := p.d.Store.Consent(r.Context(), pr.UserID, client.ID); err == nil {
		granted = dedupe(append(slices.Clone(prev.Scopes), pr.Scope...))
	}
	if err := p.d.Store.PutConsent(r.Context(), store.Consent{UserID: pr.UserID, ClientID: client.ID, Scopes: granted,
		GrantedAt: p.d.Clock.Now()}); err != nil {
		p.d.Log.Error("recording a consent failed", "client_id", client.ID, "err", err)
		p.pages.error(w, http.StatusInternalServerError, "Your answer could not be recorded. Try again later.")
		return
	}
	p.finish(w, r, client, pr)
}

// finish starts the session for the signed-in user and sends the browser
// back to the client with a code (RFC 6749 §4.1.2) that carries the
// session's first tokens, sealed under the code.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, client store.Client, pr pending) {
	ctx := r.Context()
	scope := strings.Join(pr.Scope, " ")
	g, err := p.d.Sessions.Start(ctx, session.Grantee{ClientID: client.ID, Audience: pr.Audience, Scope: scope,
		AccessTTL: client.AccessTokenTTL, Lifetime: client.RefreshTokenTTL},
		store.User{ID: pr.UserID, CredentialVersion: pr.CredVersion}, pr.AuthTime, p.peer(r))
	if errors.Is(err, session.ErrInvalidCredentials) {
		pr.UserID, pr.Username = "", ""
		p.showLogin(w, http.StatusBadRequest, client, pr, "Your account changed while you were signing in. Sign in again.")
		return
	} else if err != nil {
		p.d.Log.Error("starting a provider session failed", "client_id", client.ID, "err", err)
		p.pages.error(w, http.StatusInternalServerError, "Signing in failed. Try again later.")
		return
	}
	code, hash := newCode()
	blob, err := sealed.Seal(sealed.Key([]byte(code), codeLabel()), hash,
		codeGrant{AccessToken: g.AccessToken, AccessExp: g.AccessExpiresAt, RefreshToken: g.RefreshToken})
	if err == nil {
		now := p.d.Clock.Now()
		err = p.d.Store.CreateCode(ctx, store.AuthCode{Hash: hash, ClientID: client.ID, UserID: pr.UserID,
			SessionID: g.Session.ID, RedirectURI: pr.RedirectURI, Scope: scope, Audience: g.Session.Audience,
			CodeChallenge: pr.CodeChallenge, Nonce: pr.Nonce, AuthTime: pr.AuthTime, CreatedAt: now,
			ExpiresAt: now.Add(p.cfg.CodeTTL), Grant: blob})
	}
	if err != nil {
		p.end(ctx, g.Session.ID, "authorization_failed", p.peer(r))
		p.d.Log.Error("issuing an authorization code failed", "client_id", client.ID, "err", err)
		p.pages.error(w, http.StatusInternalServerError, "Signing in failed. Try again later.")
		return
	}
	p.redirect(w, r, pr.RedirectURI, pr.State, url.Values{"code": {code}})
}

// handlePAR is the pushed authorization request endpoint (RFC 9126 §2):
// an authenticated client posts its authorization request and gets a
// request_uri to send the browser with instead. The request is checked
// now, as the authorization endpoint would, so that errors reach the
// client directly.
func (p *Provider) handlePAR(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "the form could not be read")
		return
	}
	form := r.PostForm
	clientID, secret, basic := r.BasicAuth()
	if basic {
		var e1, e2 error
		clientID, e1 = url.QueryUnescape(clientID)
		secret, e2 = url.QueryUnescape(secret)
		if e1 != nil || e2 != nil || (form.Get("client_id") != "" && form.Get("client_id") != clientID) {
			w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
			writeOAuthError(w, http.StatusUnauthorized, string(oidc.InvalidClient), "client authentication failed")
			return
		}
	} else {
		clientID, secret = form.Get("client_id"), form.Get("client_secret")
	}
	client, err := p.authenticate(r.Context(), &op.ClientCredentials{ClientID: clientID, ClientSecret: secret,
		ClientAssertion: form.Get("client_assertion"), ClientAssertionType: form.Get("client_assertion_type")}, basic,
		p.endpointURL(PathPAR))
	if err != nil {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
		}
		writeOAuthError(w, http.StatusUnauthorized, string(oidc.InvalidClient), "client authentication failed")
		return
	}
	if form.Get("request_uri") != "" {
		writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "request_uri cannot be pushed (RFC 9126 §2.1)")
		return
	}
	redirectURI := form.Get("redirect_uri")
	if len(form["redirect_uri"]) != 1 || !MatchRedirect(client, redirectURI) {
		writeOAuthError(w, http.StatusBadRequest, string(oidc.InvalidRequest), "redirect_uri is not registered for the client")
		return
	}
	if _, aerr := p.checkAuthorize(client, form, true); aerr != nil {
		code := string(oidc.InvalidRequest)
		switch aerr.code {
		case string(oidc.InvalidScope), string(oidc.InvalidTarget), string(oidc.UnauthorizedClient), string(oidc.RequestNotSupported):
			code = aerr.code
		}
		writeOAuthError(w, http.StatusBadRequest, code, aerr.desc)
		return
	}
	params := url.Values{}
	for k, v := range form {
		switch k {
		case "client_secret", "client_assertion", "client_assertion_type":
			continue // credentials are not part of the request
		}
		params[k] = v
	}
	token := rand.Text() + rand.Text()
	now := p.d.Clock.Now()
	if err := p.d.Store.CreatePushedRequest(r.Context(), store.PushedRequest{Hash: codeHash(token), ClientID: client.ID,
		Params: params.Encode(), CreatedAt: now, ExpiresAt: now.Add(p.cfg.PARTTL)}); err != nil {
		p.d.Log.Error("storing a pushed authorization request failed", "client_id", client.ID, "err", err)
		writeOAuthError(w, http.StatusInternalServerError, string(oidc.ServerError), "the request could not be stored")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	edge.WriteJSON(w, http.StatusCreated, map[string]any{
		"request_uri": requestURIPrefix + token,
		"expires_in":  int(p.cfg.PARTTL / time.Second),
	})
}

// takePushed returns a pushed request's parameters, once (RFC 9126 §4),
// for the client that pushed it and before it expires.
func (p *Provider) takePushed(r *http.Request, client store.Client, requestURI string) (url.Values, error) {
	tok, ok := strings.CutPrefix(requestURI, requestURIPrefix)
	if !ok || tok == "" || len(tok) > 128 {
		return nil, errPending
	}
	pr, err := p.d.Store.TakePushedRequest(r.Context(), codeHash(tok))
	if err != nil || pr.ClientID != client.ID || !p.d.Clock.Now().Before(pr.ExpiresAt) {
		return nil, errPending
	}
	q, err := url.ParseQuery(pr.Params)
	if err != nil {
		return nil, errPending
	}
	return q, nil
}
