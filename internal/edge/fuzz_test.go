package edge

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// The fuzz targets of the edge (docs/security/fuzzing.md).

var fuzzProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.1.1/32"),
	netip.MustParsePrefix("fd00::/8"),
}

// FuzzResolveIP: the client address behind trusted proxies.
//   - It is "" only when the peer address does not parse, and otherwise a
//     canonical address (no IPv4-mapped IPv6 form).
//   - From an untrusted peer it is the peer, whatever X-Forwarded-For says.
//   - From a trusted peer it is the peer or an address in the header that
//     is not a trusted proxy.
//   - An address from the header does not change when the client adds
//     hops on the left (all it controls): a spoofed hop never wins.
func FuzzResolveIP(f *testing.F) {
	f.Add("10.1.2.3:443", "203.0.113.7, 10.0.0.2", "", "198.51.100.1")
	f.Add("203.0.113.9:5555", "1.2.3.4", "", "")
	f.Add("10.1.2.3:443", "1.1.1.1, 192.168.1.1", "10.9.9.9", "evil")
	f.Add("[fd00::1]:80", "::ffff:203.0.113.5", "", "")
	f.Add("10.0.0.1:1", "garbage, 203.0.113.1", " 10.0.0.5 ,", "")
	f.Add("[::ffff:10.0.0.1]:80", "fe80::1%eth0", "", "")
	f.Add("not an address", "1.2.3.4", "", "")
	f.Add("192.168.1.1", "", "", "")
	s := &Edge{cfg: Config{TrustedProxies: fuzzProxies}}
	trusted := func(a netip.Addr) bool {
		for _, p := range fuzzProxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, remote, xff1, xff2, spoof string) {
		req := func(xff ...string) *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = remote
			for _, v := range xff {
				if v != "" {
					r.Header.Add("X-Forwarded-For", v)
				}
			}
			return r
		}
		got := s.resolveIP(req(xff1, xff2))
		peer, peerOK := peerAddr(req())
		if !peerOK {
			if got != "" {
				t.Fatalf("peer %q does not parse, resolved %q", remote, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a != a.Unmap() || a.String() != got {
			t.Fatalf("resolved %q, not a canonical address", got)
		}
		if got == peer.String() {
			return
		}
		if !trusted(peer) {
			t.Fatalf("untrusted peer %q, resolved %q from the header", remote, got)
		}
		if trusted(a) {
			t.Fatalf("resolved %q, a trusted proxy", got)
		}
		inHeader := false
		for _, h := range strings.Split(xff1+","+xff2, ",") {
			if b, err := netip.ParseAddr(strings.TrimSpace(h)); err == nil && b.Unmap() == a {
				inHeader = true
			}
		}
		if !inHeader {
			t.Fatalf("resolved %q, which is neither the peer nor in the header", got)
		}
		if again := s.resolveIP(req(spoof, xff1, xff2)); again != got {
			t.Fatalf("a hop %q added on the left changed the client from %q to %q", spoof, got, again)
		}
	})
}
