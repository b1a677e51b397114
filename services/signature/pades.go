package signature

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// timestampReserve is the room (in bytes, before hex) kept in the PDF's
// signature placeholder for the signature time-stamp added after signing.
const timestampReserve = 6 << 10

// padesBT signs a PDF with an approval signature (PAdES baseline B-B by
// digitorus/pdfsign: adbe.pkcs7.detached with signing-certificate-v2), then
// raises it to B-T by adding the enabler's signature time-stamp to the CMS
// inside the placeholder, which the byte range does not cover.
func (s *Service) padesBT(ctx context.Context, c *Credential, a *authority, key crypto.Signer, doc []byte, now time.Time) (out []byte, err error) {
	defer func() {
		// The PDF parser is outside code fed outside input.
		if r := recover(); r != nil {
			out, err = nil, &rpcerr.FieldError{Field: "document", Reason: "the PDF could not be parsed", Code: "document.unparsable"}
		}
	}()
	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, &rpcerr.FieldError{Field: "document", Reason: "the PDF could not be parsed", Code: "document.unparsable"}
	}
	var buf bytes.Buffer
	sc := &sign.SignContext{
		InputFile:  bytes.NewReader(doc),
		OutputFile: &buf,
		PDFReader:  rdr,
		SignData: sign.SignData{
			Signature: sign.SignDataSignature{
				CertType:   sign.ApprovalSignature,
				DocMDPPerm: sign.AllowFillingExistingFormFieldsAndSignaturesPerms,
				Info:       sign.SignDataSignatureInfo{Name: c.Certificate.Subject.CommonName, Date: now},
			},
			Signer:            key,
			DigestAlgorithm:   crypto.SHA256,
			Certificate:       c.Certificate,
			CertificateChains: [][]*x509.Certificate{{c.Certificate, a.issuing}},
		},
		SignatureMaxLengthBase: uint32(hex.EncodedLen(512 + timestampReserve)),
	}
	if err := sc.SignPDF(); err != nil {
		return nil, fmt.Errorf("pades: %w", err)
	}
	signed := buf.Bytes()
	sig, err := extractPDFSignature(signed)
	if err != nil {
		return nil, fmt.Errorf("pades: %w", err)
	}
	p, err := parseCMS(sig.cms)
	if err != nil {
		return nil, fmt.Errorf("pades: %w", err)
	}
	withTS, err := s.addSignatureTimestamp(ctx, sig.cms, p.signers[0].signature)
	if err != nil {
		return nil, err
	}
	enc := []byte(hex.EncodeToString(withTS))
	if len(enc) > sig.contentsEnd-sig.contentsStart {
		return nil, errors.New("pades: the time-stamped signature does not fit the placeholder")
	}
	copy(signed[sig.contentsStart:], enc)
	for i := sig.contentsStart + len(enc); i < sig.contentsEnd; i++ {
		signed[i] = '0'
	}
	return signed, nil
}

// pdfSignature is the last signature of a PDF: its byte range, the CMS
// and where the hex of /Contents sits.
type pdfSignature struct {
	byteRange                  [4]int
	cms                        []byte
	contentsStart, contentsEnd int // the hex digits between < and >
}

var byteRangePattern = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// errNoPDFSignature is returned when a PDF holds no signature.
var errNoPDFSignature = errors.New("the PDF holds no signature")

// extractPDFSignature finds the last /ByteRange of a PDF and the CMS in the
// gap it leaves. It checks the range against the file.
func extractPDFSignature(doc []byte) (*pdfSignature, error) {
	all := byteRangePattern.FindAllSubmatch(doc, -1)
	if len(all) == 0 {
		return nil, errNoPDFSignature
	}
	m := all[len(all)-1]
	var br [4]int
	for i := range br {
		n, err := strconv.Atoi(string(m[i+1]))
		if err != nil || n < 0 || n > len(doc) {
			return nil, errors.New("bad /ByteRange")
		}
		br[i] = n
	}
	if br[0] != 0 || br[1] >= br[2] || br[2]+br[3] > len(doc) || br[2]-br[1] < 2 {
		return nil, errors.New("/ByteRange does not fit the file")
	}
	if doc[br[1]] != '<' || doc[br[2]-1] != '>' {
		return nil, errors.New("/ByteRange gap is not the /Contents string")
	}
	start, end := br[1]+1, br[2]-1
	hexDigits := doc[start:end]
	// Trailing zero padding is not part of the DER.
	trimmed := bytes.TrimRight(hexDigits, "0")
	if len(trimmed)%2 == 1 {
		trimmed = hexDigits[:len(trimmed)+1]
	}
	raw := make([]byte, hex.DecodedLen(len(trimmed)))
	if _, err := hex.Decode(raw, trimmed); err != nil {
		return nil, errors.New("/Contents is not hex")
	}
	el, err := firstDERElement(raw, hexDigits)
	if err != nil {
		return nil, err
	}
	return &pdfSignature{byteRange: br, cms: el, contentsStart: start, contentsEnd: end}, nil
}

// firstDERElement returns the first DER element of raw; if trimming the
// zero padding cut into it, it re-decodes from the full hex.
func firstDERElement(raw, fullHex []byte) ([]byte, error) {
	n, ok := derLength(raw)
	if !ok || n > len(raw) {
		full := make([]byte, hex.DecodedLen(len(fullHex)))
		if _, err := hex.Decode(full, fullHex[:len(fullHex)&^1]); err != nil {
			return nil, errors.New("/Contents is not hex")
		}
		n, ok = derLength(full)
		if !ok || n > len(full) {
			return nil, errors.New("/Contents is not a DER signature")
		}
		raw = full
	}
	return raw[:n], nil
}

// derLength is the total length of the DER element at the start of b.
func derLength(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	l := int(b[1])
	if l < 0x80 {
		return 2 + l, true
	}
	n := l & 0x7f
	if n == 0 || n > 4 || len(b) < 2+n {
		return 0, false
	}
	l = 0
	for _, c := range b[2 : 2+n] {
		l = l<<8 | int(c)
	}
	return 2 + n + l, l >= 0
}

// signedBytes is what the byte range covers.
func (p *pdfSignature) signedBytes(doc []byte) []byte {
	out := make([]byte, 0, p.byteRange[1]+p.byteRange[3])
	out = append(out, doc[p.byteRange[0]:p.byteRange[0]+p.byteRange[1]]...)
	return append(out, doc[p.byteRange[2]:p.byteRange[2]+p.byteRange[3]]...)
}
