package bff

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// route is a Route checked and ready.
type route struct {
	prefix   string
	upstream *url.URL
}

func newRoutes(rs []Route, own string) ([]route, error) {
	var out []route
	for _, r := range rs {
		u := r.Upstream
		switch {
		case !strings.HasPrefix(r.Prefix, "/") || !strings.HasSuffix(r.Prefix, "/"):
			return nil, fmt.Errorf("bff: route %q: a prefix starts and ends with /", r.Prefix)
		case strings.HasPrefix(r.Prefix, own+"/") || r.Prefix == "/":
			return nil, fmt.Errorf("bff: route %q would shadow the BFF's own endpoints or every path", r.Prefix)
		case u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
			return nil, fmt.Errorf("bff: route %q: the upstream must be an http(s) URL without userinfo", r.Prefix)
		}
		out = append(out, route{prefix: r.Prefix, upstream: u})
	}
	return out, nil
}

// refreshAhead is how long before its expiry an access token is renewed,
// so that a call in flight does not reach the upstream with one that
// expires on the way.
const refreshAhead = 30 * time.Second

// leaseFor bounds one refresh at the provider; a node that dies holding
// the lease frees the session after it.
const leaseFor = 15 * time.Second

// proxy forwards the route's requests to its upstream: the session's
// access token added as Bearer (refreshed first if it is about to
// expire), the browser's cookies and CSRF header stripped, bodies
// streamed both ways (server-sent events unbuffered). An unsafe request
// must pass the CSRF check. An upstream 401 to an idempotent request
// refreshes once and retries once.
func (b *BFF) proxy(rt route) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(rt.upstream)
			pr.Out.Host = rt.upstream.Host
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del(HeaderCSRF)
			pr.Out.Header.Del("Authorization")
			if at, ok := pr.In.Context().Value(accessKey{}).(string); ok {
				pr.Out.Header.Set("Authorization", "Bearer "+at)
			}
			pr.SetXForwarded()
		},
		FlushInterval: -1,
		Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			ResponseHeaderTimeout: b.cfg.UpstreamTimeout, MaxIdleConnsPerHost: 64},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("Set-Cookie") // the upstream sets no cookie on the SPA's origin
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
				writeProblem(w, http.StatusGatewayTimeout, "upstream_timeout", "the API did not answer in time")
				return
			}
			writeProblem(w, http.StatusBadGateway, "upstream_unavailable", "the API could not be reached")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, s, err := b.current(r)
		if err != nil {
			writeProblem(w, http.StatusUnauthorized, "no_session", "not signed in")
			return
		}
		if !safeMethod(r.Method) && !b.csrfOK(r, secret) {
			writeProblem(w, http.StatusForbidden, "csrf", "missing or invalid "+HeaderCSRF+" header")
			return
		}
		t, err := b.fresh(r.Context(), s, false)
		if err != nil {
			b.refused(w, r, s, err)
			return
		}
		b.touch(r.Context(), s)
		if !idempotent(r.Method) {
			rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, t.Access)))
			return
		}
		// An idempotent request may be retried once after a 401: hold its
		// answer back only until the status says which.
		rec := &retryWriter{ResponseWriter: w}
		rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), accessKey{}, t.Access)))
		if !rec.retry {
			return
		}
		s, err = b.cfg.Store.Session(r.Context(), s.Hash)
		if err == nil {
			t, err = b.fresh(r.Context(), s, true)
		}
		if err != nil {
			b.refused(w, r, s, err)
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, t.Access)))
	})
}

type accessKey struct{}

func idempotent(m string) bool {
	return safeMethod(m) || m == http.MethodPut || m == http.MethodDelete
}

// retryWriter swallows a first 401 answer, so that the request can be
// retried after a refresh; any other answer passes through as it comes.
// Its headers are its own until the status decides, so that a swallowed
// answer's headers do not mix with the retry's.
type retryWriter struct {
	http.ResponseWriter
	header         http.Header
	retry, decided bool
}

func (w *retryWriter) Header() http.Header {
	if w.decided && !w.retry {
		return w.ResponseWriter.Header()
	}
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *retryWriter) WriteHeader(code int) {
	if w.decided {
		if !w.retry {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	w.decided = true
	if code == http.StatusUnauthorized {
		w.retry = true
		return
	}
	for k, v := range w.header {
		w.ResponseWriter.Header()[k] = v
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryWriter) Write(p []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.retry {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *retryWriter) Flush() {
	if w.decided && !w.retry {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
	}
}

func (w *retryWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errRefreshFailed: the provider refused the refresh token; the session
// has ended.
var errRefreshFailed = errors.New("bff: the refresh was refused")

// refused answers a request whose session could not get a fresh token.
func (b *BFF) refused(w http.ResponseWriter, r *http.Request, s Session, err error) {
	if errors.Is(err, errRefreshFailed) {
		clearSessionCookies(w)
		writeProblem(w, http.StatusUnauthorized, "session_ended", "the session has ended; sign in again")
		return
	}
	b.cfg.Log.Warn("bff: refreshing the access token failed", "err", err)
	w.Header().Set("Retry-After", "1")
	writeProblem(w, http.StatusServiceUnavailable, "unavailable", "the sign-in service could not be reached; retry")
}

// fresh returns the session's tokens with an access token good for a
// while yet (or, with force, a new one whatever its expiry). One refresh
// per session is in flight across every node: the request that takes the
// store's lease refreshes; the others wait for the session's Version to
// change and use its result.
func (b *BFF) fresh(ctx context.Context, s Session, force bool) (tokens, error) {
	t, err := b.openTokens(s)
	if err != nil {
		return tokens{}, err
	}
	version := s.Version
	if !force && b.cfg.Now().Add(refreshAhead).Before(t.Expiry) {
		return t, nil
	}
	deadline := time.Now().Add(leaseFor + 5*time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		now := b.cfg.Now()
		cur, got, err := b.cfg.Store.LeaseRefresh(ctx, s.Hash, b.node, now, now.Add(leaseFor))
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return tokens{}, errRefreshFailed // ended meanwhile (logout, back-channel)
			}
			return tokens{}, err
		}
		if cur.Version != version {
			return b.openTokens(cur) // another request refreshed it
		}
		if got {
			return b.refresh(ctx, cur, t)
		}
		if time.Now().After(deadline) {
			return tokens{}, errors.New("bff: waited too long for another refresh")
		}
		select {
		case <-ctx.Done():
			return tokens{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// refresh rotates the session's tokens at the provider, holding the lease.
func (b *BFF) refresh(ctx context.Context, s Session, t tokens) (tokens, error) {
	octx := oidc.ClientContext(ctx, b.cfg.HTTPClient)
	next, err := b.oauth.TokenSource(octx, &oauth2.Token{RefreshToken: t.Refresh, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			b.end(ctx, s) // refused: the session ends with its refresh token
			return tokens{}, errRefreshFailed
		}
		_ = b.cfg.Store.ReleaseRefresh(ctx, s.Hash, b.node)
		return tokens{}, err
	}
	nt := tokens{Access: next.AccessToken, Refresh: next.RefreshToken, ID: t.ID, Expiry: b.expiry(next)}
	if nt.Refresh == "" {
		nt.Refresh = t.Refresh // the provider kept it (no rotation)
	}
	if id, ok := next.Extra("id_token").(string); ok && id != "" {
		nt.ID = id
	}
	blob, err := b.sealTokens(s.Hash, nt)
	if err != nil {
		return tokens{}, err
	}
	if _, err := b.cfg.Store.UpdateTokens(ctx, s.Hash, b.node, blob, nt.Expiry, s.ExpiresAt); err != nil {
		return tokens{}, err
	}
	return nt, nil
}

// touchEvery is how stale a session's last use may be before a request
// records a new one: the idle timeout is counted in these steps, and an
// API call does not cost a database write each time.
const touchEvery = time.Minute

// touch records a use of the session, at most once per touchEvery.
func (b *BFF) touch(ctx context.Context, s Session) {
	if now := b.cfg.Now(); now.Sub(s.LastUsedAt) >= touchEvery {
		_ = b.cfg.Store.TouchSession(ctx, s.Hash, now) // a lost touch only shortens the idle window
	}
}
