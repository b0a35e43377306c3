package bff

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/sealed"
)

// handleUser serves GET /bff/user: the signed-in user's claims (from the
// ID token, never a token itself), the logout URL and the session's
// remaining idle and absolute lifetime. ?slide=false does not count as a
// use, so a page polling it does not keep an idle session alive. 401
// without a session.
func (b *BFF) handleUser(w http.ResponseWriter, r *http.Request) {
	_, s, err := b.current(r)
	if err != nil {
		writeProblem(w, http.StatusUnauthorized, "no_session", "not signed in")
		return
	}
	t, err := b.openTokens(s)
	if err != nil {
		writeProblem(w, http.StatusUnauthorized, "no_session", "not signed in")
		return
	}
	now := b.cfg.Now()
	if r.URL.Query().Get("slide") != "false" && now.Sub(s.LastUsedAt) >= touchEvery {
		if err := b.cfg.Store.TouchSession(r.Context(), s.Hash, now); err == nil {
			s.LastUsedAt = now
		}
	}
	claims := map[string]any{}
	if idt, err := b.verifier.Verify(r.Context(), t.ID); err == nil {
		_ = idt.Claims(&claims)
	} else {
		// An ID token past its exp still says who signed in; its
		// signature was checked at the callback.
		claims = unverifiedClaims(t.ID)
	}
	for _, k := range []string{"nonce", "at_hash", "c_hash", "aud", "azp", "iat", "exp", "jti"} {
		delete(claims, k)
	}
	remaining := min(s.ExpiresAt.Sub(now), s.LastUsedAt.Add(b.cfg.IdleTimeout).Sub(now))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"claims":     claims,
		"logout_url": b.cfg.Prefix + "/logout",
		"expires_in": int(remaining / time.Second),
	})
}

// unverifiedClaims reads a JWT's claims without checking it: only for a
// token the BFF verified itself at the callback.
func unverifiedClaims(raw string) map[string]any {
	out := map[string]any{}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return out
	}
	b, err := b64(parts[1])
	if err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return out
}

// handleLogout serves POST /bff/logout (CSRF-protected): the refresh
// token is revoked at the provider (RFC 7009), the session ends, the
// cookies go, and the answer names the provider's end-session URL (with
// the ID token as hint) for the browser to visit: JSON for a script, a
// 303 redirect for a form.
func (b *BFF) handleLogout(w http.ResponseWriter, r *http.Request) {
	secret, s, err := b.current(r)
	if err != nil {
		// Only a request of the BFF's own origin clears the cookies. A
		// form another site posts here comes without the SameSite=Strict
		// session cookie, so it lands here too, and the answer to that
		// top-level navigation may set cookies: clearing them would sign
		// the victim out (logout CSRF).
		if b.sameOrigin(r) {
			clearSessionCookies(w)
		}
		writeProblem(w, http.StatusUnauthorized, "no_session", "not signed in")
		return
	}
	if !b.csrfOK(r, secret) {
		writeProblem(w, http.StatusForbidden, "csrf", "missing or invalid "+HeaderCSRF+" header")
		return
	}
	t, _ := b.openTokens(s)
	if t.Refresh != "" && b.meta.Revocation != "" {
		b.revoke(r, t.Refresh)
	}
	b.end(r.Context(), s)
	clearSessionCookies(w)
	// The provider's end-session URL carries the ID token as its hint:
	// the page is sent to the BFF's own /end-session instead, which
	// redirects there with the hint from an HttpOnly cookie, so that no
	// answer a script reads holds a token.
	if t.ID != "" {
		if blob, err := sealed.Seal(b.endKey(), endAD, endSession{ID: t.ID, Expires: b.cfg.Now().Add(endTTL)}); err == nil {
			http.SetCookie(w, &http.Cookie{Name: cookieEnd, Value: base64.RawURLEncoding.EncodeToString(blob), Path: b.cfg.Prefix,
				MaxAge: int(endTTL / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
	}
	target := b.cfg.Prefix + "/end-session"
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(r.Header.Get("Accept"), "application/json") || r.Header.Get("Sec-Fetch-Mode") == "cors" {
		writeJSON(w, http.StatusOK, map[string]string{"logout_url": target})
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// revoke revokes a refresh token at the provider; failing that is
// logged: the session ends here either way.
func (b *BFF) revoke(r *http.Request, refresh string) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, b.meta.Revocation,
		strings.NewReader(url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(b.cfg.ClientID), url.QueryEscape(b.cfg.ClientSecret))
	resp, err := b.cfg.HTTPClient.Do(req)
	if err != nil {
		b.cfg.Log.Warn("bff: revoking the refresh token failed", "err", err)
		return
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.cfg.Log.Warn("bff: the provider refused the revocation", "status", resp.StatusCode)
	}
}

// backchannelEvent is the logout token's event (Back-Channel Logout 1.0
// §2.4).
const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// handleBackchannel serves POST /bff/backchannel: an OpenID back-channel
// logout token from the provider (§2.5), verified (signature from the
// provider's JWKS, iss, aud, iat, the event, no nonce, a sid or a sub),
// ends the BFF sessions of that sid, or of that sub.
func (b *BFF) handleBackchannel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, "invalid_request", "the form could not be read")
		return
	}
	raw := r.PostForm.Get("logout_token")
	payload, err := b.keys.VerifySignature(r.Context(), raw)
	if err != nil {
		writeOAuthError(w, "invalid_request", "the logout token did not verify")
		return
	}
	var c struct {
		Iss    string                     `json:"iss"`
		Aud    audience                   `json:"aud"`
		Iat    float64                    `json:"iat"`
		Exp    float64                    `json:"exp"`
		Sub    string                     `json:"sub"`
		SID    string                     `json:"sid"`
		Nonce  *string                    `json:"nonce"`
		Events map[string]json.RawMessage `json:"events"`
	}
	now := b.cfg.Now()
	switch {
	case json.Unmarshal(payload, &c) != nil, c.Iss != b.meta.Issuer, !slices.Contains(c.Aud, b.cfg.ClientID),
		c.Nonce != nil, c.Events[backchannelEvent] == nil, c.Sub == "" && c.SID == "",
		c.Iat == 0, time.Unix(int64(c.Iat), 0).After(now.Add(5 * time.Minute)),
		c.Exp != 0 && !now.Before(time.Unix(int64(c.Exp), 0).Add(time.Minute)):
		writeOAuthError(w, "invalid_request", "the logout token is not valid")
		return
	}
	var n int
	if c.SID != "" {
		n, err = b.cfg.Store.DeleteSessionsBySID(r.Context(), c.Iss, c.SID)
	} else {
		n, err = b.cfg.Store.DeleteSessionsBySubject(r.Context(), c.Iss, c.Sub)
	}
	if err != nil {
		b.cfg.Log.Error("bff: back-channel logout failed", "err", err)
		writeOAuthError(w, "temporarily_unavailable", "the sessions could not be ended; retry")
		return
	}
	b.cfg.Log.Info("bff: back-channel logout", "sessions", n)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// audience is a JWT aud: a string or a list of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// cookieEnd carries a finished logout's ID token to /end-session, sealed;
// endTTL bounds it.
const (
	cookieEnd = "__Secure-bff_end"
	endTTL    = 5 * time.Minute
)

var endAD = []byte("bff end session")

type endSession struct {
	ID      string    `json:"idt"`
	Expires time.Time `json:"e"`
}

func (b *BFF) endKey() []byte { return sealed.Key(b.cfg.Key, "gatehouse bff end session v1") }

// handleEndSession serves GET /bff/end-session: after a logout, the
// browser goes on to the provider's end-session endpoint (RP-Initiated
// Logout 1.0), with the ID token as id_token_hint when the logout left
// one here, and is sent back to the post-logout redirect URI. Without an
// end-session endpoint it goes straight there.
func (b *BFF) handleEndSession(w http.ResponseWriter, r *http.Request) {
	target := b.cfg.PostLogoutRedirect
	if b.meta.EndSession != "" {
		q := url.Values{"client_id": {b.cfg.ClientID}, "post_logout_redirect_uri": {b.cfg.PostLogoutRedirect}}
		if c, err := r.Cookie(cookieEnd); err == nil {
			var e endSession
			if blob, err := b64(c.Value); err == nil && sealed.Open(b.endKey(), endAD, blob, &e) == nil && b.cfg.Now().Before(e.Expires) {
				q.Set("id_token_hint", e.ID)
			}
		}
		target = b.meta.EndSession + sep(b.meta.EndSession) + q.Encode()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieEnd, Value: "", Path: b.cfg.Prefix, MaxAge: -1, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}
