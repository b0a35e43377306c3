package edge

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type ctxKey int

const clientIPKey ctxKey = iota

// clientInfo resolves the client's address once and bounds the request's
// time. Requests Config.Unbounded names (the revocation feed's event
// stream) are exempt from the bound: they are meant to stay open, and end
// on disconnect or shutdown instead.
func (e *Edge) clientInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if e.cfg.Unbounded == nil || !e.cfg.Unbounded(r) {
			ctx, cancel = context.WithTimeout(ctx, e.cfg.RequestTimeout)
		}
		defer cancel()
		ctx = context.WithValue(ctx, clientIPKey, e.resolveIP(r))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

func (e *Edge) trusted(a netip.Addr) bool {
	for _, p := range e.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolveIP returns the client address. X-Forwarded-For is read only when
// the peer is a trusted proxy, and then from the right: the rightmost
// address that is not itself a trusted proxy is the first one a trusted
// party wrote. Anything to its left is whatever the client claimed.
func (e *Edge) resolveIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return ""
	}
	if !e.trusted(peer) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		a = a.Unmap()
		if !e.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

// ClientIP is the client's address as clientInfo resolved it for this
// request: the peer, or behind trusted proxies the rightmost address of
// X-Forwarded-For that no trusted proxy wrote.
func (e *Edge) ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey).(string); ok {
		return ip
	}
	return e.resolveIP(r)
}

// OverTLS reports whether the client's connection is HTTPS: served with
// TLS here, or arriving from a trusted TLS-terminating proxy.
func (e *Edge) OverTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if peer, ok := peerAddr(r); ok && e.trusted(peer) {
		return !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "http")
	}
	return false
}
