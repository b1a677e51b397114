package jwks

import (
	"errors"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that no token string makes Verify panic and that every
// failure wraps one of the package's sentinel errors (callers rely on that to
// answer 401 with a clear reason).
func FuzzVerify(f *testing.F) {
	key := newSigner(f, "k1", jwt.SigningMethodES256)
	srv := newJWKSServer(f, key)
	clk := newClock()
	v := newTestVerifier(f, srv.URL, clk, nil)
	valid := key.sign(f, validClaims(clk.Now()))
	if _, err := v.Verify(f.Context(), valid); err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(key.signWithHeader(f, validClaims(clk.Now()), map[string]any{"kid": "other"}))
	f.Add(key.signWithHeader(f, validClaims(clk.Now()), map[string]any{"crit": []string{"x"}}))
	f.Add("eyJhbGciOiJub25lIiwia2lkIjoiazEifQ.e30.")
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		claims, err := v.Verify(t.Context(), raw)
		if err == nil {
			if claims == nil || claims.Issuer != testIssuer {
				t.Fatalf("accepted %q with claims %+v", raw, claims)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Verify(%q) error %v wraps no sentinel", raw, err)
	})
}
