package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"
)

// middleware wraps the routes with what every response needs, outermost
// first: panic recovery, the access log, security headers, refusal of
// TRACE, header-size bounds, client identification and a deadline, CORS for
// allowed origins, and cross-origin (CSRF) protection for unsafe methods.
func (s *Server) middleware(h http.Handler) http.Handler {
	h = s.cop.Handler(h)
	h = s.cors(h)
	h = s.clientInfo(h)
	h = s.limitHeaders(h)
	h = refuseTrace(h)
	h = s.securityHeaders(h)
	h = s.accessLog(h)
	return s.recoverer(h)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer turns a panic into a 500 problem. The stack goes to the log,
// never to the client.
func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				writeProblem(w, http.StatusInternalServerError, CodeInternal, "")
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// accessLog logs one line per request. It logs the path but never the
// query, headers or body: those can carry tokens and passwords.
func (s *Server) accessLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Duration("duration", time.Since(start)), slog.String("ip", s.clientIP(r)))
	})
}

// securityHeaders sets the headers every response carries.
func (s *Server) securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.overTLS(r) {
			// One year, as ASVS 3.4.1 asks; subdomains too, so that no
			// sibling can be reached over plain HTTP to plant cookies.
			hd.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		// Session and admin responses describe accounts and sessions; no
		// shared or browser cache may keep them.
		if strings.HasPrefix(r.URL.Path, "/auth/") || strings.HasPrefix(r.URL.Path, "/admin/") {
			hd.Set("Cache-Control", "no-store")
			hd.Set("Pragma", "no-cache")
		}
		h.ServeHTTP(w, r)
	})
}

// refuseTrace answers TRACE and TRACK with 405: echoing a request back can
// expose its httpOnly cookies to a script (cross-site tracing).
func refuseTrace(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "TRACE" || r.Method == "TRACK" {
			w.Header().Set("Allow", "GET, HEAD, POST")
			writeProblem(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// limitHeaders refuses header blocks over the configured size with a
// problem body (the listener's own, larger, limit answers in plain text).
func (s *Server) limitHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := len(r.Method) + len(r.RequestURI)
		for k, vs := range r.Header {
			for _, v := range vs {
				n += len(k) + len(v) + 4
			}
		}
		if n > s.cfg.MaxHeaderBytes {
			writeProblem(w, http.StatusRequestHeaderFieldsTooLarge, CodeHeadersTooLarge, "request headers are larger than the limit")
			return
		}
		h.ServeHTTP(w, r)
	})
}

type ctxKey int

const clientIPKey ctxKey = iota

// clientInfo resolves the client's address once and bounds the request's
// time. The revocation feed's event stream alone is exempt from the bound:
// it is meant to stay open, and ends on disconnect or shutdown instead.
func (s *Server) clientInfo(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if !isFeedStream(r) {
			ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
		}
		defer cancel()
		ctx = context.WithValue(ctx, clientIPKey, s.resolveIP(r))
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

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
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
func (s *Server) resolveIP(r *http.Request) string {
	peer, ok := peerAddr(r)
	if !ok {
		return ""
	}
	if !s.trusted(peer) {
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
		if !s.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

func (s *Server) clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey).(string); ok {
		return ip
	}
	return s.resolveIP(r)
}

// overTLS reports whether the client's connection is HTTPS: served with
// TLS here, or arriving from a trusted TLS-terminating proxy.
func (s *Server) overTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if peer, ok := peerAddr(r); ok && s.trusted(peer) {
		return !strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "http")
	}
	return false
}

// cors lets the allowed origins make credentialed calls from the browser.
// The allowed origin is echoed exactly, never a wildcard (ASVS 3.4.2).
func (s *Server) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if o == "" || !s.origins[o] {
			h.ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		// A cross-origin script sees only CORS-safelisted response headers
		// unless told otherwise; these two say when to retry (429, 503) and
		// why a token was refused (RFC 6750 §3).
		hd.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, "+HeaderCSRF)
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
