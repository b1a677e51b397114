package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tamkeen/tamkeen/libs/store"
)

// Signature algorithms of the provider's keys: ES256 signs access tokens
// and, by default, ID tokens; RS256 signs the ID tokens of clients that
// register id_token_signed_response_alg RS256 (OpenID Connect Discovery
// requires RS256 support).
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// signingKey is a key from the store: an ES256 key (priv) or an RS256
// one (rsa).
type signingKey struct {
	kid     string
	priv    *ecdsa.PrivateKey
	rsa     *rsa.PrivateKey
	retired bool
}

// signer is the key's crypto.Signer.
func (k *signingKey) signer() crypto.Signer {
	if k.rsa != nil {
		return k.rsa
	}
	return k.priv
}

// sign signs claims as a JWT of type typ with the key: ES256, or RS256
// for an RSA key, with the key's kid in the header.
func (k *signingKey) sign(claims jwt.Claims, typ string) (string, error) {
	method := jwt.SigningMethod(jwt.SigningMethodES256)
	if k.rsa != nil {
		method = jwt.SigningMethodRS256
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = k.kid
	t.Header["typ"] = typ
	return t.SignedString(k.signer())
}

// keyring caches the signing keys of the store: the newest unretired key
// signs, every published key verifies. It reloads after KeyCacheTTL (so a
// rotation by another replica is picked up) and, at most once a second,
// when asked for an unknown kid.
type keyring struct {
	svc *Service

	mu     sync.Mutex
	keys   map[string]*signingKey
	active *signingKey
	// activeRSA signs RS256 ID tokens.
	activeRSA *signingKey
	loadedAt  time.Time
	missAt    time.Time
}

// minMissReload is the least time between reloads for unknown kids, so
// that tokens with made-up kids cannot hammer the database.
const minMissReload = time.Second

// errNoKey is returned when a token names a key the service does not have.
var errNoKey = errors.New("auth: unknown signing key")

// load reads the published keys; r.mu must be held.
func (r *keyring) load(ctx context.Context) error {
	now := r.svc.Now()
	rows, err := selectPublishedKeys(ctx, r.svc.DB, ms(now))
	if err != nil {
		return fmt.Errorf("auth: load signing keys: %w", err)
	}
	keys := make(map[string]*signingKey, len(rows))
	var active, activeRSA *signingKey
	for _, row := range rows {
		der, err := r.svc.keys.open(row.PrivateKeyEnc, "signing_keys:"+row.KID)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", row.KID, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", row.KID, err)
		}
		sk := &signingKey{kid: row.KID, retired: row.Retired}
		switch priv := k.(type) {
		case *ecdsa.PrivateKey:
			if priv.Curve != elliptic.P256() {
				return fmt.Errorf("auth: signing key %s is not a P-256 key", row.KID)
			}
			sk.priv = priv
			if active == nil && !row.Retired { // rows come newest first
				active = sk
			}
		case *rsa.PrivateKey:
			sk.rsa = priv
			if activeRSA == nil && !row.Retired {
				activeRSA = sk
			}
		default:
			return fmt.Errorf("auth: signing key %s is neither P-256 nor RSA", row.KID)
		}
		keys[row.KID] = sk
	}
	r.keys, r.active, r.activeRSA, r.loadedAt = keys, active, activeRSA, now
	return nil
}

// fresh loads the keys when they were never loaded or are older than the
// cache TTL; r.mu must be held.
func (r *keyring) fresh(ctx context.Context) error {
	if r.keys != nil && r.svc.Now().Sub(r.loadedAt) < r.svc.cfg.KeyCacheTTL {
		return nil
	}
	return r.load(ctx)
}

// signer returns the key that signs now, creating the first keys (ES256
// and RS256) when the store has none.
func (r *keyring) signer(ctx context.Context) (*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if r.active != nil {
		return r.active, nil
	}
	if _, err := r.svc.addKey(ctx, "", false); err != nil {
		return nil, err
	}
	if err := r.load(ctx); err != nil {
		return nil, err
	}
	if r.active == nil {
		return nil, errors.New("auth: no active signing key after creating one")
	}
	return r.active, nil
}

// signerRSA returns the RS256 key that signs ID tokens now, creating the
// first one when the store has none.
func (r *keyring) signerRSA(ctx context.Context) (*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if err := r.ensureRSA(ctx); err != nil {
		return nil, err
	}
	return r.activeRSA, nil
}

// ensureRSA creates the first RS256 key when there is none; r.mu must be
// held.
func (r *keyring) ensureRSA(ctx context.Context) error {
	if r.activeRSA != nil {
		return nil
	}
	if _, err := r.svc.addKey(ctx, AlgRS256, false); err != nil {
		return err
	}
	if err := r.load(ctx); err != nil {
		return err
	}
	if r.activeRSA == nil {
		return errors.New("auth: no active RS256 key after creating one")
	}
	return nil
}

// verificationKey returns the public key of kid, ES256 or RS256 (ID
// token hints); publicKey is for access tokens, which are ES256 only.
func (r *keyring) verificationKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if pub, err := r.publicKey(ctx, kid); err == nil {
		return pub, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[kid]; ok && k.rsa != nil {
		return &k.rsa.PublicKey, nil
	}
	return nil, errNoKey
}

// publicKey returns the verification key for kid.
func (r *keyring) publicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if k, ok := r.keys[kid]; ok && k.priv != nil {
		return &k.priv.PublicKey, nil
	}
	if now := r.svc.Now(); now.Sub(r.missAt) >= minMissReload {
		r.missAt = now
		if err := r.load(ctx); err != nil {
			return nil, err
		}
		if k, ok := r.keys[kid]; ok && k.priv != nil {
			return &k.priv.PublicKey, nil
		}
	}
	return nil, errNoKey
}

// published returns every key in the JWKS.
func (r *keyring) published(ctx context.Context) ([]*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if r.active == nil {
		// Publish the first key before any token needs it.
		if _, err := r.svc.addKey(ctx, "", false); err != nil {
			return nil, err
		}
		if err := r.load(ctx); err != nil {
			return nil, err
		}
	}
	if err := r.ensureRSA(ctx); err != nil {
		return nil, err
	}
	out := make([]*signingKey, 0, len(r.keys))
	for _, k := range r.keys {
		out = append(out, k)
	}
	return out, nil
}

// invalidate makes the next use reload.
func (r *keyring) invalidate() {
	r.mu.Lock()
	r.keys = nil
	r.mu.Unlock()
}

// addKey generates a P-256 key, seals it with the KEK and stores it; with
// retire, the keys signing until now are retired in the same transaction
// and stay published until every token they may have signed has expired:
// the access-token lifetime, plus the key cache TTL (another replica may
// sign with a retired key until it reloads), plus a minute of clock skew.
//
// alg is AlgES256 or AlgRS256; "" (rotation) adds one key of each, so
// that both are rotated the same way.
func (s *Service) addKey(ctx context.Context, alg string, retire bool) (string, error) {
	algs := []string{alg}
	if alg == "" {
		algs = []string{AlgRS256, AlgES256} // the ES256 key's kid is returned
	}
	type newKey struct{ kid, sealed string }
	var made []newKey
	for _, a := range algs {
		var (
			priv   any
			prefix = "es256-"
			err    error
		)
		if a == AlgRS256 {
			priv, err = rsa.GenerateKey(s.Rand, 2048)
			prefix = "rs256-"
		} else {
			priv, err = ecdsa.GenerateKey(elliptic.P256(), s.Rand)
		}
		if err != nil {
			return "", fmt.Errorf("auth: generate signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return "", fmt.Errorf("auth: marshal signing key: %w", err)
		}
		kid, err := store.NewIDFrom(s.Rand, prefix)
		if err != nil {
			return "", err
		}
		sealed, err := s.keys.seal(s.Rand, der, "signing_keys:"+kid)
		if err != nil {
			return "", err
		}
		made = append(made, newKey{kid, sealed})
	}
	now := s.Now()
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if retire {
			until := now.Add(s.cfg.AccessTokenTTL + s.cfg.KeyCacheTTL + time.Minute)
			if err := retireKeys(ctx, tx, ms(now), ms(until)); err != nil {
				return err
			}
		}
		for i, k := range made {
			// Newest first on load: the keys of one rotation differ by a
			// millisecond so that their order is defined.
			if err := insertKey(ctx, tx, k.kid, k.sealed, ms(now)+int64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("auth: store signing key: %w", err)
	}
	return made[len(made)-1].kid, nil
}

// RotateSigningKey adds a new ES256 signing key, which signs from now on
// (on other replicas within key-cache-ttl), and returns its kid. The old
// keys stay in the JWKS until every token they signed has expired, so no
// token in flight stops verifying.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	kid, err := s.addKey(ctx, "", true)
	if err != nil {
		return "", err
	}
	s.ring.invalidate()
	return kid, nil
}

// JWK is a public key as RFC 7517 and RFC 7518 sections 6.2 (EC: Crv,
// X, Y) and 6.3 (RSA: N, E) write it.
type JWK struct {
	Kty, Crv, X, Y, N, E, Kid, Use, Alg string
}

// Jwks returns the public keys that verify tokens: the signing key and the
// retired keys whose tokens may still be alive, ordered by kid.
func (s *Service) Jwks(ctx context.Context) ([]JWK, error) {
	keys, err := s.ring.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]JWK, 0, len(keys))
	for _, k := range keys {
		if k.rsa != nil {
			out = append(out, JWK{Kty: "RSA", Kid: k.kid, Use: "sig", Alg: AlgRS256,
				N: base64.RawURLEncoding.EncodeToString(k.rsa.N.Bytes()),
				E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.rsa.E)).Bytes())})
			continue
		}
		pub, err := k.priv.PublicKey.ECDH()
		if err != nil {
			return nil, fmt.Errorf("auth: key %s: %w", k.kid, err)
		}
		b := pub.Bytes() // 0x04 || X || Y, 32 bytes each
		out = append(out, JWK{
			Kty: "EC", Crv: "P-256", Kid: k.kid, Use: "sig", Alg: "ES256",
			X: base64.RawURLEncoding.EncodeToString(b[1:33]),
			Y: base64.RawURLEncoding.EncodeToString(b[33:65]),
		})
	}
	slices.SortFunc(out, func(a, b JWK) int { return strings.Compare(a.Kid, b.Kid) })
	return out, nil
}
