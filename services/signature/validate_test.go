package signature

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// TestValidationReport covers the indications the issue names.
func TestValidationReport(t *testing.T) {
	h := newHarness(t, nil, nil)
	ctx := context.Background()
	doc := []byte("Birth certificate extract no. 88812")
	verify := func(t *testing.T, sig, d []byte) *signaturev1.ValidationReport {
		t.Helper()
		rp := as(h.issuer.client(t, "ministry-of-interior", "signatures:verify"))
		r, err := h.client.VerifySignature(rp, &signaturev1.VerifySignatureRequest{Signature: sig, Document: d})
		if err != nil {
			t.Fatalf("VerifySignature: %v", err)
		}
		return r
	}

	good := h.newCredential(t, "cit_ok", "")
	okSig := h.sign(t, "cit_ok", good.CredentialId, doc, FormatCAdES)

	// Signed, then revoked later: the time-stamp proves it came first.
	early := h.newCredential(t, "cit_early", "")
	earlySig := h.sign(t, "cit_early", early.CredentialId, doc, FormatCAdES)
	h.clock.Advance(time.Hour)
	if _, err := h.client.RevokeCredential(as(h.issuer.citizen(t, "cit_early", time.Minute, nil)),
		&signaturev1.RevokeCredentialRequest{CredentialId: early.CredentialId, Reason: "superseded"}); err != nil {
		t.Fatal(err)
	}

	// Revoked, then signed (the service refuses, so the test signs with the
	// key directly): the time-stamp proves it came after.
	late := h.newCredential(t, "cit_late", "")
	if _, err := h.client.RevokeCredential(as(h.issuer.citizen(t, "cit_late", time.Minute, nil)),
		&signaturev1.RevokeCredentialRequest{CredentialId: late.CredentialId, Reason: "key_compromise"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	lateCred, err := loadCredential(ctx, h.db, late.CredentialId)
	if err != nil {
		t.Fatal(err)
	}
	key, err := h.svc.credentialKey(lateCred)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.svc.ca(ctx)
	lateSig, err := h.svc.cadesBT(ctx, lateCred.Certificate, a.issuing, key, crypto.SHA256, sha256Sum(doc), h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}

	tampered := append([]byte{}, doc...)
	tampered[3] ^= 0x20

	strangerSig := signWithStrangerCA(t, doc)

	for _, tc := range []struct {
		name      string
		sig, doc  []byte
		ind, sub  string
		revStatus string
	}{
		{"untouched", okSig.Signature, doc, IndicationPassed, "", "good"},
		{"revoked after signing", earlySig.Signature, doc, IndicationPassed, "", "good"},
		{"signed after revocation", lateSig, doc, IndicationFailed, SubRevoked, "revoked"},
		{"tampered document", okSig.Signature, tampered, IndicationFailed, SubHashFailure, "good"},
		{"unknown CA", strangerSig, doc, IndicationIndeterminate, SubNoCertificateChainFound, ""},
		{"not a signature", []byte("garbage"), doc, IndicationFailed, SubFormatFailure, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(t, tc.sig, tc.doc)
			if r.Indication != tc.ind || r.SubIndication != tc.sub || r.RevocationStatus != tc.revStatus {
				t.Fatalf("got %s/%s revocation %q; want %s/%s revocation %q\nchecks: %v", r.Indication, r.SubIndication, r.RevocationStatus, tc.ind, tc.sub, tc.revStatus, r.Checks)
			}
		})
	}

	t.Run("report fields", func(t *testing.T) {
		r := verify(t, okSig.Signature, doc)
		if r.Level != "B-T" || r.SignerSubject == "" || r.SigningTime == nil || r.TimestampTime == nil || len(r.Chain) != 3 || r.Format != FormatCAdES {
			t.Fatalf("incomplete report: %+v", r)
		}
		if r.SignerSerialNumber != good.SerialNumber {
			t.Errorf("signer serial %s; want %s", r.SignerSerialNumber, good.SerialNumber)
		}
	})
}

// signWithStrangerCA signs doc with a certificate from a CA the enabler
// does not know.
func signWithStrangerCA(t *testing.T, doc []byte) []byte {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca, err := issueCert(rand.Reader, &x509.Certificate{Subject: pkix.Name{CommonName: "Stranger CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := issueCert(rand.Reader, &x509.Certificate{Subject: pkix.Name{CommonName: "Mallory"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(48 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	der, _, err := signCMS(cmsSigner{cert: cert, extra: []*x509.Certificate{ca}, key: key, hash: crypto.SHA256, digest: sha256Sum(doc), signingTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return der
}
