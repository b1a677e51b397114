package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// citizenAtLoa2 registers a citizen, verifies the phone, logs in as the
// demo client (secret: its secret; it holds auth:password-login) and steps
// up by SMS through the gateway, and returns the loa2 token.
func citizenAtLoa2(t *testing.T, base string, clock *clocktest.Clock, secret, first8, phone, password string) string {
	t.Helper()
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	seen := map[string]bool{}
	var reg struct {
		PhoneVerification struct {
			ChallengeID string `json:"challenge_id"`
		} `json:"phone_verification"`
	}
	id := nationalID(first8)
	if resp, raw := call("POST", "/v1/citizens", "", map[string]string{
		"national_id": id, "phone_number": phone, "password": password, "given_name": "Layla", "family_name": "Haddad",
	}).do(&reg); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d %s", resp.StatusCode, raw)
	}
	code := latestCode(t, base, phone, seen)
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+reg.PhoneVerification.ChallengeID+":verify", "",
		map[string]string{"code": code}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("phone verification = %d %s", resp.StatusCode, raw)
	}
	var login tokenResponse
	if resp, raw := call("POST", "/v1/auth/login", clientToken(t, base, secret), map[string]string{"national_id": id, "password": password}).do(&login); resp.StatusCode != http.StatusOK {
		t.Fatalf("login = %d %s", resp.StatusCode, raw)
	}
	clock.Advance(61 * time.Second) // the SMS resend cool-down
	var ch struct {
		ChallengeID string `json:"challenge_id"`
	}
	if resp, raw := call("POST", "/v1/auth/otp/challenges", login.AccessToken, map[string]string{"method": "sms"}).do(&ch); resp.StatusCode >= 300 {
		t.Fatalf("step-up challenge = %d %s", resp.StatusCode, raw)
	}
	code = latestCode(t, base, phone, seen)
	var stepped tokenResponse
	if resp, raw := call("POST", "/v1/auth/otp/challenges/"+ch.ChallengeID+":verify", login.AccessToken,
		map[string]string{"code": code}).do(&stepped); resp.StatusCode != http.StatusOK || stepped.ACR != "loa2" {
		t.Fatalf("step-up = %d %s", resp.StatusCode, raw)
	}
	return stepped.AccessToken
}

// TestSignatureThroughGateway: a citizen at loa2 gets a signing
// credential, authorises one document hash (sole control), signs CAdES
// through the gateway, and openssl — a verifier nobody here wrote — accepts
// the signature against the CA chain the gateway serves; a changed byte
// fails it, and the SAD cannot be used twice.
func TestSignatureThroughGateway(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (deploy/local/ensure-services.sh installs it)")
	}
	// The clock starts in the past: openssl checks the certificate against
	// the real time, and the journey moves the clock a minute forward.
	clock := clocktest.New(time.Now().UTC().Add(-10 * time.Minute))
	const clientSecret = "signature-e2e-client-secret-1"
	base, _ := startDevWithClock(t, clock, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": clientSecret})
	token := citizenAtLoa2(t, base, clock, clientSecret, "40111222", "+970599111222", "olive-oil-press-77")
	call := func(method, path string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}

	// Asking for a certificate in another person's national ID or name is
	// refused, naming the field (the identity is auth's record, delivered
	// by its citizen_registered event; wait for it to arrive).
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, raw := call("POST", "/v1/signing/credentials", map[string]string{"national_id": nationalID("40999888")}).do(nil)
		if resp.StatusCode == http.StatusBadRequest && strings.Contains(string(raw), "national_id") {
			break
		}
		if time.Now().After(deadline) || resp.StatusCode < 300 {
			t.Fatalf("credential in another national ID = %d %s; want 400 naming national_id", resp.StatusCode, raw)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, raw := call("POST", "/v1/signing/credentials", map[string]string{"given_name": "Mona"}).do(nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "given_name") {
		t.Errorf("credential in another given name = %d %s; want 400 naming given_name", resp.StatusCode, raw)
	}
	var list struct {
		Credentials []json.RawMessage `json:"credentials"`
	}
	if resp, raw := call("GET", "/v1/signing/credentials", nil).do(&list); resp.StatusCode != http.StatusOK || len(list.Credentials) != 0 {
		t.Fatalf("credentials after the refusals = %d %s; want none", resp.StatusCode, raw)
	}

	// With an empty body the certificate names the citizen as registered.
	var cred struct {
		CredentialID   string `json:"credential_id"`
		Status         string `json:"status"`
		CertificatePEM string `json:"certificate_pem"`
	}
	if resp, raw := call("POST", "/v1/signing/credentials", map[string]string{}).do(&cred); resp.StatusCode != http.StatusCreated || cred.CredentialID == "" {
		t.Fatalf("create credential = %d %s; want 201", resp.StatusCode, raw)
	}
	cert := parseCertPEM(t, cred.CertificatePEM)
	if cert.Subject.SerialNumber != "PNOPS-"+nationalID("40111222") || cert.Subject.CommonName != "Layla Haddad" {
		t.Errorf("certificate subject %q; want CN=Layla Haddad, serialNumber=PNOPS-%s", cert.Subject, nationalID("40111222"))
	}

	// The demo ministry's seal names its registered organisation, whatever
	// the request says.
	seal := apiCall{t: t, base: base, method: "POST", path: "/v1/signing/credentials", token: clientToken(t, base, clientSecret)}
	seal.body = map[string]string{"organization_name": "Ministry of Finance"}
	if resp, raw := seal.do(nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "organization_name") {
		t.Errorf("seal in another organisation's name = %d %s; want 400 naming organization_name", resp.StatusCode, raw)
	}
	var sealCred struct {
		CertificatePEM string `json:"certificate_pem"`
	}
	seal.body = map[string]string{}
	if resp, raw := seal.do(&sealCred); resp.StatusCode != http.StatusCreated {
		t.Fatalf("seal = %d %s; want 201", resp.StatusCode, raw)
	}
	if cn := parseCertPEM(t, sealCred.CertificatePEM).Subject.CommonName; cn != demo.Organization {
		t.Errorf("seal CN %q; want the registered %q", cn, demo.Organization)
	}

	doc := []byte("قرار ترخيص رقم 2026/117 — وزارة الحكم المحلي\n")
	sum := sha256.Sum256(doc)
	var auth struct {
		SAD string `json:"sad"`
	}
	if resp, raw := call("POST", "/v1/signing/credentials/"+cred.CredentialID+":authorize", map[string]any{
		"hashes": []string{base64.StdEncoding.EncodeToString(sum[:])}, "hash_algorithm": "sha256",
	}).do(&auth); resp.StatusCode != http.StatusOK || auth.SAD == "" {
		t.Fatalf("authorize = %d %s", resp.StatusCode, raw)
	}
	sign := map[string]any{
		"credential_id": cred.CredentialID, "sad": auth.SAD, "format": "cades",
		"document": base64.StdEncoding.EncodeToString(doc),
	}
	var sig struct {
		Signature []byte `json:"signature"`
		Level     string `json:"level"`
	}
	if resp, raw := call("POST", "/v1/signatures", sign).do(&sig); resp.StatusCode >= 300 || len(sig.Signature) == 0 {
		t.Fatalf("sign = %d %s", resp.StatusCode, raw)
	}
	if resp, _ := call("POST", "/v1/signatures", sign).do(nil); resp.StatusCode < 400 {
		t.Errorf("the same SAD a second time = %d; want it refused", resp.StatusCode)
	}

	resp, err := http.Get(base + "/v1/signing/ca")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(caPEM), "BEGIN CERTIFICATE") {
		t.Fatalf("GET /v1/signing/ca = %d %.80q", resp.StatusCode, caPEM)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, p7s, docPath := write("ca.pem", caPEM), write("sig.p7s", sig.Signature), write("doc.txt", doc)
	verify := func(content string) (string, error) {
		out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s,
			"-content", content, "-CAfile", ca, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(docPath); err != nil || !strings.Contains(out, "Verification successful") {
		t.Errorf("openssl cms -verify = %v %s; want success", err, out)
	}
	tampered := append([]byte(nil), doc...)
	tampered[0] ^= 1
	if out, err := verify(write("tampered.txt", tampered)); err == nil {
		t.Errorf("openssl accepted the signature over a changed document: %s", out)
	}
}

// parseCertPEM parses one PEM certificate.
func parseCertPEM(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM certificate in %.80q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
