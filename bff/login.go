package bff

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse/internal/sealed"
)

// loginTTL bounds a sign-in from /login to /callback.
const loginTTL = 10 * time.Minute

// transaction is a sign-in in progress, sealed into the __Host-bff_tx
// cookie: the state, nonce and PKCE verifier stay bound to the browser
// that started it (ASVS 10.1.2), and nothing is stored until it ends.
type transaction struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	ReturnTo string    `json:"r"`
	Expires  time.Time `json:"e"`
}

var txAD = []byte("bff login transaction")

// handleLogin starts a sign-in: GET /bff/login?returnTo=/path. returnTo
// must be a path on this origin; anything else is refused, so the BFF is
// no open redirector.
func (b *BFF) handleLogin(w http.ResponseWriter, r *http.Request) {
	returnTo := r.URL.Query().Get("returnTo")
	if returnTo == "" {
		returnTo = "/"
	}
	if !localPath(returnTo) {
		writeProblem(w, http.StatusBadRequest, "bad_request", "returnTo must be a path on this site")
		return
	}
	tx := transaction{State: newSecret(), Nonce: newSecret(), Verifier: oauth2.GenerateVerifier(), ReturnTo: returnTo,
		Expires: b.cfg.Now().Add(loginTTL)}
	blob, err := sealed.Seal(b.txKey(), txAD, tx)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "internal", "the sign-in could not start")
		return
	}
	// Lax: the provider's redirect back is a cross-site top-level GET.
	http.SetCookie(w, &http.Cookie{Name: cookieTransaction, Value: base64.RawURLEncoding.EncodeToString(blob), Path: "/",
		MaxAge: int(loginTTL / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	target, err := b.authorizationURL(r.Context(), tx)
	if err != nil {
		b.cfg.Log.Warn("bff: the provider refused the authorization request", "err", err)
		writeProblem(w, http.StatusBadGateway, "provider_unavailable", "the sign-in service did not accept the request")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath reports whether p is a path on this origin: "/" and not "//"
// or "/\" (a protocol-relative URL to another host), with no scheme.
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || len(p) > 2048 {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && !strings.ContainsAny(p, "\r\n")
}

// authorizationURL is the authorization request: pushed (RFC 9126) when
// the provider offers it, so that its parameters never travel in the
// browser, else in the URL; PKCE S256 and a nonce either way.
func (b *BFF) authorizationURL(ctx context.Context, tx transaction) (string, error) {
	params := url.Values{
		"response_type":         {"code"},
		"client_id":             {b.cfg.ClientID},
		"redirect_uri":          {b.oauth.RedirectURL},
		"scope":                 {strings.Join(b.cfg.Scopes, " ")},
		"state":                 {tx.State},
		"nonce":                 {tx.Nonce},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(tx.Verifier)},
		"code_challenge_method": {"S256"},
	}
	if b.meta.PAR == "" {
		return b.meta.Authorization + sep(b.meta.Authorization) + params.Encode(), nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.meta.PAR, strings.NewReader(params.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.cfg.ClientID), url.QueryEscape(b.cfg.ClientSecret))
	resp, err := b.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		RequestURI string `json:"request_uri"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.RequestURI == "" {
		return "", fmt.Errorf("pushed authorization request: %d %.200s", resp.StatusCode, body)
	}
	q := url.Values{"client_id": {b.cfg.ClientID}, "request_uri": {out.RequestURI}}
	return b.meta.Authorization + sep(b.meta.Authorization) + q.Encode(), nil
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}

// handleCallback ends a sign-in: the state must be the transaction's, the
// iss the provider's (RFC 9207, when the provider says it sends one), the
// code exchanged with the secret and the PKCE verifier, and the ID token
// verified with its nonce. Then the session is stored and its cookies set.
func (b *BFF) handleCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tx, err := b.transaction(r)
	clearTx := &http.Cookie{Name: cookieTransaction, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode}
	http.SetCookie(w, clearTx)
	q := r.URL.Query()
	switch {
	case err != nil:
		writeProblem(w, http.StatusBadRequest, "login_expired", "the sign-in expired or was started in another browser; start again")
		return
	case q.Get("state") != tx.State:
		writeProblem(w, http.StatusBadRequest, "login_failed", "the answer is not for this sign-in (state)")
		return
	case (b.meta.ISSParameter || q.Has("iss")) && q.Get("iss") != b.meta.Issuer:
		writeProblem(w, http.StatusBadRequest, "login_failed", "the answer is not from this provider (iss)")
		return
	case q.Get("error") != "":
		writeProblem(w, http.StatusForbidden, "login_failed", "the sign-in did not succeed: "+q.Get("error"))
		return
	}
	octx := oidc.ClientContext(ctx, b.cfg.HTTPClient)
	tok, err := b.oauth.Exchange(octx, q.Get("code"), oauth2.VerifierOption(tx.Verifier))
	if err != nil {
		b.cfg.Log.Warn("bff: the code exchange failed", "err", err)
		writeProblem(w, http.StatusBadGateway, "login_failed", "the sign-in service refused the code")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := b.verifier.Verify(octx, rawID)
	if err != nil || idt.Nonce != tx.Nonce {
		writeProblem(w, http.StatusBadGateway, "login_failed", "the sign-in service's ID token did not verify")
		return
	}
	var claims struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&claims)
	secret := newSecret()
	hash := hashSecret(secret)
	now := b.cfg.Now()
	exp := b.expiry(tok)
	sealedTokens, err := b.sealTokens(hash, tokens{Access: tok.AccessToken, Refresh: tok.RefreshToken, ID: rawID, Expiry: exp})
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, "internal", "the session could not be stored")
		return
	}
	s := Session{Hash: hash, Issuer: b.meta.Issuer, Subject: idt.Subject, SID: claims.SID, Tokens: sealedTokens,
		AccessExpiresAt: exp, Version: 1, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(b.cfg.Lifetime)}
	if err := b.cfg.Store.CreateSession(ctx, s); err != nil {
		b.cfg.Log.Error("bff: storing a session failed", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "the session could not be stored; try again")
		return
	}
	b.setSessionCookies(w, secret, b.cfg.Lifetime)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, tx.ReturnTo, http.StatusSeeOther)
}

// errTransaction: no sign-in of this browser is in progress.
var errTransaction = errors.New("bff: no sign-in in progress")

func (b *BFF) transaction(r *http.Request) (transaction, error) {
	var tx transaction
	c, err := r.Cookie(cookieTransaction)
	if err != nil {
		return tx, errTransaction
	}
	blob, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || sealed.Open(b.txKey(), txAD, blob, &tx) != nil || !b.cfg.Now().Before(tx.Expires) {
		return tx, errTransaction
	}
	return tx, nil
}

// expiry is when an access token expires, on the BFF's clock: expires_in
// counted from now (x/oauth2's own Expiry is on the wall clock).
func (b *BFF) expiry(tok *oauth2.Token) time.Time {
	if tok.ExpiresIn > 0 {
		return b.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}
