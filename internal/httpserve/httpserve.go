// Package httpserve prepares every HTTP listener Gatehouse runs (the API
// server today; the OAuth provider, a BFF later) so that a request whose
// body framing two HTTP implementations could read differently is refused.
//
// A request with both Content-Length and Transfer-Encoding is the classic
// request-smuggling vector (RFC 9112 §11.2): a proxy in front that frames
// it by Content-Length, while net/http frames it by the chunked coding,
// disagrees with Gatehouse on where the request ends, and the rest is
// read as the start of the next request on a back-end connection the
// proxy may be reusing for another user's requests. RFC 9112 §6.1: "A
// server MAY reject a request that contains both Content-Length and
// Transfer-Encoding or process such a request in accordance with the
// Transfer-Encoding alone. Regardless, the server MUST close the
// connection after responding to such a request ...". net/http processes it
// and keeps the connection open, and it removes the Content-Length
// header before a handler sees the request, so no handler can tell.
//
// Wrap wraps the listener's connections with a sniffer that notes, for
// each header block net/http reads, whether it carried Content-Length
// and Transfer-Encoding, and wraps the server's handler with a check that
// answers 400 (problem code ambiguous_framing) and closes the connection
// for a request that carried both. A request with Transfer-Encoding alone
// is served, and its connection is closed after the answer: the sniffer
// does not follow the chunked coding, and an HTTP/1.0 request's
// Transfer-Encoding is ignored by net/http, which frames it by
// Content-Length. Each record is paired with its request by the request
// line; a request that has no record, or another's, is refused the same
// way (fail closed): the connection has left the path the sniffer can
// follow.
//
// The listeners serve HTTP/1.1 only. HTTP/2 has no Transfer-Encoding
// (RFC 9113 §8.2.2), but net/http serves it only on a bare *tls.Conn, which
// this package wraps; the TLS handshake is done here instead, with
// net/http's timeout, and ALPN offers http/1.1 alone.
package httpserve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// CodeAmbiguousFraming is the problem code of the refusal. The server's
// list of codes (internal/server/problem.go, docs/errors.md) has it too.
const CodeAmbiguousFraming = "ambiguous_framing"

// Wrap readies srv to serve the connections of ln and returns the
// listener to pass to srv.Serve (never ServeTLS: with srv.TLSConfig set,
// the returned listener does TLS itself, HTTP/1.1 only). Call it once per
// server, after its Handler, TLSConfig, ConnContext and timeouts are set.
// It wraps srv.Handler and srv.ConnContext, restricts srv.Protocols to
// HTTP/1, and answers OPTIONS * itself, as net/http would, after the
// framing check.
func Wrap(srv *http.Server, ln net.Listener) net.Listener {
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = guard{next: next}
	// net/http answers "OPTIONS *" before the handler; the guard must see
	// every request, or its records would pair with the wrong ones.
	srv.DisableGeneralOptionsHandler = true
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	srv.Protocols = protos

	prev := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		if prev != nil {
			ctx = prev(ctx, nc)
		}
		switch c := nc.(type) {
		case *conn:
			ctx = context.WithValue(ctx, connKey{}, c)
		case tlsConn:
			ctx = context.WithValue(ctx, connKey{}, c.conn)
		}
		return ctx
	}

	l := &listener{Listener: ln, handshakeTimeout: handshakeTimeout(srv), logf: func(format string, args ...any) {
		if srv.ErrorLog != nil {
			srv.ErrorLog.Printf(format, args...)
		} else {
			log.Printf(format, args...)
		}
	}}
	if srv.TLSConfig != nil {
		cfg := srv.TLSConfig.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		srv.TLSConfig = cfg
		l.tls = cfg
	}
	return l
}

// handshakeTimeout is the one net/http gives a TLS handshake: the
// shortest of the server's positive timeouts.
func handshakeTimeout(srv *http.Server) time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

type listener struct {
	net.Listener
	tls              *tls.Config // nil: plain TCP
	handshakeTimeout time.Duration
	logf             func(format string, args ...any)
}

// Accept returns the next connection, wrapped. A TLS connection is
// returned before its handshake, which runs in the connection's own
// goroutine, so that a slow client cannot hold up Accept.
func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, l: l}
	c.sniff.reset()
	if l.tls == nil {
		return c, nil
	}
	c.tls = tls.Server(nc, l.tls)
	c.Conn = c.tls
	return tlsConn{c}, nil
}

type connKey struct{}

// conn is an accepted connection whose reads feed the sniffer.
type conn struct {
	net.Conn           // the TCP connection, or tls below
	tls      *tls.Conn // nil without TLS
	l        *listener

	handshake sync.Once
	hsErr     error

	mu    sync.Mutex // net/http reads in one goroutine and handles in another
	sniff sniffer
}

// tlsConn is a TLS connection: it has ConnectionState, from which
// net/http sets Request.TLS as it does for a *tls.Conn (a plain conn must
// not have the method, or every request would look like TLS).
type tlsConn struct{ *conn }

// ConnectionState completes the handshake first: net/http calls it before
// it reads the first request.
func (c tlsConn) ConnectionState() tls.ConnectionState {
	_ = c.doHandshake() // a failure is logged there and returned by Read
	return c.tls.ConnectionState()
}

func (c *conn) Read(p []byte) (int, error) {
	if err := c.doHandshake(); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.sniff.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite lets net/http half-close before it closes a connection with
// unread request bytes, so that the client gets the answer, not a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// doHandshake runs the TLS handshake once, as net/http does for a
// *tls.Conn: bounded in time, logged when it fails, and answering a
// plain HTTP request with a hint. The error it returns is a read error,
// which net/http drops without answering.
func (c *conn) doHandshake() error {
	if c.tls == nil {
		return nil
	}
	c.handshake.Do(func() {
		ctx := context.Background()
		if d := c.l.handshakeTimeout; d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		err := c.tls.HandshakeContext(ctx) // closes the connection when ctx ends first
		if err == nil {
			return
		}
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// The client has gone away if this fails: nothing to do.
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		c.l.logf("http: TLS handshake error from %s: %s", c.RemoteAddr(), reason)
		c.hsErr = &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	})
	return c.hsErr
}

// looksLikeHTTP is net/http's test for a plaintext request on a TLS port.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// next returns the framing record of the request being handled.
func (c *conn) next() (framing, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sniff.pop()
}

// guard checks each request against its connection's record.
type guard struct{ next http.Handler }

func (g guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := r.Context().Value(connKey{}).(*conn)
	if !ok {
		// The server's ConnContext was replaced after Wrap: a bug, and
		// the framing of the request cannot be checked.
		w.Header().Set("Connection", "close")
		problem.Write(w, http.StatusInternalServerError, "internal_error", "")
		return
	}
	f, ok := c.next()
	switch {
	case !ok || !f.matches(r):
		// No record, or another request's: the sniffer stopped (this
		// request follows one that should have closed the connection)
		// or lost step with net/http. Nothing on this connection can be
		// trusted any more.
		refuse(w, "the framing of this request cannot be checked")
		return
	case f.cl && f.te:
		refuse(w, "a request must not have both Content-Length and Transfer-Encoding (RFC 9112 §6.1)")
		return
	case f.te || f.last:
		w.Header().Set("Connection", "close")
	}
	if r.TLS == nil && c.tls != nil {
		// net/http sets it from tlsConn.ConnectionState; should it stop
		// doing so, code that asks r.TLS (HSTS) must still know.
		cs := c.tls.ConnectionState()
		r = r.WithContext(r.Context())
		r.TLS = &cs
	}
	if r.Method == http.MethodOptions && r.RequestURI == "*" {
		// What net/http's general OPTIONS handler does.
		w.Header().Set("Content-Length", "0")
		if r.ContentLength != 0 {
			_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10)) // over 4 KiB ends the connection
		}
		return
	}
	g.next.ServeHTTP(w, r)
}

// refuse answers 400 and closes the connection.
func refuse(w http.ResponseWriter, detail string) {
	w.Header().Set("Connection", "close")
	problem.Write(w, http.StatusBadRequest, CodeAmbiguousFraming, detail)
}

// matches reports whether f is the record of r: whether r's request line
// (net/http keeps its three parts as sent) is the one f was read from.
func (f framing) matches(r *http.Request) bool {
	h := uint64(fnvOffset)
	for _, s := range [...]string{r.Method, " ", r.RequestURI, " ", r.Proto} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * fnvPrime
		}
	}
	return h == f.line && f.lineLen == len(r.Method)+len(r.RequestURI)+len(r.Proto)+2
}
