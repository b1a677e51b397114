package signature

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// pkiHTTP serves the raw PKI routes the way the gateway does (raw.go):
// HTTP bodies in, the gRPC methods called over the real connection.
func pkiHTTP(t *testing.T, h *harness) string {
	t.Helper()
	srv := httptest.NewServer(pkiHandler(func() signaturev1.SignatureServiceClient { return h.client }))
	t.Cleanup(srv.Close)
	return srv.URL
}

// pkiHandler is pkiHTTP's handler; client is called per request so that
// the server can start before the service (its URL goes into certificates).
func pkiHandler(client func() signaturev1.SignatureServiceClient) http.Handler {
	mux := http.NewServeMux()
	body := func(w http.ResponseWriter, r *http.Request) []byte {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return nil
		}
		return b
	}
	mux.HandleFunc("POST /tsa", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "want application/timestamp-query", http.StatusUnsupportedMediaType)
			return
		}
		resp, err := client().Timestamp(r.Context(), &signaturev1.TimestampRequest{Query: body(w, r)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp.Reply)
	})
	mux.HandleFunc("POST /v1/signing/ocsp", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client().CheckOcsp(r.Context(), &signaturev1.CheckOcspRequest{Request: body(w, r)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp.Response)
	})
	// RFC 6960 appendix A.1 GET form, which NSS (pdfsig) uses.
	mux.HandleFunc("GET /v1/signing/ocsp/{req...}", func(w http.ResponseWriter, r *http.Request) {
		der, err := base64.StdEncoding.DecodeString(r.PathValue("req"))
		if err != nil {
			http.Error(w, "bad base64", http.StatusBadRequest)
			return
		}
		resp, err := client().CheckOcsp(r.Context(), &signaturev1.CheckOcspRequest{Request: der})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp.Response)
	})
	mux.HandleFunc("GET /v1/signing/crl", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client().GetCrl(r.Context(), &signaturev1.GetCrlRequest{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(resp.Crl)
	})
	return mux
}

// TestTSAOverHTTP: openssl ts -query sent with curl gets a reply that
// openssl reads and verifies; nonces are echoed and serials never repeat.
func TestTSAOverHTTP(t *testing.T) {
	openssl := needTool(t, "openssl")
	curl := needTool(t, "curl")
	h := newHarness(t, nil, nil)
	root, _ := h.caFiles(t)
	base := pkiHTTP(t, h)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.WriteFile(data, []byte("minutes of the council meeting"), 0o600)

	serials := map[string]bool{}
	for i := range 3 {
		q, reply := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
		if out, err := run(t, openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", q); err != nil {
			t.Fatalf("openssl ts -query: %v\n%s", err, out)
		}
		if out, err := run(t, curl, "-sS", "-f", "-H", "Content-Type: application/timestamp-query", "--data-binary", "@"+q, "-o", reply, base+"/tsa"); err != nil {
			t.Fatalf("curl /tsa: %v\n%s", err, out)
		}
		text, err := run(t, openssl, "ts", "-reply", "-in", reply, "-text")
		if err != nil {
			t.Fatalf("openssl ts -reply -text: %v\n%s", err, text)
		}
		for _, want := range []string{"Status: Granted.", "Policy OID: 2.999.1.2", "Accuracy: 0x01 seconds", "Nonce: 0x"} {
			if !strings.Contains(text, want) {
				t.Errorf("reply %d lacks %q:\n%s", i, want, text)
			}
		}
		serial := lineAfter(text, "Serial number: ")
		if serial == "" || serials[serial] {
			t.Errorf("serial %q repeated or missing (seen %v)", serial, serials)
		}
		serials[serial] = true
		out, err := run(t, openssl, "ts", "-verify", "-queryfile", q, "-in", reply, "-CAfile", root)
		if err != nil || !strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
	}

	// A request for another policy is rejected with unacceptedPolicy.
	q, reply := filepath.Join(dir, "p.tsq"), filepath.Join(dir, "p.tsr")
	run(t, openssl, "ts", "-query", "-data", data, "-sha256", "-tspolicy", "1.2.3.4", "-out", q)
	run(t, curl, "-sS", "-f", "-H", "Content-Type: application/timestamp-query", "--data-binary", "@"+q, "-o", reply, base+"/tsa")
	if text, _ := run(t, openssl, "ts", "-reply", "-in", reply, "-text"); !strings.Contains(text, "Status: Rejected") || !strings.Contains(text, "policy is not supported") {
		t.Errorf("other policy: want a rejection with unaccepted policy:\n%s", text)
	}
}

func lineAfter(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), prefix); ok {
			return v
		}
	}
	return ""
}

// TestCRLAndOCSP: after a revocation, openssl verifies the CRL against the
// issuing CA and finds the serial in it; openssl ocsp answers revoked for
// it and good for another credential.
func TestCRLAndOCSP(t *testing.T) {
	openssl := needTool(t, "openssl")
	h := newHarness(t, nil, nil)
	root, chain := h.caFiles(t)
	base := pkiHTTP(t, h)
	dir := t.TempDir()

	revoked := h.newCredential(t, "cit_a", "")
	good := h.newCredential(t, "cit_b", "")
	tok := h.issuer.citizen(t, "cit_a", time.Minute, nil)
	if _, err := h.client.RevokeCredential(as(tok), &signaturev1.RevokeCredentialRequest{CredentialId: revoked.CredentialId, Reason: "key_compromise"}); err != nil {
		t.Fatal(err)
	}
	crl, err := h.client.GetCrl(context.Background(), &signaturev1.GetCrlRequest{})
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "crl.der")
	os.WriteFile(crlFile, crl.Crl, 0o600)
	a, _ := h.svc.ca(context.Background())
	issuing := filepath.Join(dir, "issuing.pem")
	writePEM(t, issuing, a.issuing.Raw)
	out, err := run(t, openssl, "crl", "-inform", "DER", "-in", crlFile, "-CAfile", issuing, "-noout", "-text")
	if err != nil || !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	serialUpper := strings.ToUpper(revoked.SerialNumber)
	if !strings.Contains(out, "Serial Number: "+serialUpper) || !strings.Contains(out, "Key Compromise") {
		t.Errorf("CRL lacks %s (key compromise):\n%s", serialUpper, out)
	}
	if strings.Contains(out, strings.ToUpper(good.SerialNumber)) {
		t.Errorf("CRL lists the good credential %s", good.SerialNumber)
	}

	for _, tc := range []struct {
		name string
		cred *signaturev1.Credential
		want string
	}{
		{"revoked", revoked, ": revoked"},
		{"good", good, ": good"},
	} {
		t.Run("ocsp "+tc.name, func(t *testing.T) {
			certFile := filepath.Join(dir, tc.name+".pem")
			os.WriteFile(certFile, []byte(tc.cred.CertificatePem), 0o600)
			out, err := run(t, openssl, "ocsp", "-issuer", issuing, "-cert", certFile, "-url", base+"/v1/signing/ocsp", "-CAfile", root, "-VAfile", chain, "-no_nonce")
			if err != nil || !strings.Contains(out, "Response verify OK") || !strings.Contains(out, tc.want) {
				t.Fatalf("openssl ocsp: %v\n%s", err, out)
			}
		})
	}
}
