package jwks

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestIsClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		sub, clientID string
		want          bool
	}{
		{"client token", "moh", "moh", true},
		{"citizen token", "cit_1", "", false},
		{"client_id is not the subject", "cit_1", "moh", false},
		{"client_id without subject", "", "moh", false},
	} {
		c := &Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: tc.sub}, ClientID: tc.clientID}
		if got := c.IsClient(); got != tc.want {
			t.Errorf("%s: IsClient() = %v; want %v", tc.name, got, tc.want)
		}
	}
}
