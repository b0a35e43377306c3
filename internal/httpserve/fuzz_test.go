package httpserve

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// FuzzSniffer: the sniffer against net/http's own parser. The bytes are
// read as net/http's server reads a connection (http.ReadRequest, the body
// read to its end, up to four CR or LF discarded after a POST) up to the
// first request after which it serves no other on the connection; every
// request read on the way must have the sniffer's record, in order, for
// its request line, with a Transfer-Encoding where net/http chunks it and
// a Content-Length where net/http kept one. However the bytes are cut
// into reads (split).
func FuzzSniffer(f *testing.F) {
	for _, tc := range framingCases {
		f.Add([]byte(tc.raw), uint8(0))
		f.Add([]byte(tc.raw), uint8(6))
	}
	f.Fuzz(func(t *testing.T, raw []byte, split uint8) {
		var s sniffer
		s.reset()
		for p, n := raw, int(split)+1; len(p) > 0; p = p[min(n, len(p)):] {
			s.feed(p[:min(n, len(p))])
		}
		br := bufio.NewReader(bytes.NewReader(raw))
		lastPOST := false
		for i := 0; ; i++ {
			if lastPOST {
				peek, _ := br.Peek(4)
				n := 0
				for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
					n++
				}
				_, _ = br.Discard(n) // net/http's tolerance of old clients
			}
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			rec, ok := s.pop()
			if !ok {
				t.Fatalf("request %d (%s %s %s) has no record", i, req.Method, req.RequestURI, req.Proto)
			}
			if !rec.matches(req) {
				t.Fatalf("request %d (%s %s %s) got another request's record", i, req.Method, req.RequestURI, req.Proto)
			}
			chunked := len(req.TransferEncoding) > 0
			if chunked && !rec.te {
				t.Fatalf("request %d is chunked and its record has no Transfer-Encoding", i)
			}
			if !chunked && rec.cl != (len(req.Header["Content-Length"]) > 0) {
				t.Fatalf("request %d: Content-Length %q, record cl=%v", i, req.Header["Content-Length"], rec.cl)
			}
			if rec.te || rec.last {
				return // the connection closes after this request
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			if req.Close || req.ProtoAtLeast(1, 1) && req.Host == "" {
				return // net/http serves nothing more on this connection
			}
			lastPOST = req.Method == http.MethodPost
		}
	})
}
