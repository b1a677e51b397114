package signature

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// maxSADHashes bounds the hashes one SAD authorises.
const maxSADHashes = 32

// ErrSADRefused is wrapped by every refusal of a signature activation token;
// the message says why (unknown, used, expired, other credential, other
// hashes) and the code is PERMISSION_DENIED.
var ErrSADRefused = errors.New("signature activation data refused")

// sadRefused builds a refusal.
func sadRefused(why string) error {
	return fmt.Errorf("%w: %s: %w", ErrSADRefused, why, rpcerr.ErrPermissionDenied)
}

// authorizeCredential issues a SAD: the holder agrees to sign exactly these
// hashes with this credential, once, within sad-ttl. Citizens need a fresh
// OTP step-up; an organisation seal needs only its scope.
func (s *Service) authorizeCredential(ctx context.Context, p *principal, credentialID string, hashes [][]byte, hashAlg string) (string, time.Duration, error) {
	h, err := hashByName(hashAlg)
	if err != nil {
		return "", 0, &rpcerr.FieldError{Field: "hash_algorithm", Reason: `must be "sha256", "sha384" or "sha512"`, Code: "hash_algorithm.unsupported"}
	}
	if len(hashes) == 0 || len(hashes) > maxSADHashes {
		return "", 0, &rpcerr.FieldError{Field: "hashes", Reason: fmt.Sprintf("give 1 to %d hashes", maxSADHashes), Code: "hashes.count", Args: rpcerr.ArgList(strconv.Itoa(maxSADHashes))}
	}
	enc := make([]string, len(hashes))
	for i, d := range hashes {
		if len(d) != h.Size() {
			return "", 0, hashLength(fmt.Sprintf("hashes[%d]", i), len(d), h)
		}
		enc[i] = hex.EncodeToString(d)
	}
	slices.Sort(enc)
	enc = slices.Compact(enc)
	c, err := s.getCredential(ctx, p, credentialID)
	if err != nil {
		return "", 0, err
	}
	if err := usable(c, s.Now()); err != nil {
		return "", 0, err
	}
	id, err := store.NewIDFrom(s.Rand, "sad_")
	if err != nil {
		return "", 0, err
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(s.Rand, secret); err != nil {
		return "", 0, err
	}
	now := store.Stamp(s.Now())
	err = insertSAD(ctx, s.DB, id, s.seal.mac(secret), c.ID, p.owner(), hashName(h), strings.Join(enc, ","), now, now.Add(s.cfg.SADTTL))
	if err != nil {
		return "", 0, err
	}
	return id + "." + base64.RawURLEncoding.EncodeToString(secret), s.cfg.SADTTL, nil
}

// usable refuses a revoked or expired credential.
func usable(c *Credential, now time.Time) error {
	if c.Status != StatusActive {
		return fmt.Errorf("credential %s is %s: %w", c.ID, c.Status, rpcerr.ErrFailedPrecondition)
	}
	if now.After(c.NotAfter) || now.Before(c.NotBefore) {
		return fmt.Errorf("credential %s is outside its validity period: %w", c.ID, rpcerr.ErrFailedPrecondition)
	}
	return nil
}

// consumeSAD spends the SAD and checks that it authorises credentialID,
// owner and the digest. It is spent first (atomically, so that of
// concurrent callers exactly one gets it) and checked after, so that a
// SAD shown with other hashes or another credential is gone too: a stolen
// SAD gets one try.
func (s *Service) consumeSAD(ctx context.Context, sad, credentialID, owner string, hashAlg string, digest []byte) error {
	id, secretB64, ok := strings.Cut(sad, ".")
	if !ok || !strings.HasPrefix(id, "sad_") || len(id) > 64 {
		return sadRefused("malformed")
	}
	secret, err := base64.RawURLEncoding.DecodeString(secretB64)
	if err != nil || len(secret) != 32 {
		return sadRefused("malformed")
	}
	now := store.Stamp(s.Now())
	var (
		mac                           []byte
		credID, sadOwner, alg, hashes string
		expires                       time.Time
	)
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		mac, credID, sadOwner, alg, hashes, expires, err = loadSAD(ctx, tx, id)
		if errors.Is(err, sql.ErrNoRows) {
			return sadRefused("unknown")
		}
		if err != nil {
			return err
		}
		if !hmac.Equal(mac, s.seal.mac(secret)) {
			// A wrong secret does not spend the SAD: its holder still has it.
			return sadRefused("unknown")
		}
		spent, err := spendSAD(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if !spent {
			return sadRefused("already used")
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case now.After(expires):
		return sadRefused("expired")
	case sadOwner != owner:
		return sadRefused("issued to someone else")
	case credID != credentialID:
		return sadRefused("issued for another credential")
	case alg != hashAlg:
		return sadRefused("issued for another hash algorithm")
	case !slices.Contains(strings.Split(hashes, ","), hex.EncodeToString(digest)):
		return sadRefused("the document's hash is not one the SAD authorises")
	}
	return nil
}
