// Package sealed seals small messages to a recipient's public key, so that
// a producer can hand data to one consumer through a channel others can
// read (an event stream, its backups, its mirrors) without that channel
// ever holding the data in clear.
//
// It is HPKE (RFC 9180, base mode, Go's crypto/hpke) with the hybrid
// post-quantum KEM ML-KEM-768 + X25519, HKDF-SHA256 and AES-256-GCM: a
// national ID sealed today stays sealed against a recorder who gains a
// quantum computer later. Each blob is bound to a context string (e.g. the
// citizen id it describes), so a blob cannot be moved to another record.
//
// A private key is a 32-byte seed (base64 in configuration); its public
// key (1216 bytes, base64) is what producers are configured with.
// Producers cannot open what they seal: only the holder of the seed can.
// HPKE base mode does not authenticate the sender; who may publish on the
// channel is the channel's business (NATS permissions).
package sealed

import (
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// version is the first byte of every blob, so that the suite can change.
const version byte = 1

// keyIDLen is the length of the key id that follows the version byte.
const keyIDLen = 8

// infoPrefix domain-separates this package's HPKE contexts.
const infoPrefix = "tamkeen/sealed/v1\x00"

// Errors of the package.
var (
	// ErrBadKey is wrapped by errors about a key's encoding.
	ErrBadKey = errors.New("sealed: invalid key")
	// ErrUnknownKey: the blob was sealed to a key the opener does not hold.
	ErrUnknownKey = errors.New("sealed: blob sealed to a key not held here")
	// ErrOpen: the blob is malformed, tampered with, or sealed for another
	// context.
	ErrOpen = errors.New("sealed: cannot open blob (malformed, tampered with or for another context)")
)

func kem() hpke.KEM          { return hpke.MLKEM768X25519() }
func kdf() hpke.KDF          { return hpke.HKDFSHA256() }
func aead() hpke.AEAD        { return hpke.AES256GCM() }
func info(ctx string) []byte { return []byte(infoPrefix + ctx) }

func keyID(pub []byte) [keyIDLen]byte {
	s := sha256.Sum256(pub)
	var id [keyIDLen]byte
	copy(id[:], s[:])
	return id
}

// PublicKey is a recipient's public key.
type PublicKey struct {
	pk hpke.PublicKey
	id [keyIDLen]byte
}

// ParsePublicKey decodes a public key from standard base64.
func ParsePublicKey(b64 string) (*PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: public key is not base64", ErrBadKey)
	}
	pk, err := kem().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: not an ML-KEM-768+X25519 public key (%d bytes)", ErrBadKey, len(b))
	}
	return &PublicKey{pk: pk, id: keyID(b)}, nil
}

// String is the key in standard base64 (what ParsePublicKey reads).
func (k *PublicKey) String() string { return base64.StdEncoding.EncodeToString(k.pk.Bytes()) }

// ID is a short public fingerprint of the key (hex), written into blobs.
func (k *PublicKey) ID() string { return hex.EncodeToString(k.id[:]) }

// PrivateKey is a recipient's private key.
type PrivateKey struct {
	sk  hpke.PrivateKey
	pub *PublicKey
}

// ParsePrivateKey decodes a private key (a 32-byte seed) from standard
// base64, e.g. `openssl rand -base64 32`.
func ParsePrivateKey(b64 string) (*PrivateKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: private key is not base64", ErrBadKey)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%w: private key is %d bytes, want 32", ErrBadKey, len(b))
	}
	sk, err := kem().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	pb := sk.PublicKey().Bytes()
	return &PrivateKey{sk: sk, pub: &PublicKey{pk: sk.PublicKey(), id: keyID(pb)}}, nil
}

// GenerateKey returns a new private key in base64 (a seed read from r).
func GenerateKey(r io.Reader) (string, error) {
	seed := make([]byte, 32)
	if _, err := io.ReadFull(r, seed); err != nil {
		return "", fmt.Errorf("sealed: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(seed), nil
}

// Public returns the key's public half.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Seal encrypts plaintext to pub, bound to context. Every call gives a
// different blob.
func Seal(pub *PublicKey, context string, plaintext []byte) ([]byte, error) {
	ct, err := hpke.Seal(pub.pk, kdf(), aead(), info(context), plaintext)
	if err != nil {
		return nil, fmt.Errorf("sealed: seal: %w", err)
	}
	out := make([]byte, 0, 1+keyIDLen+len(ct))
	out = append(out, version)
	out = append(out, pub.id[:]...)
	return append(out, ct...), nil
}

// Open decrypts a blob made by Seal for context with the public half of
// one of keys (several while a key is being rotated).
func Open(keys []*PrivateKey, context string, blob []byte) ([]byte, error) {
	if len(blob) < 1+keyIDLen || blob[0] != version {
		return nil, ErrOpen
	}
	var id [keyIDLen]byte
	copy(id[:], blob[1:1+keyIDLen])
	for _, k := range keys {
		if k.pub.id != id {
			continue
		}
		pt, err := hpke.Open(k.sk, kdf(), aead(), info(context), blob[1+keyIDLen:])
		if err != nil {
			return nil, ErrOpen
		}
		return pt, nil
	}
	return nil, ErrUnknownKey
}

// ParsePrivateKeys decodes a comma-separated list of private keys (the
// current one and those being retired).
func ParsePrivateKeys(list string) ([]*PrivateKey, error) {
	var out []*PrivateKey
	for i, s := range strings.Split(list, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := ParsePrivateKey(s)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrBadKey)
	}
	return out, nil
}
