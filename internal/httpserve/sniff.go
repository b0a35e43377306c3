package httpserve

import "math"

// The sniffer reads the bytes net/http reads from a connection, in the
// same order, and notes for each request which framing fields its header
// block carried. net/http removes Content-Length from a request that also
// has Transfer-Encoding: chunked, and drops Transfer-Encoding from an
// HTTP/1.0 request, so a handler cannot see that both were sent.
//
// It follows net/http's reading exactly where that decides framing, and
// stops (the connection then serves no further request) where it would
// have to guess:
//
//   - a header block is the request line and the lines after it up to the
//     first empty one; a line ends with "\n" or "\r\n" (bufio.ReadLine);
//   - a line that starts with SP or HT continues the previous field's value
//     (obs-fold; net/textproto joins it with a space), it is not a field;
//   - field names compare ASCII-case-insensitively, exactly the bytes
//     before the first ':';
//   - after a block without Transfer-Encoding, the body is the first
//     Content-Length's value (net/http refuses differing duplicates and
//     non-digits itself) and the next block starts right after it;
//   - after a POST, net/http discards up to 4 CR or LF bytes before the
//     next request line (RFC 9112 §2.2 tolerance): so does the sniffer;
//   - after a block with Transfer-Encoding, or with a Content-Length it
//     cannot read, it stops.
//
// Its state is a few words per connection plus the records of requests
// read ahead of the handler (pipelining), at most maxQueued of them: it
// buffers no header or body bytes.

// framing is what one header block said about its message's framing.
type framing struct {
	line    uint64 // FNV-1a hash of the request line, to match it to its request
	lineLen int
	cl, te  bool // it had a Content-Length, a Transfer-Encoding field
	last    bool // the sniffer stopped after this block
}

// maxQueued bounds the records of requests read but not yet handled. Go
// reads ahead at most its 4 KiB read buffer, so real pipelining never
// comes near it; past it the connection serves no further request.
const maxQueued = 256

// maxContentLength is the largest value net/http accepts (ParseUint with
// 63 bits).
const maxContentLength = 1<<63 - 1

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// What the current header line is.
const (
	fieldOther = iota // not a framing field, or no field at all
	fieldCL           // the first Content-Length of the block
)

// The first Content-Length's value, as read so far.
const (
	clLead   = iota // no digit yet
	clDigits        // in the digits
	clTrail         // after the digits: only SP and HT may follow
	clBad           // not a number net/http accepts
)

type sniffer struct {
	queue   []framing
	stopped bool

	body     uint64 // body bytes still to skip
	skipCRLF int    // leading CR or LF bytes still to discard

	// The header block being read.
	cur       framing
	inHeaders bool    // past the request line
	lineLen   int     // bytes in the current line, without a pending CR
	cr        bool    // a CR was read; it ends the line if LF follows
	method    [5]byte // the first bytes of the request line
	inName    bool    // reading a field name (before its ':')
	name      [len("transfer-encoding")]byte
	nameLen   int // bytes of the name so far, up to len(name)+1
	field     int
	clState   int
	clValue   uint64
}

// feed takes the bytes just read from the connection.
func (s *sniffer) feed(p []byte) {
	for len(p) > 0 && !s.stopped {
		if s.body > 0 {
			n := uint64(len(p))
			if n > s.body {
				n = s.body
			}
			s.body -= n
			p = p[n:]
			continue
		}
		b := p[0]
		p = p[1:]
		if s.skipCRLF > 0 {
			if b == '\r' || b == '\n' {
				s.skipCRLF--
				continue
			}
			s.skipCRLF = 0
		}
		if s.cr {
			s.cr = false
			if b == '\n' {
				s.endLine()
				continue
			}
			s.content('\r') // a bare CR is part of the line
		}
		switch b {
		case '\r':
			s.cr = true
		case '\n':
			s.endLine()
		default:
			s.content(b)
		}
	}
}

// pop returns the record of the oldest request not yet handled; false if
// there is none.
func (s *sniffer) pop() (framing, bool) {
	if len(s.queue) == 0 {
		return framing{}, false
	}
	f := s.queue[0]
	s.queue = s.queue[1:]
	return f, true
}

// content takes one byte of a line (not its line end).
func (s *sniffer) content(b byte) {
	first := s.lineLen == 0
	if s.lineLen < math.MaxInt {
		s.lineLen++
	}
	if !s.inHeaders {
		s.cur.line = (s.cur.line ^ uint64(b)) * fnvPrime
		if s.lineLen <= len(s.method) {
			s.method[s.lineLen-1] = b
		}
		return
	}
	if first {
		if b == ' ' || b == '\t' {
			// A continuation line: more of the previous field's value.
			s.inName = false
			s.value(b)
			return
		}
		s.inName, s.nameLen, s.field = true, 0, fieldOther
	}
	if !s.inName {
		s.value(b)
		return
	}
	if b == ':' {
		s.inName = false
		s.named()
		return
	}
	if s.nameLen < len(s.name) {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		s.name[s.nameLen] = b
	}
	if s.nameLen <= len(s.name) {
		s.nameLen++
	}
}

// named is called at the ':' that ends a field name.
func (s *sniffer) named() {
	if s.nameLen > len(s.name) {
		return
	}
	switch string(s.name[:s.nameLen]) {
	case "content-length":
		if !s.cur.cl {
			s.cur.cl = true
			s.field, s.clState, s.clValue = fieldCL, clLead, 0
		}
	case "transfer-encoding":
		s.cur.te = true
	}
}

// value takes one byte of a field value.
func (s *sniffer) value(b byte) {
	if s.field != fieldCL {
		return
	}
	switch {
	case b == ' ' || b == '\t':
		if s.clState == clDigits {
			s.clState = clTrail
		}
	case '0' <= b && b <= '9' && (s.clState == clLead || s.clState == clDigits):
		d := uint64(b - '0')
		if s.clValue > (maxContentLength-d)/10 {
			s.clState = clBad
			return
		}
		s.clValue = s.clValue*10 + d
		s.clState = clDigits
	default:
		s.clState = clBad
	}
}

// endLine is called at a line end.
func (s *sniffer) endLine() {
	n := s.lineLen
	s.lineLen = 0
	if !s.inHeaders {
		s.inHeaders = true
		s.cur.lineLen = n
		return
	}
	if s.field == fieldCL && s.clState == clDigits {
		// A continuation line would be joined with a space.
		s.clState = clTrail
	}
	if n == 0 {
		s.endBlock()
	}
}

// endBlock is called at the empty line that ends a header block.
func (s *sniffer) endBlock() {
	f := s.cur
	badCL := f.cl && s.clState != clDigits && s.clState != clTrail
	f.last = f.te || badCL || len(s.queue)+1 >= maxQueued
	s.queue = append(s.queue, f)
	if f.last {
		s.stopped = true
		return
	}
	var body uint64
	if f.cl {
		body = s.clValue
	}
	post := f.lineLen >= len(s.method) && string(s.method[:]) == "POST "
	s.reset()
	s.body = body
	if post {
		s.skipCRLF = 4
	}
}

// reset readies s for the next header block, keeping its queue.
func (s *sniffer) reset() {
	*s = sniffer{queue: s.queue, cur: framing{line: fnvOffset}}
}
