package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/tamkeen/tamkeen/libs/pause"
	"golang.org/x/crypto/ocsp"
)

// revocationStatus is a certificate's status as the CA knows it.
type revocationStatus struct {
	known     bool // issued by this CA
	revoked   bool
	revokedAt time.Time
	reason    int
}

// statusOf looks a serial of the issuing CA up.
func (s *Service) statusOf(ctx context.Context, a *authority, serial *big.Int) (revocationStatus, error) {
	for _, c := range []*x509.Certificate{a.tsa, a.ocsp} {
		if c.SerialNumber.Cmp(serial) == 0 {
			return revocationStatus{known: true}, nil
		}
	}
	status, revokedAt, reason, err := credentialStatus(ctx, s.DB, hex.EncodeToString(serial.Bytes()))
	if errors.Is(err, sql.ErrNoRows) {
		return revocationStatus{}, nil
	}
	if err != nil {
		return revocationStatus{}, err
	}
	st := revocationStatus{known: true}
	if status == StatusRevoked && revokedAt.Valid {
		st.revoked, st.revokedAt, st.reason = true, revokedAt.Time.UTC(), revocationReasons[reason]
	}
	return st, nil
}

// issueCRL signs a new CRL listing every revoked credential and stores it.
func (s *Service) issueCRL(ctx context.Context) ([]byte, error) {
	a, err := s.ca(ctx)
	if err != nil {
		return nil, err
	}
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	var entries []x509.RevocationListEntry
	err = revokedCredentials(ctx, s.DB, func(serial string, at time.Time, reason string) error {
		b, err := hex.DecodeString(serial)
		if err != nil {
			return err
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber: new(big.Int).SetBytes(b), RevocationTime: at, ReasonCode: revocationReasons[reason],
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC().Truncate(time.Second)
	var number int64
	var der []byte
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if number, err = nextCRLNumber(ctx, tx); err != nil {
			return err
		}
		der, err = x509.CreateRevocationList(s.Rand, &x509.RevocationList{
			Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(s.cfg.CRLValidity),
			RevokedCertificateEntries: entries,
			SignatureAlgorithm:        signatureAlgorithmFor(a.issuingKey.Public()),
		}, a.issuing, a.issuingKey)
		if err != nil {
			return fmt.Errorf("sign CRL: %w", err)
		}
		return putCRL(ctx, tx, number, der, now, now.Add(s.cfg.CRLValidity))
	})
	if err != nil {
		return nil, err
	}
	return der, nil
}

// currentCRL returns the latest CRL, issuing one when there is none or it
// is older than crl-refresh.
func (s *Service) currentCRL(ctx context.Context) ([]byte, error) {
	der, thisUpdate, err := latestCRL(ctx, s.DB)
	if err == nil && s.Now().Sub(thisUpdate) < s.cfg.CRLRefresh {
		return der, nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	return s.issueCRL(ctx)
}

// refreshCRLs re-issues the CRL on schedule, so relying parties never hold
// one past its nextUpdate. Before the PKI exists it only waits.
func (s *Service) refreshCRLs(ctx context.Context) error {
	interval := s.cfg.CRLRefresh / 4
	if interval < time.Second {
		interval = time.Second
	}
	pause.Every(ctx, interval, func(ctx context.Context) {
		if ok, err := pkiExists(ctx, s.DB); err != nil || !ok {
			return
		}
		if _, err := s.currentCRL(ctx); err != nil && ctx.Err() == nil {
			s.Logger.ErrorContext(ctx, "refresh CRL", "error", err)
		}
	})
	return nil
}

// ocspResponse answers a DER OCSPRequest (RFC 6960) for the issuing CA's
// certificates, signed by the delegated responder.
func (s *Service) ocspResponse(ctx context.Context, der []byte) ([]byte, error) {
	if len(der) == 0 || len(der) > 8<<10 {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	a, err := s.ca(ctx)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, nil
	}
	if !issuerMatches(req, a.issuing) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	st, err := s.statusOf(ctx, a, req.SerialNumber)
	if err != nil {
		s.Logger.ErrorContext(ctx, "ocsp status", "error", err)
		return ocsp.InternalErrorErrorResponse, nil
	}
	now := s.Now().UTC().Truncate(time.Second)
	tmpl := ocsp.Response{
		SerialNumber: req.SerialNumber,
		ThisUpdate:   now,
		NextUpdate:   now.Add(s.cfg.CRLRefresh),
		Certificate:  a.ocsp,
		IssuerHash:   req.HashAlgorithm,
	}
	switch {
	case !st.known:
		tmpl.Status = ocsp.Unknown
	case st.revoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, st.revokedAt, st.reason
	default:
		tmpl.Status = ocsp.Good
	}
	resp, err := ocsp.CreateResponse(a.issuing, a.ocsp, tmpl, a.ocspKey)
	if err != nil {
		s.Logger.ErrorContext(ctx, "ocsp sign", "error", err)
		return ocsp.InternalErrorErrorResponse, nil
	}
	return resp, nil
}

// issuerMatches checks the request's issuer name and key hashes.
func issuerMatches(req *ocsp.Request, issuer *x509.Certificate) bool {
	h := req.HashAlgorithm
	if h == 0 || !h.Available() {
		h = crypto.SHA1
	}
	nh := h.New()
	nh.Write(issuer.RawSubject)
	spki, err := subjectPublicKeyBits(issuer)
	if err != nil {
		return false
	}
	kh := h.New()
	kh.Write(spki)
	return bytes.Equal(nh.Sum(nil), req.IssuerNameHash) && bytes.Equal(kh.Sum(nil), req.IssuerKeyHash)
}

// subjectPublicKeyBits is the BIT STRING content of the certificate's key.
func subjectPublicKeyBits(c *x509.Certificate) ([]byte, error) {
	var info struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &info); err != nil {
		return nil, err
	}
	return info.Key.Bytes, nil
}
