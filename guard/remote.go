package guard

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// checkRemoteURL refuses a plain-HTTP URL for the JWKS or the revocation
// feed unless it points at this machine: over the network, whoever sits on
// the path could serve forged keys (and so forge any token) or read the
// feed secret (RFC 9700 §2.6, RFC 8725 §3.10). insecure is the loudly named
// opt-out for a network the operator trusts anyway (a sidecar on a private
// link, say).
func checkRemoteURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("guard: %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https", insecure:
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("guard: URL scheme %q is not https", u.Scheme)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("guard: %s must use https (plain http is allowed only for loopback addresses, or with AllowInsecureHTTP)", raw)
}
