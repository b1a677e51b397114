package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Behind a load balancer or an Ingress controller every connection comes
// from the proxy, so the peer address alone would make every citizen one
// "source" to the login throttles, the per-IP rate limits and the audit
// log. The gateway therefore believes X-Forwarded-For, but only the hops
// that trusted proxies appended: walking the header from the right, it
// skips addresses inside Config.TrustedProxies and takes the first one
// outside them as the client. Anything to the left of that was written by
// the client itself and is ignored. With no trusted proxies (the default)
// the header is ignored altogether and the peer is the client.

// parseTrustedProxies reads CIDRs (or bare addresses) of trusted proxies.
func parseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w: trusted-proxies: %q is not an IP address or CIDR", ErrConfig, s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted-proxies: %q is not an IP address or CIDR", ErrConfig, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// trusted reports whether a is one of the trusted proxies.
func trusted(proxies []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the client's IP address: the peer, or, when the peer is a
// trusted proxy, the right-most X-Forwarded-For entry that is not one.
// A malformed entry ends the walk at the last trusted hop: an address the
// gateway cannot parse is not one it can throttle.
func clientAddr(r *http.Request, proxies []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(proxies) == 0 || !trusted(proxies, peer) {
		return host
	}
	client := peer
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return client.Unmap().String()
			}
			client = a
			if !trusted(proxies, a) {
				return a.Unmap().String()
			}
		}
	}
	return client.Unmap().String()
}
