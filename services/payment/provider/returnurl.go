package provider

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// maxReturnURL bounds a return URL.
const maxReturnURL = 2048

// ReturnURL is a payer's return URL that passed CheckReturnURL.
type ReturnURL struct {
	// URL is the parsed URL.
	URL *url.URL
	// Origin is scheme://host[:port], rebuilt from the checked parts (a
	// lower-case DNS name or a canonical IP address, IPv6 in brackets) —
	// never copied from the caller's string — so that it is safe to put
	// in a Content-Security-Policy.
	Origin string
}

// ParseReturnURL checks where a payer is sent back to after the checkout
// and returns it with its origin; on failure the string says what is
// wrong, for a field error on return_url.
//
// The URL is absolute, at most 2048 bytes, without spaces, control
// characters, bidi controls or zero-width characters (libs/textcheck),
// and without user information. The scheme is https; plain http only to
// this machine (localhost or a loopback address), for development. The
// host is either an IP address literal (IPv4 in dotted decimal, IPv6 in
// brackets, no zone) or a DNS name: dot-separated labels of ASCII letters,
// digits and inner hyphens, 1–63 bytes each, at most 253 in all, the last
// not all digits. Internationalised names are given in their punycode
// (xn--) form; the port, if any, is 1–65535. Anything else — a ';', a
// quote, a '*' or a percent-escape in the host — is refused, because the
// checkout page builds its CSP from the origin.
func ParseReturnURL(raw string) (ReturnURL, string) {
	const notHTTPS = "must be an absolute https URL without credentials"
	switch {
	case raw == "":
		return ReturnURL{}, "required"
	case len(raw) > maxReturnURL:
		return ReturnURL{}, "must be at most 2048 bytes"
	case strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
		return ReturnURL{}, "must not contain spaces or control characters (percent-encode them)"
	}
	if f, bad := textcheck.Find(raw, textcheck.Address); bad {
		return ReturnURL{}, f.Reason()
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ReturnURL{}, "is not a valid URL"
	}
	if !u.IsAbs() || u.Opaque != "" || u.Host == "" || u.User != nil {
		return ReturnURL{}, notHTTPS
	}
	host, ok := canonicalHost(u)
	if !ok {
		return ReturnURL{}, "host must be a DNS name (letters, digits and hyphens; punycode xn-- for other scripts) or an IP address, with an optional port 1-65535"
	}
	switch u.Scheme {
	case "https":
	case "http":
		// Plain http only to this machine, for development.
		h := u.Hostname()
		ip, err := netip.ParseAddr(h)
		if !strings.EqualFold(h, "localhost") && (err != nil || !ip.IsLoopback()) {
			return ReturnURL{}, notHTTPS
		}
	default:
		return ReturnURL{}, notHTTPS
	}
	origin := u.Scheme + "://" + host
	if p := u.Port(); p != "" {
		origin += ":" + p
	}
	return ReturnURL{URL: u, Origin: origin}, ""
}

// ReturnOrigin is ParseReturnURL's origin, or "" for a URL it refuses.
func ReturnOrigin(raw string) string {
	r, reason := ParseReturnURL(raw)
	if reason != "" {
		return ""
	}
	return r.Origin
}

// canonicalHost returns u's host as an origin writes it, checking the
// port as well.
func canonicalHost(u *url.URL) (string, bool) {
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return "", false
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", false // an empty port
	}
	h := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.Is6() || ip.Zone() != "" || ip.Is4In6() {
			return "", false
		}
		return "[" + ip.String() + "]", true
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if !ip.Is4() {
			return "", false // IPv6 without brackets cannot reach here; be sure
		}
		return ip.String(), true
	}
	if !ValidDNSName(h) {
		return "", false
	}
	return strings.ToLower(h), true
}

// ValidDNSName reports whether s is a DNS host name in LDH form: labels of
// ASCII letters, digits and hyphens (not first or last), 1–63 bytes each,
// at most 253 bytes in all, the last label not all digits (so that a
// mistyped IPv4 address is not taken for a name). Punycode labels
// (xn--…) are LDH and pass.
func ValidDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
