package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Signature formats.
const (
	FormatCAdES = "cades"
	FormatPAdES = "pades"
)

// Level is the baseline level of what the enabler produces.
const levelBT = "B-T"

// SignRequest is one signing operation.
type SignRequest struct {
	CredentialID  string
	SAD           string
	Document      []byte
	Hash          []byte
	HashAlgorithm string
	Format        string
	DocumentName  string
}

// SignResult is a produced signature.
type SignResult struct {
	ID             string
	Format         string
	Signature      []byte // the .p7s for CAdES
	SignedDocument []byte // the PDF for PAdES
	SigningTime    time.Time
	Level          string
}

// documentTooLarge refuses a document (or signature) over MaxDocumentBytes.
func documentTooLarge() *rpcerr.FieldError {
	mib := strconv.Itoa(MaxDocumentBytes >> 20)
	return &rpcerr.FieldError{Field: "document", Reason: "is larger than " + mib + " MiB", Code: "document.too_large", Args: rpcerr.ArgList(mib)}
}

// hashLength refuses a hash of n bytes in field that is not of h's size.
func hashLength(field string, n int, h crypto.Hash) *rpcerr.FieldError {
	return &rpcerr.FieldError{Field: field, Reason: fmt.Sprintf("is %d bytes; a %s hash is %d", n, hashName(h), h.Size()),
		Code: rpcerr.FieldCode(field, "length"), Args: rpcerr.ArgList(strconv.Itoa(n), hashName(h), strconv.Itoa(h.Size()))}
}

// signInput checks a request and returns the digest the SAD must cover:
// the document's (CAdES with a document, and PAdES: the PDF as sent) or the
// given hash (CAdES without the document).
func signInput(req SignRequest) (crypto.Hash, []byte, error) {
	var errs []error
	h, err := hashByName(req.HashAlgorithm)
	if err != nil {
		errs = append(errs, &rpcerr.FieldError{Field: "hash_algorithm", Reason: `must be "sha256", "sha384" or "sha512"`, Code: "hash_algorithm.unsupported"})
	}
	switch req.Format {
	case FormatCAdES, FormatPAdES:
	default:
		errs = append(errs, &rpcerr.FieldError{Field: "format", Reason: `must be "cades" or "pades"`, Code: "format.unsupported"})
	}
	if len(req.Document) > MaxDocumentBytes {
		errs = append(errs, documentTooLarge())
	}
	if len(req.DocumentName) > 255 {
		errs = append(errs, &rpcerr.FieldError{Field: "document_name", Reason: "is longer than 255 bytes", Code: "document_name.too_many_bytes", Args: rpcerr.ArgList("255")})
	}
	if req.CredentialID == "" {
		errs = append(errs, &rpcerr.FieldError{Field: "credential_id", Reason: "required", Code: "credential_id.required"})
	}
	if req.SAD == "" {
		errs = append(errs, &rpcerr.FieldError{Field: "sad", Reason: "required", Code: "sad.required"})
	}
	if err := errors.Join(errs...); err != nil {
		return 0, nil, err
	}
	switch {
	case len(req.Document) > 0 && len(req.Hash) > 0:
		return 0, nil, &rpcerr.FieldError{Field: "hash", Reason: "give the document or its hash, not both", Code: "hash.with_document"}
	case req.Format == FormatPAdES && len(req.Document) == 0:
		return 0, nil, &rpcerr.FieldError{Field: "document", Reason: "PAdES needs the PDF document", Code: "document.pades_required"}
	case req.Format == FormatPAdES && !bytes.HasPrefix(req.Document, []byte("%PDF-")):
		return 0, nil, &rpcerr.FieldError{Field: "document", Reason: "is not a PDF (no %PDF- header)", Code: "document.not_pdf"}
	case len(req.Document) > 0:
		d := h.New()
		d.Write(req.Document)
		return h, d.Sum(nil), nil
	case len(req.Hash) == 0:
		return 0, nil, &rpcerr.FieldError{Field: "document", Reason: "give the document or its hash", Code: "document.required"}
	case len(req.Hash) != h.Size():
		return 0, nil, hashLength("hash", len(req.Hash), h)
	}
	return h, append([]byte{}, req.Hash...), nil
}

// signDocument signs what the SAD authorised.
func (s *Service) signDocument(ctx context.Context, p *principal, req SignRequest) (*SignResult, error) {
	h, digest, err := signInput(req)
	if err != nil {
		return nil, err
	}
	c, err := s.getCredential(ctx, p, req.CredentialID)
	if err != nil {
		return nil, err
	}
	if err := usable(c, s.Now()); err != nil {
		return nil, err
	}
	if err := s.consumeSAD(ctx, req.SAD, c.ID, p.owner(), hashName(h), digest); err != nil {
		return nil, err
	}
	key, err := s.credentialKey(c)
	if err != nil {
		return nil, err
	}
	a, err := s.ca(ctx)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC().Truncate(time.Second)
	res := &SignResult{Format: req.Format, SigningTime: now, Level: levelBT}
	switch req.Format {
	case FormatCAdES:
		res.Signature, err = s.cadesBT(ctx, c.Certificate, a.issuing, key, h, digest, now)
	case FormatPAdES:
		res.SignedDocument, err = s.padesBT(ctx, c, a, key, req.Document, now)
	}
	if err != nil {
		return nil, err
	}
	if res.ID, err = store.NewIDFrom(s.Rand, "sig_"); err != nil {
		return nil, err
	}
	clientID := ""
	if !p.isCitizen() {
		clientID = p.clientID
	}
	signed := &eventsv1.DocumentSigned{
		SignatureId: res.ID, CredentialId: c.ID, CitizenId: p.citizenID, ClientId: clientID, Format: req.Format, Time: timestamppb.New(now),
	}
	err = s.writeWithEvent(ctx, "created", res.ID, signed, func(tx *sql.Tx) error {
		return insertSignature(ctx, tx, res.ID, c.ID, p.owner(), req.Format, hashName(h), hex.EncodeToString(digest), req.DocumentName, now)
	})
	if err != nil {
		return nil, err
	}
	s.metrics.signed(req.Format, p)
	return res, nil
}

// credentialKey opens a credential's sealed private key.
func (s *Service) credentialKey(c *Credential) (crypto.Signer, error) {
	der, err := s.seal.open(c.sealedKey, "credential/"+c.ID)
	if err != nil {
		return nil, err
	}
	return parsePrivateKey(der)
}

// cadesBT makes a detached CAdES-B-T signature: SignedData with
// content-type, message-digest, signing-time and signing-certificate-v2
// signed attributes, the signer's chain, and a signature time-stamp from
// the enabler's own TSA as an unsigned attribute.
func (s *Service) cadesBT(ctx context.Context, cert, issuing *x509.Certificate, key crypto.Signer, h crypto.Hash, digest []byte, now time.Time) ([]byte, error) {
	der, sigValue, err := signCMS(cmsSigner{
		cert: cert, extra: []*x509.Certificate{issuing}, key: key, hash: h, digest: digest, signingTime: now, rand: s.Rand,
	})
	if err != nil {
		return nil, err
	}
	return s.addSignatureTimestamp(ctx, der, sigValue)
}

// addSignatureTimestamp time-stamps the signature value and adds the token
// as the signature-time-stamp unsigned attribute.
func (s *Service) addSignatureTimestamp(ctx context.Context, der, sigValue []byte) ([]byte, error) {
	tsa, err := s.tsa(ctx)
	if err != nil {
		return nil, err
	}
	sum := crypto.SHA256.New()
	sum.Write(sigValue)
	token, _, err := tsa.token(ctx, s.Now(), crypto.SHA256, sum.Sum(nil), nil, true)
	if err != nil {
		return nil, fmt.Errorf("signature time-stamp: %w", err)
	}
	s.metrics.timestamps.WithLabelValues(tsUseSignature).Inc()
	p, err := parseCMS(der)
	if err != nil {
		return nil, err
	}
	return p.withUnsignedAttribute(attribute{oid: oidAttrTimeStampToken, value: token})
}

// timestamp answers an RFC 3161 query with a DER TimeStampResp; a bad
// query gets a rejection reply, not an error.
func (s *Service) timestamp(ctx context.Context, query []byte) ([]byte, error) {
	req, err := parseTimestampRequest(query)
	if err != nil {
		var re *tsRequestError
		if errors.As(err, &re) {
			return timestampReply(tsaRejected, re.failInfo, re.msg, nil), nil
		}
		return nil, err
	}
	tsa, err := s.tsa(ctx)
	if err != nil {
		return nil, err
	}
	if req.policy != nil && !req.policy.Equal(tsa.policy) {
		return timestampReply(tsaRejected, failUnacceptedPolicy, "the TSA's policy is "+tsa.policy.String(), nil), nil
	}
	if req.extensions {
		return timestampReply(tsaRejected, failUnacceptedExtension, "no extensions are supported", nil), nil
	}
	token, _, err := tsa.token(ctx, s.Now(), req.hash, req.hashed, req.nonce, req.certReq)
	if err != nil {
		s.Logger.ErrorContext(ctx, "time-stamp", "error", err)
		return timestampReply(tsaRejected, failSystemFailure, "time-stamp not available", nil), nil
	}
	s.metrics.timestamps.WithLabelValues(tsUseRequest).Inc()
	return timestampReply(tsaGranted, 0, "", token), nil
}
