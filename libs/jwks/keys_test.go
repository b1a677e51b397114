package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseJWK(t *testing.T) {
	p256 := newSigner(t, "p256", jwt.SigningMethodES256).jwk
	p384 := newSigner(t, "p384", jwt.SigningMethodES384).jwk
	rsaKey := newSigner(t, "rsa", jwt.SigningMethodRS256).jwk
	ed := newSigner(t, "ed", jwt.SigningMethodEdDSA).jwk
	small := testRSAKey(t)
	smallN := new(big.Int).Rsh(small.N, 1100) // under 1024 bits

	with := func(base map[string]any, kv ...any) map[string]any {
		m := maps.Clone(base)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	x := p256["x"].(string)
	tests := []struct {
		name    string
		jwk     any
		want    string // "ec", "rsa", "ed" for success
		skipped bool   // errNotForSigning
		alg     string // an alg the key must verify
	}{
		{name: "EC P-256", jwk: p256, want: "ec", alg: "ES256"},
		{name: "EC P-384", jwk: p384, want: "ec", alg: "ES384"},
		{name: "RSA", jwk: rsaKey, want: "rsa", alg: "PS512"},
		{name: "Ed25519", jwk: ed, want: "ed", alg: "EdDSA"},
		{name: "no use", jwk: with(p256, "use", nil), want: "ec", alg: "ES256"},
		{name: "padded base64", jwk: with(ed, "x", ed["x"].(string)+"="), want: "ed", alg: "EdDSA"},
		{name: "key_ops verify", jwk: with(p256, "key_ops", []string{"verify"}), want: "ec", alg: "ES256"},
		{name: "use enc", jwk: with(p256, "use", "enc"), skipped: true},
		{name: "key_ops encrypt only", jwk: with(p256, "key_ops", []string{"encrypt"}), skipped: true},
		{name: "oct", jwk: map[string]any{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}, skipped: true},
		{name: "unknown kty", jwk: with(p256, "kty", "XYZ"), skipped: true},
		{name: "no kid", jwk: with(p256, "kid", nil)},
		{name: "private part published", jwk: with(ed, "d", "AAAA")},
		{name: "alg HS256 on an EC key", jwk: with(p256, "alg", "HS256")},
		{name: "alg none", jwk: with(p256, "alg", "none")},
		{name: "alg of another family", jwk: with(p256, "alg", "RS256")},
		{name: "alg of another curve", jwk: with(p256, "alg", "ES384")},
		{name: "P-521 not accepted", jwk: with(p256, "crv", "P-521")},
		{name: "curve mismatch", jwk: with(p256, "crv", "P-384")},
		{name: "short x", jwk: with(p256, "x", x[:len(x)-2])},
		{name: "x not base64", jwk: with(p256, "x", "!!"+x[2:])},
		{name: "point off the curve", jwk: with(p256, "y", x)},
		{name: "RSA under 2048 bits", jwk: with(rsaKey, "n", b64u(smallN.Bytes()))},
		{name: "RSA exponent 1", jwk: with(rsaKey, "e", b64u([]byte{1}))},
		{name: "RSA even exponent", jwk: with(rsaKey, "e", b64u([]byte{1, 0, 0}))},
		{name: "RSA exponent too long", jwk: with(rsaKey, "e", b64u([]byte{1, 0, 0, 0, 1}))},
		{name: "RSA no modulus", jwk: with(rsaKey, "n", nil)},
		{name: "Ed448", jwk: with(ed, "crv", "Ed448")},
		{name: "Ed25519 short", jwk: with(ed, "x", b64u(make([]byte, 31)))},
		{name: "not an object", jwk: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.jwk)
			if err != nil {
				t.Fatal(err)
			}
			kid, key, err := parseJWK(data)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("parseJWK succeeded (kid %q); want an error", kid)
				}
				if got := errors.Is(err, errNotForSigning); got != tt.skipped {
					t.Errorf("error %v: skipped = %v; want %v", err, got, tt.skipped)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWK: %v", err)
			}
			var got string
			switch key.pub.(type) {
			case *ecdsa.PublicKey:
				got = "ec"
			case *rsa.PublicKey:
				got = "rsa"
			case ed25519.PublicKey:
				got = "ed"
			}
			if got != tt.want || kid == "" || !key.canVerify(tt.alg) {
				t.Errorf("got %s key kid %q (verifies %s: %v); want %s", got, kid, tt.alg, key.canVerify(tt.alg), tt.want)
			}
			for _, bad := range []string{"HS256", "none", ""} {
				if key.canVerify(bad) {
					t.Errorf("key verifies alg %q", bad)
				}
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	a := newSigner(t, "a", jwt.SigningMethodES256).jwk
	b := newSigner(t, "b", jwt.SigningMethodEdDSA).jwk
	dupA := newSigner(t, "a", jwt.SigningMethodES256).jwk
	enc := maps.Clone(b)
	enc["kid"], enc["use"] = "enc", "enc"
	tests := []struct {
		name     string
		doc      any
		wantKids []string // nil: an error
	}{
		{"two keys", map[string]any{"keys": []any{a, b}}, []string{"a", "b"}},
		{"bad keys skipped", map[string]any{"keys": []any{a, enc, map[string]any{"kty": "EC"}, "junk"}}, []string{"a"}},
		{"duplicate kid trusted for neither", map[string]any{"keys": []any{a, dupA, b}}, []string{"b"}},
		{"nothing usable", map[string]any{"keys": []any{enc}}, nil},
		{"empty", map[string]any{"keys": []any{}}, nil},
		{"no keys member", map[string]any{}, nil},
		{"not an object", []any{a}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := parseSet(data)
			if tt.wantKids == nil {
				if err == nil {
					t.Fatalf("parseSet succeeded with %d keys; want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSet: %v", err)
			}
			var kids []string
			for kid := range keys {
				kids = append(kids, kid)
			}
			if strings.Join(slices.Sorted(slices.Values(kids)), ",") != strings.Join(tt.wantKids, ",") {
				t.Errorf("kids = %v; want %v", kids, tt.wantKids)
			}
		})
	}
}

// FuzzParseJWK checks that no key document makes the parser panic and that
// whatever it accepts is a usable, non-HMAC verification key.
func FuzzParseJWK(f *testing.F) {
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodES256, jwt.SigningMethodES384, jwt.SigningMethodRS256, jwt.SigningMethodEdDSA} {
		data, err := json.Marshal(newSigner(f, "seed", m).jwk)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"kty":"oct","kid":"h","k":"c2VjcmV0"}`))
	f.Add([]byte(`{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}`))
	f.Add([]byte(`{"kty":"EC","kid":"e","crv":"P-256","x":"","y":""}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kid, key, err := parseJWK(data)
		if err != nil {
			return
		}
		if kid == "" || key.pub == nil {
			t.Fatalf("accepted key without kid or public key: %q", data)
		}
		ok := false
		for _, alg := range acceptedAlgs() {
			ok = ok || key.canVerify(alg)
		}
		if !ok || key.canVerify("HS256") || key.canVerify("none") {
			t.Fatalf("accepted key with unusable algorithms: %q", data)
		}
		_, _ = parseSet(append(append([]byte(`{"keys":[`), data...), ']', '}'))
	})
}
