package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/httpserve/httpservetest"
)

// Request smuggling against the running server (RFC 9112 §6.1, §11.2):
// a request with both Content-Length and Transfer-Encoding is refused and
// its connection closed, whichever comes first, so the request behind it
// is never read. The cases in detail are internal/httpserve's; these
// check that `gatehouse serve` uses it, in plain HTTP and over TLS.

const (
	clThenTE = "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	teThenCL = "POST /auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	twoHealthChecks = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
)

func TestServeRefusesAmbiguousFraming(t *testing.T) {
	base, _, stop := startServer(t, t.TempDir())
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	addr := loopbackAddr(t, base)
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("Content-Length then Transfer-Encoding", func(t *testing.T) { assertRefusedAndClosed(t, dial(), clThenTE) })
	t.Run("Transfer-Encoding then Content-Length", func(t *testing.T) { assertRefusedAndClosed(t, dial(), teThenCL) })
	t.Run("keep-alive still works", func(t *testing.T) { assertTwoAnswers(t, dial(), twoHealthChecks) })
}

// TestServeTLS runs serve with its own TLS listener: the framing check
// holds there too, the server still knows the connection is TLS (HSTS),
// and it speaks HTTP/1.1 even to a client that would rather have h2.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, pool := httpservetest.SelfSigned(t)
	certFile, keyFile := httpservetest.WritePEM(t, dir, cert)
	base, _, stop := startServer(t, filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	if u, err := url.Parse(base); err != nil || u.Scheme != "https" {
		t.Fatalf("public URL %q", base)
	}
	addr := loopbackAddr(t, base)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	res, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ProtoMajor != 1 {
		t.Errorf("GET /healthz: %d over %s", res.StatusCode, res.Proto)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no Strict-Transport-Security over TLS: the server did not see the connection as TLS")
	}

	dial := func() net.Conn {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("Content-Length then Transfer-Encoding", func(t *testing.T) { assertRefusedAndClosed(t, dial(), clThenTE) })
	t.Run("Transfer-Encoding then Content-Length", func(t *testing.T) { assertRefusedAndClosed(t, dial(), teThenCL) })
	t.Run("keep-alive still works", func(t *testing.T) { assertTwoAnswers(t, dial(), twoHealthChecks) })
}

// loopbackAddr is 127.0.0.1 and the port of the server's public URL.
func loopbackAddr(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", u.Port())
}

// assertRefusedAndClosed sends raw, expects one 400 ambiguous_framing
// answer and then the end of the connection: the pipelined request behind
// the refused one gets no answer.
func assertRefusedAndClosed(t *testing.T, c net.Conn, raw string) {
	t.Helper()
	defer c.Close()
	br := send(t, c, raw)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Code string }
	err = json.NewDecoder(res.Body).Decode(&p)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusBadRequest || p.Code != "ambiguous_framing" || !res.Close {
		t.Fatalf("answer %d %+v (close %t, %v)", res.StatusCode, p, res.Close, err)
	}
	if res, err := http.ReadResponse(br, nil); err == nil {
		res.Body.Close()
		t.Fatalf("the request behind the refused one was answered: %d", res.StatusCode)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the refusal: %v, want the connection closed", err)
	}
}

// assertTwoAnswers sends two pipelined requests and expects both answered.
func assertTwoAnswers(t *testing.T, c net.Conn, raw string) {
	t.Helper()
	defer c.Close()
	br := send(t, c, raw)
	for i := range 2 {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("answer %d: %d", i+1, res.StatusCode)
		}
	}
}

func send(t *testing.T, c net.Conn, raw string) *bufio.Reader {
	t.Helper()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return bufio.NewReader(c)
}
