package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/tamkeen/tamkeen/libs/argon2id"
)

// HashParams are argon2id's cost parameters. The defaults are OWASP's
// recommendation (m=19 MiB, t=2, p=1).
type HashParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultHashParams is OWASP's argon2id configuration.
var DefaultHashParams = HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// errBadHash marks a stored hash that is not an argon2id PHC string.
var errBadHash = errors.New("auth: malformed argon2id hash")

// hashSecret returns the argon2id PHC string of secret:
// $argon2id$v=19$m=…,t=…,p=…$<salt>$<key>, base64 without padding.
func hashSecret(secret string, p HashParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2id.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2id.Version, p.MemoryKiB, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifySecret reports whether secret matches the PHC string, comparing in
// constant time, and the parameters the hash was made with (so a caller can
// re-hash when they differ from the current ones).
func verifySecret(secret, phc string) (bool, HashParams, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, HashParams{}, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2id.Version {
		return false, HashParams{}, errBadHash
	}
	var p HashParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, HashParams{}, errBadHash
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<22 || p.Time == 0 || p.Time > 64 || p.Threads == 0 {
		return false, HashParams{}, errBadHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, HashParams{}, errBadHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, HashParams{}, errBadHash
	}
	got := argon2id.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, p, nil
}

// Client secrets are stored in one of two schemes, told apart by the
// stored value's prefix (so no column is needed):
//
//   - "$hmac-sha256$k=<key id>$<hex MAC>" for secrets Tamkeen generates
//     (24 or more random bytes): HMAC-SHA-256 keyed with the lookup key
//     derived from the key-encryption key, over the client id and the
//     secret. Checking one costs a microsecond and no argon2 slot: a
//     memory-hard hash protects guessable secrets, and a generated one is
//     not guessable, so it bought nothing but 19 MiB per token request.
//   - "$argon2id$…" (a PHC string) for secrets a caller chose, which may
//     be guessable, and for rows stored before the MAC scheme; the
//     latter are re-stored as MACs on their next successful use when the
//     secret has the generated shape.
//
// The key id names the key a MAC was made with. Tamkeen has no KEK
// rotation (national-ID lookups and sealed signing keys depend on the KEK
// too); if the KEK is replaced anyway, a MAC made with the old one no
// longer verifies: the client is refused, the refusal is logged as such,
// and `tamkeen clients rotate-secret` gives it a secret under the new key.
const clientMACScheme = "$hmac-sha256$"

// minGeneratedSecretBytes is the least randomness a secret must carry to be
// stored as a MAC: 24 bytes (192 bits), what `tamkeen dev` generates; the
// CLI and RotateClientSecret generate 32.
const minGeneratedSecretBytes = 24

// errOtherKey marks a client-secret MAC made with another key-encryption
// key than the running one.
var errOtherKey = errors.New("auth: client secret MAC was made with another key-encryption key; rotate the client's secret")

// generatedSecret reports whether secret has the shape of a secret Tamkeen
// generates: unpadded URL-safe base64, in its canonical form, of at least
// minGeneratedSecretBytes bytes, and not obviously typed by hand (at least
// 18 distinct characters: 32 random base64 characters have 25 on average
// and fewer than 18 about twice in 100,000 draws, 43 characters far more
// rarely; such a secret stays argon2id, which is safe, only slower). The
// shape cannot prove randomness: the scheme relies on Tamkeen's own
// generators, and a caller that picks a long random-looking secret by hand
// gets the MAC scheme (see docs/benchmarks.md on what that risks).
func generatedSecret(secret string) bool {
	if len(secret) < (minGeneratedSecretBytes*8+5)/6 || len(secret) > 256 {
		return false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return false
	}
	var seen [128]bool
	distinct := 0
	for i := 0; i < len(secret); i++ {
		if !seen[secret[i]] {
			seen[secret[i]] = true
			distinct++
		}
	}
	return distinct >= 18
}

// isClientMAC reports whether a stored client secret is in the MAC scheme.
func isClientMAC(stored string) bool { return strings.HasPrefix(stored, clientMACScheme) }

// clientMACKeyID names the key client-secret MACs are made with: the first
// 8 hex digits of a MAC of nothing, which identifies the key without
// revealing it.
func clientMACKeyID(lookup []byte) string { return mac(lookup, "client_secret key id", "")[:8] }

// clientSecretMAC returns the stored form of a client's secret in the MAC
// scheme. The client id is in the MAC so that a stored value copied onto
// another client does not let that client in with the first one's secret.
func clientSecretMAC(lookup []byte, id, secret string) string {
	return clientMACScheme + "k=" + clientMACKeyID(lookup) + "$" + mac(lookup, "client_secret v1", id+"\x00"+secret)
}

// dummyClientMAC is a stored value no secret matches, made with the running
// key: verified against for an unknown client id, so that it costs what a
// known client's check costs.
func dummyClientMAC(lookup []byte) string {
	return clientMACScheme + "k=" + clientMACKeyID(lookup) + "$" + strings.Repeat("0", 64)
}

// verifyClientMAC checks secret against a stored MAC-scheme value in
// constant time. It computes the MAC before looking at the key id, so a
// value made with another key costs what any other costs; such a value
// gives errOtherKey, a malformed one errBadHash.
func verifyClientMAC(lookup []byte, id, secret, stored string) (bool, error) {
	got := clientSecretMAC(lookup, id, secret)
	kid, want, ok := strings.Cut(strings.TrimPrefix(stored, clientMACScheme), "$")
	if !isClientMAC(stored) || !ok || len(want) != 64 || !strings.HasPrefix(kid, "k=") {
		return false, errBadHash
	}
	if kid != "k="+clientMACKeyID(lookup) {
		return false, errOtherKey
	}
	return macEqual(got[len(got)-64:], want), nil
}
