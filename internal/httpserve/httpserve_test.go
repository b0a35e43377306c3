package httpserve

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/httpserve/httpservetest"
	"github.com/gatehouse-auth/gatehouse/internal/problem"
)

// startServer runs an http.Server prepared by Wrap on 127.0.0.1, with TLS
// when cfg is not nil. Its handler reads the whole body and answers 200
// "PATH BODYLEN tls=BOOL".
func startServer(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%s %d tls=%t", r.URL.Path, len(body), r.TLS != nil)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		TLSConfig:         cfg,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := Wrap(srv, ln)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(wl) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// answer is one response read off the connection.
type answer struct {
	status int
	body   string
	header http.Header
	close  bool // it said Connection: close
}

// exchange writes raw on c, reads want responses, then reports whether
// the server closed the connection. Reading more responses than want
// fails the test: the server answered a request the test did not expect
// it to see (a desync).
func exchange(t *testing.T, c net.Conn, raw string, want int) (got []answer, closed bool) {
	t.Helper()
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	read := func() (answer, error) {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return answer{}, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return answer{res.StatusCode, string(b), res.Header, res.Close}, err
	}
	for len(got) < want {
		a, err := read()
		if err != nil {
			if isClosed(err) {
				return got, true
			}
			t.Fatalf("after %d answers: %v", len(got), err)
		}
		got = append(got, a)
	}
	// Wait a little for one more: none must come.
	if err := c.SetReadDeadline(time.Now().Add(700 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	a, err := read()
	switch {
	case err == nil:
		t.Fatalf("an answer more than expected: %d %q", a.status, a.body)
	case isClosed(err):
		return got, true
	case errors.Is(err, os.ErrDeadlineExceeded):
		return got, false
	default:
		t.Fatalf("after %d answers: %v", len(got), err)
	}
	return got, false
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// The framing table: raw bytes on one connection, the answers expected in
// order ("STATUS BODY" for the test handler's 200s, "STATUS CODE" for a
// problem, "STATUS" for net/http's own plain-text refusals), and whether
// the server then closes the connection.
var framingCases = []struct {
	name    string
	raw     string
	answers []string
	closed  bool
}{
	{
		name: "Content-Length then Transfer-Encoding",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "Transfer-Encoding then Content-Length",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "both, in lower case, after a good request",
		raw: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
			"POST /b HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 0", "400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "both, with bare LF line ends",
		raw: "POST /a HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\nHost: x\n\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "both, Content-Length twice",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		// net/http ignores Transfer-Encoding on HTTP/1.0 and frames by
		// Content-Length: a proxy that does the opposite disagrees.
		name: "both on HTTP/1.0 keep-alive",
		raw: "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "OPTIONS * with both",
		raw: "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"400 ambiguous_framing"},
		closed:  true,
	},
	{
		name: "Transfer-Encoding alone is served, then the connection closes",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5"},
		closed:  true,
	},
	{
		// Served without a body (net/http ignores the coding on 1.0); the
		// chunks must not be read as the next request.
		name: "Transfer-Encoding alone on HTTP/1.0 keep-alive",
		raw: "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"GET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		answers: []string{"200 /a 0"},
		closed:  true,
	},
	{
		name: "Content-Length alone keeps the connection",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5", "200 /b 0"},
	},
	{
		name: "a body that looks like a header block with both is not read as one",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 66\r\n\r\n" +
			"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 66", "200 /b 0"},
	},
	{
		// textproto joins an obs-fold line to the field before it: here
		// X-Note's value becomes "a Transfer-Encoding: chunked".
		name: "a folded Transfer-Encoding line is not a field",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Note: a\r\n Transfer-Encoding: chunked\r\n\r\nhello" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5", "200 /b 0"},
	},
	{
		name: "a folded Content-Length value",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 5\r\n\r\nhello" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5", "200 /b 0"},
	},
	{
		name: "Content-Length with spaces and tabs around it",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: \t 5 \t\r\n\r\nhello" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5", "200 /b 0"},
	},
	{
		// net/http skips up to 4 CR or LF bytes after a POST.
		name: "line ends after a POST body",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\r\n\r\n" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 5", "200 /b 0"},
	},
	{
		// ... and only after a POST: here the empty line is a malformed
		// request, refused by net/http itself.
		name: "a line end after a GET",
		raw: "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\n" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 /a 0", "400"},
		closed:  true,
	},
	{
		name: "a Transfer-Encoding net/http refuses itself",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"501"},
		closed:  true,
	},
	{
		name: "a space before the colon",
		raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"400"},
		closed:  true,
	},
	{
		name: "OPTIONS * is answered as net/http would",
		raw: "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
			"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
		answers: []string{"200 ", "200 /b 0"},
	},
	{
		name:    "pipelined requests are answered in order",
		raw:     strings.Repeat("GET /p HTTP/1.1\r\nHost: x\r\n\r\nPOST /q HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n", 20),
		answers: slices.Repeat([]string{"200 /p 0", "200 /q 2"}, 20),
	},
}

// describe renders an answer as the table writes it.
func describe(t *testing.T, a answer) string {
	t.Helper()
	switch {
	case a.header.Get("Content-Type") == "application/problem+json":
		var d problem.Details
		if err := json.Unmarshal([]byte(a.body), &d); err != nil {
			t.Fatalf("problem body %q: %v", a.body, err)
		}
		if d.Status != a.status || d.Type != problem.TypePrefix+d.Code || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("problem %+v with headers %v", d, a.header)
		}
		if !a.close {
			t.Errorf("a %s refusal without Connection: close", d.Code)
		}
		return fmt.Sprintf("%d %s", a.status, d.Code)
	case a.status == http.StatusOK:
		body, _, _ := strings.Cut(a.body, " tls=")
		return fmt.Sprintf("%d %s", a.status, body)
	default:
		return fmt.Sprint(a.status)
	}
}

func TestFraming(t *testing.T) {
	addr := startServer(t, nil)
	for _, tc := range framingCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			got, closed := exchange(t, c, tc.raw, len(tc.answers))
			var desc []string
			for _, a := range got {
				desc = append(desc, describe(t, a))
			}
			if !slices.Equal(desc, tc.answers) {
				t.Errorf("answers %q, want %q", desc, tc.answers)
			}
			if closed != tc.closed {
				t.Errorf("connection closed: %t, want %t", closed, tc.closed)
			}
		})
	}
}

// TestFramingTLS runs the framing checks over TLS, and checks that
// handlers still see the request as TLS and that ALPN offers HTTP/1.1
// only.
func TestFramingTLS(t *testing.T) {
	cert, pool := httpservetest.SelfSigned(t)
	addr := startServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	dial := func(t *testing.T) *tls.Conn {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Errorf("ALPN chose %q, want http/1.1", p)
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		raw     string
		answers []string
		closed  bool
	}{
		{
			name: "Content-Length then Transfer-Encoding",
			raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
				"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
			answers: []string{"400 ambiguous_framing"},
			closed:  true,
		},
		{
			name: "Transfer-Encoding then Content-Length",
			raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n" +
				"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
			answers: []string{"400 ambiguous_framing"},
			closed:  true,
		},
		{
			name: "Transfer-Encoding alone",
			raw: "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" +
				"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
			answers: []string{"200 /a 5 tls=true"},
			closed:  true,
		},
		{
			name: "Content-Length alone keeps the connection",
			raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
				"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
			answers: []string{"200 /a 5 tls=true", "200 /b 0 tls=true"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, closed := exchange(t, dial(t), tc.raw, len(tc.answers))
			var desc []string
			for _, a := range got {
				d := describe(t, a)
				if a.status == http.StatusOK {
					d = fmt.Sprintf("%d %s", a.status, a.body)
				}
				desc = append(desc, d)
			}
			if !slices.Equal(desc, tc.answers) {
				t.Errorf("answers %q, want %q", desc, tc.answers)
			}
			if closed != tc.closed {
				t.Errorf("connection closed: %t, want %t", closed, tc.closed)
			}
		})
	}

	t.Run("plain HTTP on the TLS port", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c)
		if err != nil && !isClosed(err) {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "HTTP/1.0 400 Bad Request") || !strings.Contains(string(b), "HTTPS server") {
			t.Errorf("answer %q", b)
		}
	})
}

// TestSnifferSplitReads: the records do not depend on how the bytes are
// cut into reads.
func TestSnifferSplitReads(t *testing.T) {
	for _, tc := range framingCases {
		t.Run(tc.name, func(t *testing.T) {
			var whole sniffer
			whole.reset()
			whole.feed([]byte(tc.raw))
			for _, size := range []int{1, 2, 3, 7, 64} {
				var s sniffer
				s.reset()
				for p := []byte(tc.raw); len(p) > 0; {
					n := min(size, len(p))
					s.feed(p[:n])
					p = p[n:]
				}
				if !slices.Equal(s.queue, whole.queue) || s.stopped != whole.stopped || s.body != whole.body {
					t.Errorf("reads of %d bytes: %+v, one read: %+v", size, s.queue, whole.queue)
				}
			}
		})
	}
}

// TestSnifferRecords checks the records themselves for a few blocks.
func TestSnifferRecords(t *testing.T) {
	line := func(s string) (uint64, int) {
		h := uint64(fnvOffset)
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * fnvPrime
		}
		return h, len(s)
	}
	rec := func(reqLine string, cl, te, last bool) framing {
		h, n := line(reqLine)
		return framing{line: h, lineLen: n, cl: cl, te: te, last: last}
	}
	for _, tc := range []struct {
		name    string
		raw     string
		want    []framing
		stopped bool
	}{
		{"no framing field", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n", []framing{rec("GET /a HTTP/1.1", false, false, false)}, false},
		{"CL skips the body", "POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", true, false, false), rec("GET /b HTTP/1.1", false, false, false)}, false},
		{"TE stops", "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", false, true, true)}, true},
		{"both", "POST /a HTTP/1.1\r\nContent-Length: 1\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", true, true, true)}, true},
		{"a longer name is another field", "GET /a HTTP/1.1\r\nTransfer-Encoding-X: chunked\r\nContent-Length-X: 1\r\n\r\n",
			[]framing{rec("GET /a HTTP/1.1", false, false, false)}, false},
		{"a request line that looks like a field", "Transfer-Encoding: chunked\r\n\r\n",
			[]framing{rec("Transfer-Encoding: chunked", false, false, false)}, false},
		{"a bare CR is part of the line", "GET /a\rB HTTP/1.1\r\r\nX: y\r\n\r\n",
			[]framing{rec("GET /a\rB HTTP/1.1\r", false, false, false)}, false},
		{"a CL net/http refuses stops", "POST /a HTTP/1.1\r\nContent-Length: 1 2\r\n\r\nxyz",
			[]framing{rec("POST /a HTTP/1.1", true, false, true)}, true},
		{"an empty CL stops", "POST /a HTTP/1.1\r\nContent-Length:\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", true, false, true)}, true},
		{"a CL over 63 bits stops", "POST /a HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", true, false, true)}, true},
		{"a CL at 63 bits does not", "POST /a HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n",
			[]framing{rec("POST /a HTTP/1.1", true, false, false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sniffer
			s.reset()
			s.feed([]byte(tc.raw))
			if !slices.Equal(s.queue, tc.want) || s.stopped != tc.stopped {
				t.Errorf("records %+v stopped %t, want %+v stopped %t", s.queue, s.stopped, tc.want, tc.stopped)
			}
		})
	}

	t.Run("the queue is bounded", func(t *testing.T) {
		var s sniffer
		s.reset()
		s.feed([]byte(strings.Repeat("\n\n", 2*maxQueued)))
		if len(s.queue) != maxQueued || !s.stopped || !s.queue[maxQueued-1].last {
			t.Errorf("%d records, stopped %t", len(s.queue), s.stopped)
		}
	})
}

// TestGuardFailsClosed: a request whose record is missing or belongs to
// another request is refused, and one on a connection Wrap did not make
// is not served.
func TestGuardFailsClosed(t *testing.T) {
	served := false
	g := guard{next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true })}
	withConn := func(raw string) *http.Request {
		c := &conn{}
		c.sniff.reset()
		c.sniff.feed([]byte(raw))
		r := httptest.NewRequest("GET", "/a", nil)
		return r.WithContext(context.WithValue(r.Context(), connKey{}, c))
	}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"its own record", withConn("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), 200, ""},
		{"no record", withConn(""), 400, CodeAmbiguousFraming},
		{"another request's record", withConn("GET /b HTTP/1.1\r\nHost: x\r\n\r\n"), 400, CodeAmbiguousFraming},
		{"not from a wrapped listener", httptest.NewRequest("GET", "/a", nil), 500, "internal_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served = false
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, tc.req)
			if served != (tc.status == 200) {
				t.Errorf("served: %t", served)
			}
			if tc.status == 200 {
				return
			}
			var d problem.Details
			if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || d.Code != tc.code || rec.Header().Get("Connection") != "close" {
				t.Errorf("%d %+v %v", rec.Code, d, rec.Header())
			}
		})
	}
}
