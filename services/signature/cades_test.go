package signature

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCAdESVerifiedByOpenSSL: a produced .p7s passes openssl cms -verify
// with the root as the only trust anchor, a changed byte in the document
// fails it, and the embedded signature time-stamp passes openssl ts -verify.
func TestCAdESVerifiedByOpenSSL(t *testing.T) {
	openssl := needTool(t, "openssl")
	h := newHarness(t, nil, nil)
	root, _ := h.caFiles(t)
	doc := []byte("Permit 2024/117: the holder may open a bakery in Nablus.\n")

	for _, alg := range []string{AlgECDSAP256, AlgRSA3072} {
		t.Run(alg, func(t *testing.T) {
			cred := h.newCredential(t, "cit_"+strings.ReplaceAll(alg, "-", ""), alg)
			sig := h.sign(t, "cit_"+strings.ReplaceAll(alg, "-", ""), cred.CredentialId, doc, FormatCAdES)
			if sig.Level != "B-T" {
				t.Errorf("level %q; want B-T", sig.Level)
			}
			dir := t.TempDir()
			p7s, docFile, tampered := filepath.Join(dir, "sig.p7s"), filepath.Join(dir, "doc"), filepath.Join(dir, "tampered")
			os.WriteFile(p7s, sig.Signature, 0o600)
			os.WriteFile(docFile, doc, 0o600)
			bad := append([]byte{}, doc...)
			bad[0] ^= 0x01
			os.WriteFile(tampered, bad, 0o600)

			out, err := run(t, openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", docFile, "-CAfile", root, "-purpose", "any", "-out", os.DevNull)
			if err != nil || !strings.Contains(out, "CMS Verification successful") {
				t.Fatalf("openssl cms -verify: %v\n%s", err, out)
			}
			out, err = run(t, openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content", tampered, "-CAfile", root, "-purpose", "any", "-out", os.DevNull)
			if err == nil || strings.Contains(out, "CMS Verification successful") {
				t.Fatalf("openssl cms -verify accepted a tampered document:\n%s", out)
			}

			printed, err := run(t, openssl, "cms", "-cmsout", "-print", "-inform", "DER", "-in", p7s)
			if err != nil {
				t.Fatalf("openssl cms -print: %v\n%s", err, printed)
			}
			signedPart, unsignedPart, _ := strings.Cut(printed, "unsignedAttrs")
			for _, want := range []string{"id-smime-aa-signingCertificateV2", "signingTime", "messageDigest"} {
				if !strings.Contains(signedPart, want) {
					t.Errorf("signedAttrs lack %s", want)
				}
			}
			if !strings.Contains(unsignedPart, "id-smime-aa-timeStampToken") {
				t.Errorf("unsignedAttrs lack id-smime-aa-timeStampToken")
			}

			// The time-stamp covers the signature value.
			p, err := parseCMS(sig.Signature)
			if err != nil {
				t.Fatal(err)
			}
			token := p.signers[0].unsigned[oidAttrTimeStampToken.String()]
			tokFile, valFile := filepath.Join(dir, "token.der"), filepath.Join(dir, "sigvalue")
			os.WriteFile(tokFile, token, 0o600)
			os.WriteFile(valFile, p.signers[0].signature, 0o600)
			out, err = run(t, openssl, "ts", "-verify", "-data", valFile, "-in", tokFile, "-token_in", "-CAfile", root)
			if err != nil || !strings.Contains(out, "Verification: OK") {
				t.Fatalf("openssl ts -verify of the signature time-stamp: %v\n%s", err, out)
			}
			os.WriteFile(valFile, append(p.signers[0].signature, 0), 0o600)
			if out, err = run(t, openssl, "ts", "-verify", "-data", valFile, "-in", tokFile, "-token_in", "-CAfile", root); err == nil {
				t.Fatalf("openssl ts -verify accepted the token for other data:\n%s", out)
			}
		})
	}
}
