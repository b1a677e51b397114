package signature

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file writes and reads CMS SignedData (RFC 5652) with exactly the
// attributes CAdES (ETSI EN 319 122-1) and RFC 3161 need. It is written
// here rather than taken from a pkcs7 library because none of those at a
// version that builds here adds signing-certificate-v2 and signs a digest
// computed elsewhere (remote signing gets only the hash).

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidAttrSigningCertV2   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidAttrTimeStampToken  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	tagContext0Constructed = cbasn1.Tag(0).ContextSpecific().Constructed()
	tagContext1Constructed = cbasn1.Tag(1).ContextSpecific().Constructed()
)

// ErrMalformedCMS is wrapped by every parse failure of a CMS structure.
var ErrMalformedCMS = errors.New("malformed CMS signature")

// cmsSigner describes one SignedData to make.
type cmsSigner struct {
	cert   *x509.Certificate
	extra  []*x509.Certificate // more certificates to embed (the chain)
	key    crypto.Signer
	hash   crypto.Hash
	digest []byte // of the content, made with hash
	// contentType is id-data for documents, id-ct-TSTInfo for tokens.
	contentType asn1.ObjectIdentifier
	// content is embedded when non-nil (time-stamp tokens); documents are
	// detached.
	content []byte
	// signingTime is added as an attribute unless zero.
	signingTime time.Time
	// noCerts leaves the certificates out (a TSA asked without certReq).
	noCerts bool
	// rand feeds ECDSA signing; nil means crypto/rand.
	rand interface{ Read([]byte) (int, error) }
}

// attribute is one signed or unsigned attribute: its type and the DER of
// its single value.
type attribute struct {
	oid   asn1.ObjectIdentifier
	value []byte
}

// encodeAttributes returns the DER of SET OF Attribute, sorted as DER wants.
func encodeAttributes(attrs []attribute) ([]byte, error) {
	enc := make([][]byte, 0, len(attrs))
	for _, a := range attrs {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(a.oid)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(a.value) })
		})
		der, err := b.Bytes()
		if err != nil {
			return nil, err
		}
		enc = append(enc, der)
	}
	sort.Slice(enc, func(i, j int) bool { return bytes.Compare(enc[i], enc[j]) < 0 })
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, e := range enc {
			b.AddBytes(e)
		}
	})
	return b.Bytes()
}

// derOf marshals v with encoding/asn1 (for small values).
func derOf(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		// Only fixed-shape values reach here; failing means a programming error.
		return nil
	}
	return b
}

// signingCertificateV2 is the DER of SigningCertificateV2 (RFC 5035) for
// cert: one ESSCertIDv2 with its SHA-256 hash (the default algorithm, so
// omitted) and its issuer and serial number.
func signingCertificateV2(cert *x509.Certificate) ([]byte, error) {
	sum := sha256.Sum256(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				b.AddASN1OctetString(sum[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
						b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	return b.Bytes()
}

// algorithmIdentifier writes SEQUENCE { oid [NULL] }.
func algorithmIdentifier(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		if null {
			b.AddASN1NULL()
		}
	})
}

// signCMS makes a SignedData ContentInfo. It returns the DER and the
// signature value (what a signature time-stamp covers).
func signCMS(p cmsSigner) (der, sigValue []byte, err error) {
	if p.cert == nil || p.key == nil || len(p.digest) != p.hash.Size() {
		return nil, nil, errors.New("cms: signer, certificate and a digest of the right size are required")
	}
	sigAlg, sigNull, err := signatureAlgorithm(p.cert.PublicKey, p.hash)
	if err != nil {
		return nil, nil, err
	}
	ct := p.contentType
	if ct == nil {
		ct = oidData
	}
	scv2, err := signingCertificateV2(p.cert)
	if err != nil {
		return nil, nil, err
	}
	attrs := []attribute{
		{oidAttrContentType, derOf(ct)},
		{oidAttrMessageDigest, derOf(p.digest)},
		{oidAttrSigningCertV2, scv2},
	}
	if !p.signingTime.IsZero() {
		attrs = append(attrs, attribute{oidAttrSigningTime, derOf(p.signingTime.UTC())})
	}
	signedAttrs, err := encodeAttributes(attrs)
	if err != nil {
		return nil, nil, err
	}
	h := p.hash.New()
	h.Write(signedAttrs)
	r := p.rand
	if r == nil {
		r = rand.Reader
	}
	sigValue, err = p.key.Sign(r, h.Sum(nil), p.hash)
	if err != nil {
		return nil, nil, fmt.Errorf("cms: sign: %w", err)
	}
	// The SET's tag becomes [0] IMPLICIT inside SignerInfo.
	implicitAttrs := append([]byte{0xa0}, signedAttrs[1:]...)

	version := int64(1)
	if !ct.Equal(oidData) {
		version = 3
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					algorithmIdentifier(b, hashOID(p.hash), false)
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(ct)
					if p.content != nil {
						b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(p.content)
						})
					}
				})
				if !p.noCerts {
					b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) {
						b.AddBytes(p.cert.Raw)
						for _, c := range p.extra {
							b.AddBytes(c.Raw)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // SignerInfos
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(p.cert.RawIssuer)
							b.AddASN1BigInt(p.cert.SerialNumber)
						})
						algorithmIdentifier(b, hashOID(p.hash), false)
						b.AddBytes(implicitAttrs)
						algorithmIdentifier(b, sigAlg, sigNull)
						b.AddASN1OctetString(sigValue)
					})
				})
			})
		})
	})
	der, err = b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return der, sigValue, nil
}

// parsedCMS is a SignedData read back with the raw bytes needed to verify
// it and to add unsigned attributes without touching what is signed.
type parsedCMS struct {
	version      []byte // raw INTEGER element
	digestAlgs   []byte // raw SET element
	encap        []byte // raw EncapsulatedContentInfo element
	contentType  asn1.ObjectIdentifier
	content      []byte // nil when detached
	certsRaw     []byte // raw [0] element, nil when absent
	crlsRaw      []byte // raw [1] element, nil when absent
	certificates []*x509.Certificate
	signers      []parsedSignerInfo
}

// parsedSignerInfo is one SignerInfo.
type parsedSignerInfo struct {
	head          []byte // raw version, sid, digestAlgorithm
	issuer        []byte // raw issuer Name of the sid
	serial        *big.Int
	hash          crypto.Hash
	signedAttrs   []byte // raw [0] element (tag 0xa0)
	sigAlgRaw     []byte
	sigAlg        asn1.ObjectIdentifier
	signature     []byte
	unsignedAttrs []byte // raw [1] element, nil when absent
	attrs         map[string][]byte
	unsigned      map[string][]byte
}

// readElement reads one element of any tag and returns it whole.
func readElement(s *cryptobyte.String) ([]byte, cbasn1.Tag, bool) {
	var el cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1Element(&el, &tag) {
		return nil, 0, false
	}
	return el, tag, true
}

// parseCMS reads a DER ContentInfo holding SignedData.
func parseCMS(der []byte) (*parsedCMS, error) {
	bad := func(what string) (*parsedCMS, error) { return nil, fmt.Errorf("%w: %s", ErrMalformedCMS, what) }
	in := cryptobyte.String(der)
	var ci, sd cryptobyte.String
	var ctype asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ctype) {
		return bad("not a ContentInfo")
	}
	if !ctype.Equal(oidSignedData) {
		return bad("content is not SignedData")
	}
	var explicit cryptobyte.String
	if !ci.ReadASN1(&explicit, tagContext0Constructed) || !explicit.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return bad("no SignedData")
	}
	p := &parsedCMS{}
	var ok bool
	if p.version, _, ok = readElement(&sd); !ok {
		return bad("version")
	}
	if p.digestAlgs, _, ok = readElement(&sd); !ok {
		return bad("digest algorithms")
	}
	if p.encap, _, ok = readElement(&sd); !ok {
		return bad("encapsulated content")
	}
	encap := cryptobyte.String(p.encap)
	var encapBody cryptobyte.String
	if !encap.ReadASN1(&encapBody, cbasn1.SEQUENCE) || !encapBody.ReadASN1ObjectIdentifier(&p.contentType) {
		return bad("encapsulated content type")
	}
	if encapBody.PeekASN1Tag(tagContext0Constructed) {
		var ex, oct cryptobyte.String
		if !encapBody.ReadASN1(&ex, tagContext0Constructed) || !ex.ReadASN1(&oct, cbasn1.OCTET_STRING) {
			return bad("encapsulated content")
		}
		p.content = append([]byte{}, oct...)
	}
	if sd.PeekASN1Tag(tagContext0Constructed) {
		el, _, _ := readElement(&sd)
		p.certsRaw = el
		var body cryptobyte.String
		s := cryptobyte.String(el)
		s.ReadASN1(&body, tagContext0Constructed)
		for !body.Empty() {
			var cert cryptobyte.String
			var tag cbasn1.Tag
			if !body.ReadAnyASN1Element(&cert, &tag) {
				return bad("certificates")
			}
			if tag != cbasn1.SEQUENCE {
				continue // attribute or other certificate formats: not ours
			}
			c, err := x509.ParseCertificate(cert)
			if err != nil {
				return bad("certificate: " + err.Error())
			}
			p.certificates = append(p.certificates, c)
		}
	}
	if sd.PeekASN1Tag(tagContext1Constructed) {
		p.crlsRaw, _, _ = readElement(&sd)
	}
	var sis cryptobyte.String
	if !sd.ReadASN1(&sis, cbasn1.SET) || !sd.Empty() {
		return bad("signer infos")
	}
	for !sis.Empty() {
		var si cryptobyte.String
		if !sis.ReadASN1(&si, cbasn1.SEQUENCE) {
			return bad("signer info")
		}
		psi, err := parseSignerInfo(si)
		if err != nil {
			return nil, err
		}
		p.signers = append(p.signers, psi)
	}
	if len(p.signers) == 0 {
		return bad("no signer")
	}
	return p, nil
}

func parseSignerInfo(si cryptobyte.String) (parsedSignerInfo, error) {
	bad := func(what string) (parsedSignerInfo, error) {
		return parsedSignerInfo{}, fmt.Errorf("%w: signer info: %s", ErrMalformedCMS, what)
	}
	start := []byte(si)
	var p parsedSignerInfo
	var version int64
	if !si.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) {
		return bad("version")
	}
	var sid cryptobyte.String
	if !si.ReadASN1(&sid, cbasn1.SEQUENCE) {
		return bad("only issuerAndSerialNumber signer identifiers are supported")
	}
	issuer, _, ok := readElement(&sid)
	p.serial = new(big.Int)
	if !ok || !sid.ReadASN1Integer(p.serial) {
		return bad("issuer and serial number")
	}
	p.issuer = issuer
	var dalg cryptobyte.String
	var doid asn1.ObjectIdentifier
	if !si.ReadASN1(&dalg, cbasn1.SEQUENCE) || !dalg.ReadASN1ObjectIdentifier(&doid) {
		return bad("digest algorithm")
	}
	if p.hash = hashFromOID(doid); p.hash == 0 {
		return bad("unsupported digest algorithm " + doid.String())
	}
	p.head = start[:len(start)-len(si)]
	if !si.PeekASN1Tag(tagContext0Constructed) {
		return bad("no signed attributes")
	}
	p.signedAttrs, _, _ = readElement(&si)
	attrs, err := parseAttributes(p.signedAttrs)
	if err != nil {
		return bad(err.Error())
	}
	p.attrs = attrs
	var salg cryptobyte.String
	p.sigAlgRaw, _, ok = readElement(&si)
	salg = cryptobyte.String(p.sigAlgRaw)
	var salgBody cryptobyte.String
	if !ok || !salg.ReadASN1(&salgBody, cbasn1.SEQUENCE) || !salgBody.ReadASN1ObjectIdentifier(&p.sigAlg) {
		return bad("signature algorithm")
	}
	var sig cryptobyte.String
	if !si.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return bad("signature value")
	}
	p.signature = append([]byte{}, sig...)
	if si.PeekASN1Tag(tagContext1Constructed) {
		p.unsignedAttrs, _, _ = readElement(&si)
		u, err := parseAttributes(p.unsignedAttrs)
		if err != nil {
			return bad(err.Error())
		}
		p.unsigned = u
	}
	if !si.Empty() {
		return bad("trailing data")
	}
	return p, nil
}

// parseAttributes reads an [0]/[1] IMPLICIT SET OF Attribute into a map
// from OID to the DER of the first value.
func parseAttributes(el []byte) (map[string][]byte, error) {
	s := cryptobyte.String(el)
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) {
		return nil, errors.New("attributes")
	}
	out := map[string][]byte{}
	for !body.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !body.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&values, cbasn1.SET) {
			return nil, errors.New("attribute")
		}
		v, _, ok := readElement(&values)
		if !ok {
			return nil, errors.New("attribute " + oid.String() + " has no value")
		}
		if _, dup := out[oid.String()]; dup {
			return nil, errors.New("attribute " + oid.String() + " repeated")
		}
		out[oid.String()] = v
	}
	return out, nil
}

// signedAttrsForVerify is the DER that was signed: the attributes with the
// SET tag instead of [0].
func (si parsedSignerInfo) signedAttrsForVerify() []byte {
	out := append([]byte{}, si.signedAttrs...)
	out[0] = 0x31
	return out
}

// messageDigest returns the messageDigest attribute.
func (si parsedSignerInfo) messageDigest() ([]byte, error) {
	v, ok := si.attrs[oidAttrMessageDigest.String()]
	if !ok {
		return nil, fmt.Errorf("%w: no messageDigest attribute", ErrMalformedCMS)
	}
	var d []byte
	if rest, err := asn1.Unmarshal(v, &d); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: messageDigest", ErrMalformedCMS)
	}
	return d, nil
}

// signingTime returns the signing-time attribute, if present.
func (si parsedSignerInfo) signingTime() (time.Time, bool) {
	v, ok := si.attrs[oidAttrSigningTime.String()]
	if !ok {
		return time.Time{}, false
	}
	var t time.Time
	if _, err := asn1.Unmarshal(v, &t); err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// findCert returns the certificate the signer info names.
func (p *parsedCMS) findCert(si parsedSignerInfo, extra ...*x509.Certificate) *x509.Certificate {
	for _, c := range append(append([]*x509.Certificate{}, p.certificates...), extra...) {
		if c.SerialNumber.Cmp(si.serial) == 0 && bytes.Equal(c.RawIssuer, si.issuer) {
			return c
		}
	}
	return nil
}

// verifySigner checks the signer info's signature with cert, and that the
// signing-certificate-v2 attribute, when present, names cert.
func verifySigner(si parsedSignerInfo, cert *x509.Certificate) error {
	h := si.hash.New()
	h.Write(si.signedAttrsForVerify())
	if err := verifySignature(cert.PublicKey, si.hash, h.Sum(nil), si.signature); err != nil {
		return err
	}
	if v, ok := si.attrs[oidAttrSigningCertV2.String()]; ok {
		if !signingCertV2Matches(v, cert) {
			return errors.New("signing-certificate-v2 does not name the signer's certificate")
		}
	}
	return nil
}

// signingCertV2Matches checks the first ESSCertIDv2's hash against cert.
func signingCertV2Matches(v []byte, cert *x509.Certificate) bool {
	s := cryptobyte.String(v)
	var scv2, certs, id cryptobyte.String
	if !s.ReadASN1(&scv2, cbasn1.SEQUENCE) || !scv2.ReadASN1(&certs, cbasn1.SEQUENCE) || !certs.ReadASN1(&id, cbasn1.SEQUENCE) {
		return false
	}
	h := crypto.SHA256
	if id.PeekASN1Tag(cbasn1.SEQUENCE) {
		var alg cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !id.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
			return false
		}
		if h = hashFromOID(oid); h == 0 {
			return false
		}
	}
	var sum cryptobyte.String
	if !id.ReadASN1(&sum, cbasn1.OCTET_STRING) {
		return false
	}
	hh := h.New()
	hh.Write(cert.Raw)
	return bytes.Equal(hh.Sum(nil), sum)
}

// withUnsignedAttribute returns the CMS with attr added to the first
// signer's unsigned attributes; what is signed is copied byte for byte.
func (p *parsedCMS) withUnsignedAttribute(attr attribute) ([]byte, error) {
	si := p.signers[0]
	var attrs []attribute
	if si.unsignedAttrs != nil {
		s := cryptobyte.String(si.unsignedAttrs)
		var body cryptobyte.String
		var tag cbasn1.Tag
		s.ReadAnyASN1(&body, &tag)
		for !body.Empty() {
			var a, values cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !body.ReadASN1(&a, cbasn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) || !a.ReadASN1(&values, cbasn1.SET) {
				return nil, fmt.Errorf("%w: unsigned attributes", ErrMalformedCMS)
			}
			attrs = append(attrs, attribute{oid, values})
		}
	}
	attrs = append(attrs, attr)
	set, err := encodeAttributes(attrs)
	if err != nil {
		return nil, err
	}
	unsigned := append([]byte{0xa1}, set[1:]...)

	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(p.version)
				b.AddBytes(p.digestAlgs)
				b.AddBytes(p.encap)
				b.AddBytes(p.certsRaw)
				b.AddBytes(p.crlsRaw)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for i, s := range p.signers {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(s.head)
							b.AddBytes(s.signedAttrs)
							b.AddBytes(s.sigAlgRaw)
							b.AddASN1OctetString(s.signature)
							if i == 0 {
								b.AddBytes(unsigned)
							} else if s.unsignedAttrs != nil {
								b.AddBytes(s.unsignedAttrs)
							}
						})
					}
				})
			})
		})
	})
	return b.Bytes()
}
