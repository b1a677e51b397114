package gateway

import (
	"errors"
	"net/http/httptest"
	"testing"
)

// TestClientAddr: X-Forwarded-For is believed only for hops that trusted
// proxies appended; whatever the client wrote to the left is ignored.
func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies, err := parseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		xff        []string
		proxies    bool
		want       string
	}{
		{"no proxies configured: the peer, header ignored", "203.0.113.9:4000", []string{"1.2.3.4"}, false, "203.0.113.9"},
		{"untrusted peer: header ignored", "203.0.113.9:4000", []string{"1.2.3.4"}, true, "203.0.113.9"},
		{"trusted peer: its hop", "10.1.2.3:4000", []string{"198.51.100.5"}, true, "198.51.100.5"},
		{"client-written entries left of the hop ignored", "10.1.2.3:4000", []string{"127.0.0.1, 6.6.6.6, 198.51.100.5"}, true, "198.51.100.5"},
		{"two trusted proxies in a row", "10.1.2.3:4000", []string{"198.51.100.5, 192.0.2.7"}, true, "198.51.100.5"},
		{"several header lines read right to left", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.5, 10.9.9.9"}, true, "198.51.100.5"},
		{"only trusted hops: the left-most of them", "10.1.2.3:4000", []string{"10.4.4.4"}, true, "10.4.4.4"},
		{"no header from a trusted peer: the peer", "10.1.2.3:4000", nil, true, "10.1.2.3"},
		{"malformed hop: the last trusted address", "10.1.2.3:4000", []string{"198.51.100.5, garbage"}, true, "10.1.2.3"},
		{"IPv6 proxy and client", "[2001:db8::1]:4000", []string{"2001:db9::5"}, true, "2001:db9::5"},
		{"IPv4-mapped peer is trusted as IPv4", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.5"}, true, "198.51.100.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			p := proxies
			if !tc.proxies {
				p = nil
			}
			if got := clientAddr(r, p); got != tc.want {
				t.Errorf("clientAddr(peer %s, X-Forwarded-For %q) = %s; want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxiesRefusesGarbage(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8/1"} {
		if _, err := parseTrustedProxies([]string{bad}); !errors.Is(err, ErrConfig) {
			t.Errorf("parseTrustedProxies(%q) = %v; want ErrConfig", bad, err)
		}
	}
}
