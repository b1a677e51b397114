package signature

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/digitorus/timestamp"
)

// BenchmarkCAdESBT measures CAdES-B-T signatures (CMS signing, our TSA's
// token, and adding it) without the SAD and database round trips.
func BenchmarkCAdESBT(b *testing.B) {
	for _, alg := range []string{AlgECDSAP256, AlgRSA3072} {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, nil, nil)
			ctx := context.Background()
			c := h.newCredential(b, "cit_bench", alg)
			cred, err := loadCredential(ctx, h.db, c.CredentialId)
			if err != nil {
				b.Fatal(err)
			}
			key, err := h.svc.credentialKey(cred)
			if err != nil {
				b.Fatal(err)
			}
			a, _ := h.svc.ca(ctx)
			digest := sha256Sum([]byte("benchmark document"))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.svc.cadesBT(ctx, cred.Certificate, a.issuing, key, crypto.SHA256, digest, h.clock.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTimestamp measures RFC 3161 replies to a DER query.
func BenchmarkTimestamp(b *testing.B) {
	h := newHarness(b, nil, nil)
	sum := sha256.Sum256([]byte("data"))
	q, err := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Certificates: true}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.svc.timestamp(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidate measures full validation reports of a CAdES-B-T
// signature (digest, signature, time-stamp, chain, revocation lookup).
func BenchmarkValidate(b *testing.B) {
	h := newHarness(b, nil, nil)
	doc := []byte("benchmark document")
	c := h.newCredential(b, "cit_bench", "")
	sig := h.sign(b, "cit_bench", c.CredentialId, doc, FormatCAdES)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := h.svc.verifySignature(ctx, sig.Signature, doc, FormatCAdES)
		if err != nil || r.Indication != IndicationPassed {
			b.Fatalf("%v %+v", err, r)
		}
	}
}
