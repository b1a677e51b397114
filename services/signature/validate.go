package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// ETSI EN 319 102-1 indications and the sub-indications the enabler uses.
const (
	IndicationPassed        = "TOTAL_PASSED"
	IndicationIndeterminate = "INDETERMINATE"
	IndicationFailed        = "TOTAL_FAILED"

	SubFormatFailure           = "FORMAT_FAILURE"
	SubHashFailure             = "HASH_FAILURE"
	SubSigCryptoFailure        = "SIG_CRYPTO_FAILURE"
	SubRevoked                 = "REVOKED"
	SubRevokedNoPOE            = "REVOKED_NO_POE"
	SubNoSigningCertificate    = "NO_SIGNING_CERTIFICATE_FOUND"
	SubNoCertificateChainFound = "NO_CERTIFICATE_CHAIN_FOUND"
	SubSignedDataNotFound      = "SIGNED_DATA_NOT_FOUND"
	SubOutOfBoundsNoPOE        = "OUT_OF_BOUNDS_NO_POE"
)

// Check names of a report.
const (
	checkFormat     = "format"
	checkDigest     = "digest"
	checkSignature  = "signature"
	checkTimestamp  = "timestamp"
	checkChain      = "chain"
	checkRevocation = "revocation"
)

// Report is a validation report.
type Report struct {
	Indication       string
	SubIndication    string
	Format           string
	Level            string
	SignerSubject    string
	SignerSerial     string
	SigningTime      time.Time // claimed (signing-time attribute)
	TimestampTime    time.Time // proven (signature time-stamp)
	Chain            []string
	RevocationStatus string
	RevokedAt        time.Time
	Checks           []Check
}

// Check is one step of a validation.
type Check struct {
	Name   string
	Passed bool
	Detail string
}

func (r *Report) check(name string, passed bool, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Passed: passed, Detail: detail})
}

// conclude sets the indication unless one is set already.
func (r *Report) conclude(ind, sub string) *Report {
	if r.Indication == "" {
		r.Indication, r.SubIndication = ind, sub
	}
	return r
}

// verifySignature validates a CAdES signature (with its detached document)
// or a PAdES PDF and reports the result; only malformed requests are errors.
func (s *Service) verifySignature(ctx context.Context, sig, doc []byte, format string) (*Report, error) {
	if len(sig) > MaxDocumentBytes || len(doc) > MaxDocumentBytes {
		return nil, documentTooLarge()
	}
	if format == "" {
		switch {
		case len(sig) == 0 && bytes.HasPrefix(doc, []byte("%PDF-")):
			format = FormatPAdES
		case bytes.HasPrefix(sig, []byte("%PDF-")):
			format, doc, sig = FormatPAdES, sig, nil
		default:
			format = FormatCAdES
		}
	}
	r := &Report{Format: format}
	var cmsDER, content []byte
	switch format {
	case FormatCAdES:
		if len(sig) == 0 {
			return nil, &rpcerr.FieldError{Field: "signature", Reason: "required (the .p7s)", Code: "signature.required"}
		}
		cmsDER, content = sig, doc
	case FormatPAdES:
		if len(doc) == 0 {
			doc = sig
		}
		if !bytes.HasPrefix(doc, []byte("%PDF-")) {
			return nil, &rpcerr.FieldError{Field: "document", Reason: "is not a PDF", Code: "document.not_pdf"}
		}
		ps, err := extractPDFSignature(doc)
		if err != nil {
			r.check(checkFormat, false, err.Error())
			return r.conclude(IndicationFailed, SubFormatFailure), nil
		}
		cmsDER, content = ps.cms, ps.signedBytes(doc)
		if ps.byteRange[2]+ps.byteRange[3] != len(doc) {
			r.check(checkFormat, true, "the signature does not cover the whole file: later incremental updates are not validated")
		}
	default:
		return nil, &rpcerr.FieldError{Field: "format", Reason: `must be "cades", "pades" or empty`, Code: "format.unsupported"}
	}
	a, err := s.ca(ctx)
	if err != nil {
		return nil, err
	}
	return s.validateCMS(ctx, a, r, cmsDER, content)
}

// validateCMS runs the checks on one CMS signature over content (nil when
// the caller sent no document).
func (s *Service) validateCMS(ctx context.Context, a *authority, r *Report, cmsDER, content []byte) (*Report, error) {
	p, err := parseCMS(cmsDER)
	if err != nil {
		r.check(checkFormat, false, err.Error())
		return r.conclude(IndicationFailed, SubFormatFailure), nil
	}
	si := p.signers[0]
	cert := p.findCert(si, a.issuing)
	if cert == nil {
		r.check(checkFormat, false, "the signer's certificate is not in the signature")
		return r.conclude(IndicationIndeterminate, SubNoSigningCertificate), nil
	}
	r.SignerSubject, r.SignerSerial = cert.Subject.String(), serialHex(cert)
	r.Level = "B-B"
	if t, ok := si.signingTime(); ok {
		r.SigningTime = t
	}
	r.check(checkFormat, true, "CMS SignedData")

	// Digest of the document against the message-digest attribute.
	md, err := si.messageDigest()
	switch {
	case err != nil:
		r.check(checkDigest, false, err.Error())
		r.conclude(IndicationFailed, SubFormatFailure)
	case content == nil && p.content == nil:
		r.check(checkDigest, false, "the signed document was not sent")
		r.conclude(IndicationIndeterminate, SubSignedDataNotFound)
	default:
		if content == nil {
			content = p.content
		}
		h := si.hash.New()
		h.Write(content)
		if bytes.Equal(h.Sum(nil), md) {
			r.check(checkDigest, true, "the document's "+hashName(si.hash)+" matches the signed message digest")
		} else {
			r.check(checkDigest, false, "the document does not match the signed message digest")
			r.conclude(IndicationFailed, SubHashFailure)
		}
	}

	if err := verifySigner(si, cert); err != nil {
		r.check(checkSignature, false, err.Error())
		r.conclude(IndicationFailed, SubSigCryptoFailure)
	} else {
		r.check(checkSignature, true, "the signature over the signed attributes verifies with the signer's key")
	}

	// Proof of existence: the signature time-stamp.
	var poe time.Time
	if tok, ok := si.unsigned[oidAttrTimeStampToken.String()]; ok {
		t, err := verifyTimestampToken(tok, si.signature, a)
		if err != nil {
			r.check(checkTimestamp, false, err.Error())
		} else {
			poe, r.TimestampTime, r.Level = t, t, levelBT
			r.check(checkTimestamp, true, "signature time-stamp by "+a.tsa.Subject.CommonName+" verifies")
		}
	} else {
		r.check(checkTimestamp, false, "no signature time-stamp")
	}
	at := poe
	if at.IsZero() {
		at = s.Now()
	}

	// Chain to the enabler's root at the time of proof (or now).
	inter := x509.NewCertPool()
	inter.AddCert(a.issuing)
	for _, c := range p.certificates {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: a.roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			r.check(checkChain, false, "the signer's certificate was not valid at "+at.Format(time.RFC3339))
			return r.conclude(IndicationIndeterminate, SubOutOfBoundsNoPOE), nil
		}
		r.check(checkChain, false, "no chain to the "+a.root.Subject.CommonName+": "+err.Error())
		return r.conclude(IndicationIndeterminate, SubNoCertificateChainFound), nil
	}
	for _, c := range chains[0] {
		r.Chain = append(r.Chain, c.Subject.String())
	}
	r.check(checkChain, true, "chains to "+a.root.Subject.CommonName)

	// Revocation at the time of proof.
	st, err := s.statusOf(ctx, a, cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	switch {
	case !st.known:
		r.RevocationStatus = "unknown"
		r.check(checkRevocation, false, "the CA has no record of the signer's certificate")
		r.conclude(IndicationIndeterminate, SubRevokedNoPOE)
	case !st.revoked:
		r.RevocationStatus = "good"
		r.check(checkRevocation, true, "not revoked")
	case !poe.IsZero() && poe.Before(st.revokedAt):
		r.RevocationStatus, r.RevokedAt = "good", st.revokedAt
		r.check(checkRevocation, true, "revoked at "+st.revokedAt.Format(time.RFC3339)+", after the time-stamp proves the signature existed")
	case !poe.IsZero():
		r.RevocationStatus, r.RevokedAt = "revoked", st.revokedAt
		r.check(checkRevocation, false, "revoked at "+st.revokedAt.Format(time.RFC3339)+", before the signature time-stamp")
		r.conclude(IndicationFailed, SubRevoked)
	default:
		r.RevocationStatus, r.RevokedAt = "revoked", st.revokedAt
		r.check(checkRevocation, false, "revoked, and no time-stamp proves the signature existed before")
		r.conclude(IndicationIndeterminate, SubRevokedNoPOE)
	}
	return r.conclude(IndicationPassed, ""), nil
}

// verifyTimestampToken checks an RFC 3161 token over the signature value:
// its CMS signature by a certificate with the timeStamping usage that
// chains to the root, and its message imprint. It returns genTime.
func verifyTimestampToken(token, sigValue []byte, a *authority) (time.Time, error) {
	p, err := parseCMS(token)
	if err != nil {
		return time.Time{}, err
	}
	if !p.contentType.Equal(oidTSTInfo) || p.content == nil {
		return time.Time{}, errors.New("the time-stamp token holds no TSTInfo")
	}
	si := p.signers[0]
	cert := p.findCert(si, a.tsa)
	if cert == nil {
		return time.Time{}, errors.New("the time-stamp's signer certificate is missing")
	}
	md, err := si.messageDigest()
	if err != nil {
		return time.Time{}, err
	}
	h := si.hash.New()
	h.Write(p.content)
	if !bytes.Equal(h.Sum(nil), md) {
		return time.Time{}, errors.New("the time-stamp's TSTInfo does not match its digest")
	}
	if err := verifySigner(si, cert); err != nil {
		return time.Time{}, fmt.Errorf("the time-stamp's signature: %w", err)
	}
	hashAlg, imprint, genTime, err := parseTSTInfo(p.content)
	if err != nil {
		return time.Time{}, err
	}
	ih := hashAlg.New()
	ih.Write(sigValue)
	if !bytes.Equal(ih.Sum(nil), imprint) {
		return time.Time{}, errors.New("the time-stamp is not over this signature")
	}
	inter := x509.NewCertPool()
	inter.AddCert(a.issuing)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.roots, Intermediates: inter, CurrentTime: genTime,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		return time.Time{}, fmt.Errorf("the TSA certificate: %w", err)
	}
	return genTime, nil
}

// parseTSTInfo reads the message imprint and genTime of a TSTInfo.
func parseTSTInfo(der []byte) (crypto.Hash, []byte, time.Time, error) {
	bad := errors.New("malformed TSTInfo")
	in := cryptobyte.String(der)
	var tst, mi, alg, imprint, gt cryptobyte.String
	var version int64
	var policy, hashAlg asn1.ObjectIdentifier
	serial := new(big.Int)
	if !in.ReadASN1(&tst, cbasn1.SEQUENCE) || !tst.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) ||
		!tst.ReadASN1ObjectIdentifier(&policy) || !tst.ReadASN1(&mi, cbasn1.SEQUENCE) ||
		!mi.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&hashAlg) ||
		!mi.ReadASN1(&imprint, cbasn1.OCTET_STRING) || !tst.ReadASN1Integer(serial) ||
		!tst.ReadASN1(&gt, cbasn1.GeneralizedTime) {
		return 0, nil, time.Time{}, bad
	}
	// Go's parser takes the fraction after the seconds without the layout
	// naming it.
	t, err := time.Parse("20060102150405Z0700", string(gt))
	if err != nil {
		return 0, nil, time.Time{}, bad
	}
	h := hashFromOID(hashAlg)
	if h == 0 {
		return 0, nil, time.Time{}, errors.New("the time-stamp uses an unsupported hash")
	}
	return h, []byte(imprint), t.UTC(), nil
}
