package signature

import (
	"crypto"
	"testing"
)

// FuzzTimestampRequest: no input crashes the RFC 3161 parser, and what it
// accepts is a well-formed request.
func FuzzTimestampRequest(f *testing.F) {
	// openssl ts -query -sha256 -cert, with and without a nonce.
	f.Add([]byte("0@\x02\x01\x010/0\x0b\x06\t`\x86H\x01e\x03\x04\x02\x01\x04 " + string(make([]byte, 32)) + "\x02\x08\x01\x02\x03\x04\x05\x06\x07\x08\x01\x01\xff"))
	f.Add([]byte("05\x02\x01\x010/0\x0b\x06\t`\x86H\x01e\x03\x04\x02\x01\x04 " + string(make([]byte, 32))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := parseTimestampRequest(der)
		if err != nil {
			if _, ok := err.(*tsRequestError); !ok {
				t.Fatalf("error %T is not a *tsRequestError", err)
			}
			return
		}
		if r.hash == 0 || len(r.hashed) != r.hash.Size() {
			t.Fatalf("accepted a request with hash %v and %d bytes", r.hash, len(r.hashed))
		}
		if r.nonce != nil && r.nonce.Sign() < 0 {
			t.Fatal("accepted a negative nonce")
		}
	})
}

// FuzzSignInput: the document/hash checks never crash, and an accepted
// request yields a digest of the algorithm's size.
func FuzzSignInput(f *testing.F) {
	f.Add([]byte("%PDF-1.4 x"), []byte{}, "sha256", "pades")
	f.Add([]byte{}, make([]byte, 32), "", "cades")
	f.Add([]byte("doc"), make([]byte, 48), "sha384", "cades")
	f.Fuzz(func(t *testing.T, doc, hash []byte, alg, format string) {
		h, digest, err := signInput(SignRequest{CredentialID: "cred_x", SAD: "sad_x.y", Document: doc, Hash: hash, HashAlgorithm: alg, Format: format})
		if err != nil {
			return
		}
		if h != crypto.SHA256 && h != crypto.SHA384 && h != crypto.SHA512 || len(digest) != h.Size() {
			t.Fatalf("accepted with hash %v and a %d-byte digest", h, len(digest))
		}
	})
}

// FuzzPDFSignature: extracting the signature of an uploaded PDF never
// crashes and never returns ranges outside the file.
func FuzzPDFSignature(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n/ByteRange [0 10 20 5] /Contents <3003020100>"))
	f.Add(minimalPDF("x"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := extractPDFSignature(doc)
		if err != nil {
			return
		}
		if s.byteRange[2]+s.byteRange[3] > len(doc) || s.contentsEnd > len(doc) {
			t.Fatal("range outside the file")
		}
		_ = s.signedBytes(doc)
		_, _ = parseCMS(s.cms)
	})
}

// FuzzParseCMS: the CMS reader never crashes on what relying parties send.
func FuzzParseCMS(f *testing.F) {
	f.Add([]byte("0\x03\x02\x01\x00"))
	f.Fuzz(func(t *testing.T, der []byte) {
		p, err := parseCMS(der)
		if err != nil {
			return
		}
		if len(p.signers) == 0 {
			t.Fatal("accepted a SignedData without signers")
		}
		_, _ = p.signers[0].messageDigest()
	})
}
