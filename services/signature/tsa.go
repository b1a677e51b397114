package signature

import (
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/tamkeen/tamkeen/libs/store"
)

// RFC 3161 PKIStatus values and PKIFailureInfo bits.
const (
	tsaGranted  = 0
	tsaRejected = 2

	failBadAlg              = 0
	failBadRequest          = 2
	failBadDataFormat       = 5
	failUnacceptedPolicy    = 15
	failUnacceptedExtension = 16
	failSystemFailure       = 25
)

// maxTimestampQuery bounds a TimeStampReq; real ones are under 200 bytes.
const maxTimestampQuery = 8 << 10

// tsRequest is a parsed TimeStampReq (RFC 3161 section 2.4.1).
type tsRequest struct {
	hash       crypto.Hash
	hashed     []byte
	policy     asn1.ObjectIdentifier // nil when absent
	nonce      *big.Int              // nil when absent
	certReq    bool
	extensions bool
}

// tsRequestError is a request the TSA refuses with a failure bit.
type tsRequestError struct {
	failInfo int
	msg      string
}

func (e *tsRequestError) Error() string { return "time-stamp request: " + e.msg }

// parseTimestampRequest reads a DER TimeStampReq. Failures are
// *tsRequestError carrying the RFC 3161 failure bit.
func parseTimestampRequest(der []byte) (*tsRequest, error) {
	bad := func(bit int, msg string) (*tsRequest, error) { return nil, &tsRequestError{bit, msg} }
	if len(der) == 0 || len(der) > maxTimestampQuery {
		return bad(failBadDataFormat, "empty or too large")
	}
	in := cryptobyte.String(der)
	var req cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !in.Empty() {
		return bad(failBadDataFormat, "not one DER SEQUENCE")
	}
	var version int64
	if !req.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) || version != 1 {
		return bad(failBadRequest, "version must be 1")
	}
	var mi, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !req.ReadASN1(&mi, cbasn1.SEQUENCE) || !mi.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return bad(failBadDataFormat, "messageImprint")
	}
	if !alg.Empty() {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, cbasn1.NULL) || !alg.Empty() {
			return bad(failBadDataFormat, "hash algorithm parameters")
		}
	}
	r := &tsRequest{hash: hashFromOID(oid)}
	if r.hash == 0 {
		return bad(failBadAlg, "hash algorithm "+oid.String()+" is not SHA-256, SHA-384 or SHA-512")
	}
	var hashed cryptobyte.String
	if !mi.ReadASN1(&hashed, cbasn1.OCTET_STRING) || !mi.Empty() {
		return bad(failBadDataFormat, "hashedMessage")
	}
	if len(hashed) != r.hash.Size() {
		return bad(failBadDataFormat, fmt.Sprintf("hashedMessage is %d bytes, want %d", len(hashed), r.hash.Size()))
	}
	r.hashed = append([]byte{}, hashed...)
	if req.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		if !req.ReadASN1ObjectIdentifier(&r.policy) {
			return bad(failBadDataFormat, "reqPolicy")
		}
	}
	if req.PeekASN1Tag(cbasn1.INTEGER) {
		r.nonce = new(big.Int)
		if !req.ReadASN1Integer(r.nonce) {
			return bad(failBadDataFormat, "nonce")
		}
		if r.nonce.Sign() < 0 || r.nonce.BitLen() > 256 {
			return bad(failBadDataFormat, "nonce must be a non-negative integer of at most 256 bits")
		}
	}
	if req.PeekASN1Tag(cbasn1.BOOLEAN) {
		if !req.ReadASN1Boolean(&r.certReq) {
			return bad(failBadDataFormat, "certReq")
		}
	}
	if req.PeekASN1Tag(tagContext0Constructed) {
		var ext cryptobyte.String
		if !req.ReadASN1(&ext, tagContext0Constructed) {
			return bad(failBadDataFormat, "extensions")
		}
		r.extensions = !ext.Empty()
	}
	if !req.Empty() {
		return bad(failBadDataFormat, "trailing fields")
	}
	return r, nil
}

// tsaIssuer makes time-stamp tokens.
type tsaIssuer struct {
	cert     *x509.Certificate
	chain    []*x509.Certificate // issuing CA
	key      crypto.Signer
	policy   asn1.ObjectIdentifier
	accuracy time.Duration
	serials  *serialAllocator
}

// token makes a TimeStampToken (a SignedData over TSTInfo) for a digest.
func (t *tsaIssuer) token(ctx context.Context, now time.Time, h crypto.Hash, hashed []byte, nonce *big.Int, certReq bool) ([]byte, *big.Int, error) {
	serial, err := t.serials.next(ctx)
	if err != nil {
		return nil, nil, err
	}
	genTime := now.UTC().Truncate(time.Millisecond)
	tst, err := t.tstInfo(h, hashed, serial, genTime, nonce)
	if err != nil {
		return nil, nil, err
	}
	sh := hashForKey(t.key.Public())
	d := sh.New()
	d.Write(tst)
	der, _, err := signCMS(cmsSigner{
		cert: t.cert, extra: t.chain, key: t.key, hash: sh, digest: d.Sum(nil),
		contentType: oidTSTInfo, content: tst, noCerts: !certReq,
	})
	if err != nil {
		return nil, nil, err
	}
	return der, serial, nil
}

// tstInfo encodes TSTInfo (RFC 3161 section 2.4.2).
func (t *tsaIssuer) tstInfo(h crypto.Hash, hashed []byte, serial *big.Int, genTime time.Time, nonce *big.Int) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(1)
		b.AddASN1ObjectIdentifier(t.policy)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			algorithmIdentifier(b, hashOID(h), false)
			b.AddASN1OctetString(hashed)
		})
		b.AddASN1BigInt(serial)
		// GeneralizedTime with milliseconds, trailing zeros dropped (DER).
		b.AddASN1(cbasn1.GeneralizedTime, func(b *cryptobyte.Builder) {
			b.AddBytes([]byte(genTime.Format("20060102150405.999Z")))
		})
		if t.accuracy > 0 {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				secs := int64(t.accuracy / time.Second)
				ms := int64((t.accuracy % time.Second) / time.Millisecond)
				if secs > 0 {
					b.AddASN1Int64(secs)
				}
				if ms > 0 {
					b.AddASN1Int64WithTag(ms, cbasn1.Tag(0).ContextSpecific())
				}
			})
		}
		if nonce != nil {
			b.AddASN1BigInt(nonce)
		}
		b.AddASN1(tagContext0Constructed, func(b *cryptobyte.Builder) { // tsa GeneralName
			b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
				b.AddBytes(t.cert.RawSubject)
			})
		})
	})
	return b.Bytes()
}

// timestampReply builds a DER TimeStampResp: granted with a token, or a
// rejection with the failure bit.
func timestampReply(status, failInfo int, text string, token []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // PKIStatusInfo
			b.AddASN1Int64(int64(status))
			if text != "" {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(text)) })
				})
			}
			if status != tsaGranted {
				bits := asn1.BitString{Bytes: make([]byte, failInfo/8+1), BitLength: failInfo + 1}
				bits.Bytes[failInfo/8] |= 0x80 >> (failInfo % 8)
				b.AddBytes(derOf(bits))
			}
		})
		if token != nil {
			b.AddBytes(token)
		}
	})
	out, err := b.Bytes()
	if err != nil {
		return nil
	}
	return out
}

// serialAllocator hands out TSA serial numbers that never repeat, across
// restarts and replicas: each replica reserves a block from the database
// counter and numbers from it in memory.
type serialAllocator struct {
	db    *store.DB
	name  string
	block int64

	mu        sync.Mutex
	next_, hi int64
}

// next returns a fresh serial number.
func (a *serialAllocator) next(ctx context.Context) (*big.Int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next_ >= a.hi {
		var top int64
		err := a.db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			top, err = addToCounter(ctx, tx, a.name, a.block)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reserve %s block: %w", a.name, err)
		}
		a.next_, a.hi = top-a.block+1, top+1
	}
	n := a.next_
	a.next_++
	return big.NewInt(n), nil
}
