package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"database/sql"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"

	"github.com/tamkeen/tamkeen/libs/events"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// Electronic revenue stamps (issue 18.2): the payment enabler announces
// each stamp it issues (tamkeen.payment.stamp_issued, a
// tamkeen.payment.v1.Stamp); this service seals it with the platform's
// seal and announces the result (tamkeen.signature.stamp_sealed, the same
// Stamp with signed_stamp set), which the payment enabler stores.
//
// The sealed stamp is a compact JWS (RFC 7515) with ES256: its header
// carries the seal certificate and the issuing CA in x5c, so that anyone
// verifies it offline against the platform's root (GET /v1/signing/ca);
// its payload is the stamp (serial, value in minor units, currency, fee
// type, issuing department, buyer, payment, iat and exp as Unix seconds).
//
// The platform seal is an organisation credential of the platform itself
// (owner "client:"+PlatformSealClient, CN the pki-organization), created
// on first use like a ministry's seal; it is an ordinary credential, so it
// appears in the CRL and OCSP when revoked.

// PlatformSealClient is the client id the platform's own seal is filed
// under.
const PlatformSealClient = "tamkeen-platform"

// stampsConsumer is the durable consumer name on the PAYMENT stream.
const stampsConsumer = "signature-stamps"

// StampClaims is the payload of a sealed stamp.
type StampClaims struct {
	Issuer     string `json:"iss"`
	Serial     string `json:"serial"`
	Value      int64  `json:"value"`
	Currency   string `json:"currency"`
	FeeType    string `json:"fee_type"`
	Department string `json:"department"`
	Buyer      string `json:"buyer"`
	PaymentID  string `json:"payment_id"`
	IssuedAt   int64  `json:"iat"`
	Expires    int64  `json:"exp"`
}

// consumeStamps seals the stamps the payment enabler issues. The PAYMENT
// stream may not exist yet, so the consumer is retried until it can be
// created.
func (s *Service) consumeStamps(ctx context.Context) error {
	return events.ConsumeEvent(ctx, s.Bus, "payment", "stamp_issued", stampsConsumer, s.handleStampIssued, s.Logger)
}

// handleStampIssued seals one stamp, once.
func (s *Service) handleStampIssued(ctx context.Context, ev events.Event, st *paymentv1.Stamp) error {
	if st.GetSerial() == "" || st.GetIssueTime() == nil || st.GetExpireTime() == nil {
		return events.Permanent(fmt.Errorf("stamp_issued event %s lacks a serial or its validity", ev.ID))
	}
	jws, err := s.SealStamp(ctx, st)
	if err != nil {
		return err
	}
	out, err := s.Events.New(events.Subject(Name, "stamp_sealed")+".v1", &paymentv1.Stamp{Serial: st.GetSerial(), SignedStamp: jws})
	if err != nil {
		return err
	}
	out.Subject = st.GetSerial()
	applied, err := events.ProcessOnce(ctx, s.DB, stampsConsumer, ev.ID, func(tx *sql.Tx) error {
		return events.Enqueue(ctx, tx, events.Subject(Name, "stamp_sealed"), out)
	})
	if err == nil && applied {
		s.Relay.Kick()
	}
	return err
}

// SealStamp returns the stamp sealed with the platform seal as a compact
// JWS.
func (s *Service) SealStamp(ctx context.Context, st *paymentv1.Stamp) (string, error) {
	c, err := s.platformSeal(ctx)
	if err != nil {
		return "", err
	}
	key, err := s.credentialKey(c)
	if err != nil {
		return "", err
	}
	if _, ok := key.Public().(*ecdsa.PublicKey); !ok {
		return "", errors.New("the platform seal is not an ECDSA P-256 key")
	}
	a, err := s.ca(ctx)
	if err != nil {
		return "", err
	}
	header, err := json.Marshal(map[string]any{
		"alg": "ES256", "typ": "JWT",
		"x5c": []string{base64.StdEncoding.EncodeToString(c.Certificate.Raw), base64.StdEncoding.EncodeToString(a.issuing.Raw)},
	})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(StampClaims{
		Issuer: s.cfg.Organization, Serial: st.GetSerial(), Value: st.GetValue(), Currency: st.GetCurrency(),
		FeeType: st.GetFeeType(), Department: st.GetDepartment(), Buyer: st.GetBuyer(), PaymentID: st.GetPaymentId(),
		IssuedAt: st.GetIssueTime().AsTime().Unix(), Expires: st.GetExpireTime().AsTime().Unix(),
	})
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	input := b64(header) + "." + b64(payload)
	digest := sha256.Sum256([]byte(input))
	der, err := key.Sign(s.Rand, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("seal stamp %s: %w", st.GetSerial(), err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return "", fmt.Errorf("seal stamp %s: %w", st.GetSerial(), err)
	}
	raw := make([]byte, 64) // JWS ES256 is R || S, 32 bytes each (RFC 7518 section 3.4)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return input + "." + b64(raw), nil
}

// platformSeal returns the platform's active seal credential, creating it
// on first use.
func (s *Service) platformSeal(ctx context.Context) (*Credential, error) {
	p := &principal{clientID: PlatformSealClient, orgName: s.cfg.Organization}
	cs, err := credentialsOf(ctx, s.DB, p.owner(), "", 100)
	if err != nil {
		return nil, fmt.Errorf("platform seal: %w", err)
	}
	now := s.Now()
	for i := len(cs) - 1; i >= 0; i-- {
		if c := cs[i]; usable(c, now) == nil && c.KeyAlgorithm == AlgECDSAP256 {
			return c, nil
		}
	}
	return s.createCredential(ctx, p, CredentialRequest{KeyAlgorithm: AlgECDSAP256, Description: "platform seal of revenue stamps"})
}
