package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// signingKey is an ES256 key from the store.
type signingKey struct {
	kid     string
	priv    *ecdsa.PrivateKey
	retired bool
}

// keyring caches the signing keys of the store: the newest unretired key
// signs, every published key verifies. It reloads after KeyCacheTTL (so a
// rotation by another replica is picked up) and, at most once a second,
// when asked for an unknown kid.
type keyring struct {
	svc *Service

	mu       sync.Mutex
	keys     map[string]*signingKey
	active   *signingKey
	loadedAt time.Time
	missAt   time.Time
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
	var active *signingKey
	for _, row := range rows {
		der, err := r.svc.keys.open(row.PrivateKeyEnc, "signing_keys:"+row.KID)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", row.KID, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("auth: signing key %s: %w", row.KID, err)
		}
		priv, ok := k.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return fmt.Errorf("auth: signing key %s is not a P-256 key", row.KID)
		}
		sk := &signingKey{kid: row.KID, priv: priv, retired: row.Retired}
		keys[row.KID] = sk
		if active == nil && !row.Retired { // rows come newest first
			active = sk
		}
	}
	r.keys, r.active, r.loadedAt = keys, active, now
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

// signer returns the key that signs now, creating the first key when the
// store has none.
func (r *keyring) signer(ctx context.Context) (*signingKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if r.active != nil {
		return r.active, nil
	}
	if _, err := r.svc.addKey(ctx, false); err != nil {
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

// publicKey returns the verification key for kid.
func (r *keyring) publicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fresh(ctx); err != nil {
		return nil, err
	}
	if k, ok := r.keys[kid]; ok {
		return &k.priv.PublicKey, nil
	}
	if now := r.svc.Now(); now.Sub(r.missAt) >= minMissReload {
		r.missAt = now
		if err := r.load(ctx); err != nil {
			return nil, err
		}
		if k, ok := r.keys[kid]; ok {
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
		if _, err := r.svc.addKey(ctx, false); err != nil {
			return nil, err
		}
		if err := r.load(ctx); err != nil {
			return nil, err
		}
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
func (s *Service) addKey(ctx context.Context, retire bool) (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), s.Rand)
	if err != nil {
		return "", fmt.Errorf("auth: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("auth: marshal signing key: %w", err)
	}
	kid, err := store.NewIDFrom(s.Rand, "es256-")
	if err != nil {
		return "", err
	}
	sealed, err := s.keys.seal(s.Rand, der, "signing_keys:"+kid)
	if err != nil {
		return "", err
	}
	now := s.Now()
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if retire {
			until := now.Add(s.cfg.AccessTokenTTL + s.cfg.KeyCacheTTL + time.Minute)
			if err := retireKeys(ctx, tx, ms(now), ms(until)); err != nil {
				return err
			}
		}
		return insertKey(ctx, tx, kid, sealed, ms(now))
	})
	if err != nil {
		return "", fmt.Errorf("auth: store signing key: %w", err)
	}
	return kid, nil
}

// RotateSigningKey adds a new ES256 signing key, which signs from now on
// (on other replicas within key-cache-ttl), and returns its kid. The old
// keys stay in the JWKS until every token they signed has expired, so no
// token in flight stops verifying.
func (s *Service) RotateSigningKey(ctx context.Context) (string, error) {
	kid, err := s.addKey(ctx, true)
	if err != nil {
		return "", err
	}
	s.ring.invalidate()
	return kid, nil
}

// JWK is a public key as RFC 7517 and RFC 7518 section 6.2 write it.
type JWK struct {
	Kty, Crv, X, Y, Kid, Use, Alg string
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
