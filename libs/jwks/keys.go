package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Key size limits for RSA: below the minimum is weak; above the maximum
// verification gets slow enough to be a denial-of-service lever.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// acceptedAlgs lists the JWS algorithms Verify accepts. HMAC and "none" are
// deliberately absent.
func acceptedAlgs() []string {
	return []string{"ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
}

// errNotForSigning marks a well-formed key that is not a signature key; it is
// skipped without complaint.
var errNotForSigning = errors.New("not a signature verification key")

// publicKey is one verification key from the set.
type publicKey struct {
	pub any    // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
	alg string // the JWK's "alg", or "" when it names none
}

// canVerify reports whether k may verify a token signed with alg.
func (k publicKey) canVerify(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256" && pub.Curve == elliptic.P256() || alg == "ES384" && pub.Curve == elliptic.P384()
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// jwk is the JSON form of a key (RFC 7517, RFC 7518 §6, RFC 8037).
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	D      string   `json:"d"`
}

// parseJWK parses one key. Keys for other uses yield errNotForSigning.
func parseJWK(data []byte) (kid string, key publicKey, err error) {
	var j jwk
	if err := json.Unmarshal(data, &j); err != nil {
		return "", publicKey{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if j.Use != "" && j.Use != "sig" {
		return "", publicKey{}, fmt.Errorf("use %q: %w", j.Use, errNotForSigning)
	}
	if j.KeyOps != nil && !slices.Contains(j.KeyOps, "verify") {
		return "", publicKey{}, fmt.Errorf("key_ops %q: %w", j.KeyOps, errNotForSigning)
	}
	if j.Kid == "" {
		return "", publicKey{}, errors.New("no kid")
	}
	if j.D != "" {
		return "", publicKey{}, errors.New("private key material published")
	}
	if j.Alg != "" && !slices.Contains(acceptedAlgs(), j.Alg) {
		return "", publicKey{}, fmt.Errorf("alg %q not accepted", j.Alg)
	}
	key = publicKey{alg: j.Alg}
	switch j.Kty {
	case "EC":
		key.pub, err = parseEC(j)
	case "RSA":
		key.pub, err = parseRSA(j)
	case "OKP":
		key.pub, err = parseOKP(j)
	default:
		return "", publicKey{}, fmt.Errorf("kty %q: %w", j.Kty, errNotForSigning)
	}
	if err != nil {
		return "", publicKey{}, fmt.Errorf("kid %q: %w", j.Kid, err)
	}
	if j.Alg != "" && !key.canVerify(j.Alg) {
		return "", publicKey{}, fmt.Errorf("kid %q: alg %s does not fit a %s key", j.Kid, j.Alg, j.Kty)
	}
	return j.Kid, key, nil
}

// b64 decodes base64url, tolerating padding that some issuers add.
func b64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%s: invalid base64url", field)
	}
	return b, nil
}

func parseEC(j jwk) (*ecdsa.PublicKey, error) {
	var curve elliptic.Curve
	var size int
	switch j.Crv {
	case "P-256":
		curve, size = elliptic.P256(), 32
	case "P-384":
		curve, size = elliptic.P384(), 48
	default:
		return nil, fmt.Errorf("unsupported curve %q", j.Crv)
	}
	x, err := b64("x", j.X)
	if err != nil {
		return nil, err
	}
	y, err := b64("y", j.Y)
	if err != nil {
		return nil, err
	}
	if len(x) != size || len(y) != size {
		return nil, fmt.Errorf("coordinates of %d and %d bytes; want %d", len(x), len(y), size)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, errors.New("point not on curve")
	}
	return pub, nil
}

func parseRSA(j jwk) (*rsa.PublicKey, error) {
	n, err := b64("n", j.N)
	if err != nil {
		return nil, err
	}
	e, err := b64("e", j.E)
	if err != nil {
		return nil, err
	}
	if len(e) == 0 || len(e) > 4 {
		return nil, errors.New("exponent out of range")
	}
	var exp int
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, errors.New("exponent out of range")
	}
	mod := new(big.Int).SetBytes(n)
	if bits := mod.BitLen(); bits < minRSABits || bits > maxRSABits {
		return nil, fmt.Errorf("modulus of %d bits; want %d to %d", bits, minRSABits, maxRSABits)
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

func parseOKP(j jwk) (ed25519.PublicKey, error) {
	if j.Crv != "Ed25519" {
		return nil, fmt.Errorf("unsupported curve %q", j.Crv)
	}
	x, err := b64("x", j.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("x of %d bytes; want %d", len(x), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(x), nil
}

// parseSet parses a JWK Set document, keeping the usable signature keys.
// Keys that are malformed, for other uses or of unknown types are skipped
// (one bad key must not take the others down); a document without any
// usable key is an error, so that a broken publication never replaces a
// working key set.
func parseSet(data []byte) (map[string]publicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid JWK set: %w", err)
	}
	keys := make(map[string]publicKey, len(doc.Keys))
	var skipped []string
	for _, raw := range doc.Keys {
		kid, key, err := parseJWK(raw)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		if _, dup := keys[kid]; dup {
			// Two keys under one kid is ambiguous; trust neither.
			skipped = append(skipped, fmt.Sprintf("kid %q used twice", kid))
			keys[kid] = publicKey{}
			continue
		}
		keys[kid] = key
	}
	for kid, k := range keys {
		if k.pub == nil {
			delete(keys, kid)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no usable signing key in JWK set (%d keys; skipped: %s)", len(doc.Keys), strings.Join(skipped, "; "))
	}
	return keys, nil
}
