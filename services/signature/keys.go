package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
)

// Key algorithms of credentials and CA keys.
const (
	// AlgECDSAP256 is ECDSA on NIST P-256 with SHA-256 (the default).
	AlgECDSAP256 = "ecdsa-p256"
	// AlgECDSAP384 is ECDSA on NIST P-384 with SHA-384 (CA keys).
	AlgECDSAP384 = "ecdsa-p384"
	// AlgRSA3072 is RSA 3072 with PKCS #1 v1.5 and SHA-256.
	AlgRSA3072 = "rsa-3072"
)

// ErrUnsupportedAlgorithm is wrapped when a key or hash algorithm is not one
// the enabler offers.
var ErrUnsupportedAlgorithm = errors.New("unsupported algorithm")

// generateKey makes a key pair of algorithm alg from rand.
func generateKey(alg string, rand io.Reader) (crypto.Signer, error) {
	switch alg {
	case AlgECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand)
	case AlgECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand)
	case AlgRSA3072:
		return rsa.GenerateKey(rand, 3072)
	}
	return nil, fmt.Errorf("key algorithm %q: %w", alg, ErrUnsupportedAlgorithm)
}

// parsePrivateKey reads a PKCS #8 key that can sign.
func parsePrivateKey(der []byte) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

// Hash algorithm names of the API.
const (
	HashSHA256 = "sha256"
	HashSHA384 = "sha384"
	HashSHA512 = "sha512"
)

// hashByName maps an API hash name ("" means sha256) to its crypto.Hash.
func hashByName(name string) (crypto.Hash, error) {
	switch name {
	case "", HashSHA256, "SHA-256", "2.16.840.1.101.3.4.2.1":
		return crypto.SHA256, nil
	case HashSHA384, "SHA-384", "2.16.840.1.101.3.4.2.2":
		return crypto.SHA384, nil
	case HashSHA512, "SHA-512", "2.16.840.1.101.3.4.2.3":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("hash algorithm %q: %w", name, ErrUnsupportedAlgorithm)
}

// hashName is the API name of h.
func hashName(h crypto.Hash) string {
	switch h {
	case crypto.SHA384:
		return HashSHA384
	case crypto.SHA512:
		return HashSHA512
	}
	return HashSHA256
}

var (
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
)

// hashOID is the digest algorithm identifier of h.
func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return oidSHA256
}

// hashFromOID maps a digest algorithm identifier to its hash; 0 if unknown.
func hashFromOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// signatureAlgorithm returns the CMS signature algorithm identifier for a
// key and hash, and whether it carries NULL parameters (RSA).
func signatureAlgorithm(pub crypto.PublicKey, h crypto.Hash) (asn1.ObjectIdentifier, bool, error) {
	var byHash map[crypto.Hash]asn1.ObjectIdentifier
	isRSA := false
	switch pub.(type) {
	case *ecdsa.PublicKey:
		byHash = ecdsaSignatureOIDs
	case *rsa.PublicKey:
		byHash, isRSA = rsaSignatureOIDs, true
	}
	if oid, ok := byHash[h]; ok {
		return oid, isRSA, nil
	}
	return nil, false, fmt.Errorf("key %T with %v: %w", pub, h, ErrUnsupportedAlgorithm)
}

// The CMS signature algorithms by hash, one table per key type.
var (
	ecdsaSignatureOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: oidECDSAWithSHA256, crypto.SHA384: oidECDSAWithSHA384, crypto.SHA512: oidECDSAWithSHA512,
	}
	rsaSignatureOIDs = map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA256: oidSHA256WithRSA, crypto.SHA384: oidSHA384WithRSA, crypto.SHA512: oidSHA512WithRSA,
	}
)

// keyAlgorithmOf names the algorithm of a public key.
func keyAlgorithmOf(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return AlgECDSAP384
		}
		return AlgECDSAP256
	case *rsa.PublicKey:
		return AlgRSA3072
	}
	return "unknown"
}

// hashForKey is the digest a key signs with by default: SHA-384 for P-384,
// SHA-256 otherwise.
func hashForKey(pub crypto.PublicKey) crypto.Hash {
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P384() {
		return crypto.SHA384
	}
	return crypto.SHA256
}

// verifySignature checks sig over digest (made with h) with pub.
func verifySignature(pub crypto.PublicKey, h crypto.Hash, digest, sig []byte) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig)
	}
	return fmt.Errorf("public key %T: %w", pub, ErrUnsupportedAlgorithm)
}
