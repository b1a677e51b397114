package signature

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// ErrBadKEK is wrapped by errors about the key-encryption key.
var ErrBadKEK = errors.New("signature: invalid key-encryption key")

// sealVersion prefixes every sealed blob so that the format can change.
const sealVersion byte = 1

// sealer encrypts private keys at rest with AES-256-GCM under the
// key-encryption key, and derives the HMAC key for SAD secrets from it.
type sealer struct {
	aead   cipher.AEAD
	macKey []byte
	rand   io.Reader
}

// decodeKEK decodes the base64 of exactly 32 bytes.
func decodeKEK(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrBadKEK)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%w: %d bytes, want 32", ErrBadKEK, len(k))
	}
	return k, nil
}

// newSealer derives an encryption key and a MAC key from the KEK (HMAC-SHA256
// with distinct labels), so that neither use can be turned against the other.
func newSealer(kekB64 string, rand io.Reader) (*sealer, error) {
	kek, err := decodeKEK(kekB64)
	if err != nil {
		return nil, err
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, kek)
		m.Write([]byte("tamkeen/signature/" + label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("seal"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, macKey: derive("sad-mac"), rand: rand}, nil
}

// seal encrypts plaintext; aad binds the blob to its owner (an object name or
// a credential id) so that blobs cannot be swapped between rows.
func (s *sealer) seal(plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	out := append([]byte{sealVersion}, nonce...)
	return s.aead.Seal(out, nonce, plaintext, []byte(aad)), nil
}

// open decrypts a blob made by seal with the same aad.
func (s *sealer) open(blob []byte, aad string) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(blob) < 1+ns+s.aead.Overhead() || blob[0] != sealVersion {
		return nil, errors.New("open sealed key: malformed blob")
	}
	pt, err := s.aead.Open(nil, blob[1:1+ns], blob[1+ns:], []byte(aad))
	if err != nil {
		return nil, errors.New("open sealed key: wrong key-encryption key or tampered blob")
	}
	return pt, nil
}

// mac is the HMAC-SHA256 of a SAD secret.
func (s *sealer) mac(secret []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write(secret)
	return m.Sum(nil)
}
