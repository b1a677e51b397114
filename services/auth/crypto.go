package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// derivedKeys are the purpose-bound keys derived from the key-encryption
// key with HKDF-SHA256, so that no key serves two purposes: a leaked OTP
// HMAC key does not decrypt signing keys, and so on.
type derivedKeys struct {
	// wrap encrypts signing keys and TOTP secrets (AES-256-GCM).
	wrap cipher.AEAD
	// otp keys the HMACs of SMS codes and recovery codes.
	otp []byte
	// lookup keys the HMACs of national IDs, source addresses and refresh
	// tokens: values that must be found again but not read back.
	lookup []byte
}

// deriveKeys derives the purpose keys from the 32-byte KEK.
func deriveKeys(kek []byte) (derivedKeys, error) {
	derive := func(info string) ([]byte, error) {
		return hkdf.Key(sha256.New, kek, nil, "tamkeen-auth "+info, 32)
	}
	wrapKey, err1 := derive("wrap v1")
	otpKey, err2 := derive("otp hmac v1")
	lookupKey, err3 := derive("lookup hmac v1")
	if err := errors.Join(err1, err2, err3); err != nil {
		return derivedKeys{}, fmt.Errorf("auth: derive keys: %w", err)
	}
	block, err := aes.NewCipher(wrapKey)
	if err != nil {
		return derivedKeys{}, fmt.Errorf("auth: derive keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return derivedKeys{}, fmt.Errorf("auth: derive keys: %w", err)
	}
	return derivedKeys{wrap: aead, otp: otpKey, lookup: lookupKey}, nil
}

// errDecrypt marks ciphertext that does not open with this KEK.
var errDecrypt = errors.New("auth: stored ciphertext does not decrypt (wrong key-encryption-key?)")

// seal encrypts plaintext with a fresh nonce from rnd, bound to aad (the
// row and column it belongs to, so ciphertexts cannot be swapped between
// rows), and returns base64(nonce || ciphertext).
func (k derivedKeys) seal(rnd io.Reader, plaintext []byte, aad string) (string, error) {
	nonce := make([]byte, k.wrap.NonceSize())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return "", fmt.Errorf("auth: nonce: %w", err)
	}
	out := k.wrap.Seal(nonce, nonce, plaintext, []byte(aad))
	return base64.StdEncoding.EncodeToString(out), nil
}

// open reverses seal.
func (k derivedKeys) open(sealed, aad string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(b) < k.wrap.NonceSize()+k.wrap.Overhead() {
		return nil, errDecrypt
	}
	n := k.wrap.NonceSize()
	pt, err := k.wrap.Open(nil, b[:n], b[n:], []byte(aad))
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}

// mac returns hex(HMAC-SHA256(key, purpose || 0 || value)).
func mac(key []byte, purpose, value string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))
}

// macEqual compares two hex MACs in constant time.
func macEqual(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// idEncoding is lower-case base32 without padding: ids and tokens that
// survive URLs, logs and case-insensitive systems.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
