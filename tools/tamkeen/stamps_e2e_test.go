package main

import (
	"bytes"
	"context"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// TestRevenueStampEndToEnd is issue 18.2's must-show: a stamp bought
// through a payment (paid on the sandbox checkout) is issued and sealed by
// the signature enabler; its compact JWS verifies offline with openssl
// against the CA chain the platform serves (GET /v1/signing/ca); the
// public GET /v1/stamps/{serial} says valid; a ministry cancels it once,
// the second cancellation is refused 409 naming who used it; `tamkeen
// ledger check` passes before and after.
func TestRevenueStampEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole dev stack")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl not found: run deploy/local/ensure-services.sh")
	}
	const secret = "demo-ministry-secret-for-tests"
	dir := t.TempDir()
	base, _ := startDevHooks(t, dir, devHooks{}, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)
	ledgerCheck := func(when string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"ledger", "check", "--data-dir=" + dir}, ledgerNoEnv, &out, &errOut); code != 0 {
			t.Fatalf("tamkeen ledger check %s: exit %d\n%s\n%s", when, code, out.String(), errOut.String())
		}
	}

	var order struct {
		Payment struct {
			ID      string `json:"id"`
			NextURL string `json:"next_url"`
		} `json:"payment"`
		Stamps []struct {
			Serial string `json:"serial"`
			Status string `json:"status"`
			Buyer  string `json:"buyer"`
		} `json:"stamps"`
	}
	if resp, raw := (apiCall{t: t, base: base, method: "POST", path: "/v1/stamps", token: token, body: map[string]any{
		"fee_type": "court-fee", "value": "500", "currency": "ILS", "department": "dept:courts",
		"return_url": "https://courts.example.ps/done",
	}}).do(&order); resp.StatusCode >= 300 || len(order.Stamps) != 1 {
		t.Fatalf("POST /v1/stamps = %d %s; want an order of one stamp", resp.StatusCode, raw)
	}
	st := order.Stamps[0]
	if st.Status != "unpaid" || st.Buyer != demo.ClientID {
		t.Fatalf("ordered stamp = %+v; want unpaid, bought by %s (the token's client)", st, demo.ClientID)
	}
	ledgerCheck("before the sale")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(order.Payment.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("checkout = %d; want 303", resp.StatusCode)
	}

	// The public verification, once the signature enabler has sealed it.
	type stamp struct {
		Serial      string `json:"serial"`
		Status      string `json:"status"`
		UsedBy      string `json:"used_by"`
		SignedStamp string `json:"signed_stamp"`
	}
	var got stamp
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = stamp{}
		(apiCall{t: t, base: base, method: "GET", path: "/v1/stamps/" + st.Serial}).do(&got)
		if got.SignedStamp != "" {
			break
		}
	}
	if got.Status != "valid" || got.SignedStamp == "" {
		t.Fatalf("GET /v1/stamps/%s = %+v; want valid and sealed within 20 s", st.Serial, got)
	}
	ledgerCheck("after the sale")

	// Offline: the chain from GET /v1/signing/ca and the JWS with openssl.
	claims := verifySealedStamp(t, base, got.SignedStamp)
	if claims["serial"] != st.Serial || claims["buyer"] != demo.ClientID || claims["department"] != "dept:courts" || claims["value"] != float64(500) {
		t.Fatalf("JWS payload = %v; want the stamp's serial, buyer, department and value", claims)
	}

	// Cancelled once; the second time refused, naming who used it.
	cancel := func(doc string) (*http.Response, []byte) {
		return (apiCall{t: t, base: base, method: "POST", path: "/v1/stamps/" + st.Serial + ":cancel", token: token,
			body: map[string]any{"document_ref": doc}}).do(nil)
	}
	if resp, raw := cancel("CASE-2026-115"); resp.StatusCode != http.StatusOK {
		t.Fatalf("first cancellation = %d %s; want 200", resp.StatusCode, raw)
	}
	if resp, raw := cancel("CASE-2026-116"); resp.StatusCode != http.StatusConflict || !bytes.Contains(raw, []byte(demo.ClientID)) {
		t.Fatalf("second cancellation = %d %s; want 409 naming %s", resp.StatusCode, raw, demo.ClientID)
	}
	got = stamp{}
	(apiCall{t: t, base: base, method: "GET", path: "/v1/stamps/" + st.Serial}).do(&got)
	if got.Status != "used" || got.UsedBy != demo.ClientID {
		t.Errorf("GET /v1/stamps/%s after use = %+v; want used by %s", st.Serial, got, demo.ClientID)
	}
	ledgerCheck("after the cancellation")
}

// verifySealedStamp checks a sealed stamp offline as a relying party
// would, with openssl and nothing of ours: the seal certificate in the
// JWS's x5c chains to the CA chain the platform serves (GET
// /v1/signing/ca), and the ES256 signature verifies over header.payload.
// It returns the payload's claims.
func verifySealedStamp(t *testing.T, base, jws string) map[string]any {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not found: run deploy/local/ensure-services.sh")
	}
	caResp, err := http.Get(base + "/v1/signing/ca")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(caResp.Body)
	caResp.Body.Close()
	work := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := file("ca.pem", caPEM)
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("signed_stamp is not a compact JWS: %q", jws)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	var h struct {
		Alg string   `json:"alg"`
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != "ES256" || len(h.X5C) == 0 || len(sig) != 64 {
		t.Fatalf("JWS header %s (%v), signature of %d bytes; want ES256 with x5c", header, err, len(sig))
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("JWS payload %s: %v", payload, err)
	}
	leafDER, _ := base64.StdEncoding.DecodeString(h.X5C[0])
	leaf := file("seal.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}))
	if out, err := exec.Command(openssl, "verify", "-CAfile", ca, leaf).CombinedOutput(); err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify of the seal against GET /v1/signing/ca: %v\n%s", err, out)
	}
	pub := filepath.Join(work, "pub.pem")
	if out, err := exec.Command(openssl, "x509", "-in", leaf, "-pubkey", "-noout", "-out", pub).CombinedOutput(); err != nil {
		t.Fatalf("openssl x509 -pubkey: %v\n%s", err, out)
	}
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	sigFile := file("sig.der", der)
	input := file("input.txt", []byte(parts[0]+"."+parts[1]))
	if out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", pub, "-signature", sigFile, input).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl dgst -verify of the sealed stamp: %v\n%s", err, out)
	}
	return claims
}
