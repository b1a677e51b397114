package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eCert is a certificate the test CA issued: its DER and key.
type e2eCert struct {
	der  []byte
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

// issueE2E signs a certificate for name with parent (nil: self-signed CA).
func issueE2E(t *testing.T, name string, parent *e2eCert, serial int64, eku []x509.ExtKeyUsage) *e2eCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: eku,
		KeyUsage: x509.KeyUsageDigitalSignature}
	signer, signCert := key, tmpl
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		signer, signCert = parent.key, parent.cert
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signCert, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &e2eCert{der: der, key: key, cert: c}
}

// writeE2E writes the certificate (and, with key, its key) as PEM.
func (c *e2eCert) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startDevXRoad runs `tamkeen dev` with the X-Road listener and returns
// its public URL and the X-Road listener's URL.
func startDevXRoad(t *testing.T, dataDir string, extra ...string) (base, xroad string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	args := append([]string{"--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0", "--rate-limits", ""}, extra...)
	go func() {
		done <- runDevWith(ctx, devHooks{}, args, func(string) (string, bool) { return "", false }, pw, logs)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if u, ok := strings.CutPrefix(line, "Tamkeen is running at "); ok {
			base = u
		}
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "X-Road" {
			xroad = f[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" || xroad == "" {
		cancel()
		t.Fatalf("dev did not start with X-Road: %v\nlogs:\n%s", <-done, logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runDev returned %v after cancel; want nil", err)
		}
	})
	return base, xroad
}

// The whole path with the real auth enabler: `tamkeen dev --xroad-addr`
// with a test CA's certificates; a client registered with `tamkeen clients
// create --xroad-client` and granted content/*; a call
// relayed as the security server would relay it runs as that client (the
// token comes from auth's GatewayTokenService over the shared secret, and
// the gateway and content verify it), the response echoes X-Road-Id, the
// audit record carries the X-Road ids and `tamkeen audit verify` passes;
// an unmapped member is refused in PR-REST form.
func TestXRoadEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev")
	}
	dir := t.TempDir()
	pki := t.TempDir()
	ca := issueE2E(t, "UXP test CA", nil, 1, nil)
	caFile, _ := ca.write(t, pki, "ca")
	srvCert, srvKey := issueE2E(t, "gateway", ca, 2, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}).write(t, pki, "gateway")
	ss := issueE2E(t, "security server", ca, 3, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})

	mustRun(t, "clients", "create", "--data-dir", dir, "--id", "mof-erp", "--name", "MoF ERP", "--ministry", "mof", "--scopes", "content:read",
		"--xroad-client", "PS/GOV/70000001/erp")
	mustRun(t, "rights", "grant", "--data-dir", dir, "--id", "mof-erp", "--right", "content/*")
	_, xroad := startDevXRoad(t, dir, "--xroad-addr", "127.0.0.1:0", "--xroad-cert", srvCert, "--xroad-key", srvKey, "--xroad-client-ca", caFile)

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{ss.der}, PrivateKey: ss.key}}}}}
	call := func(member, id string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, xroad+"/v1/content/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Road-Client", member)
		req.Header.Set("X-Road-Id", id)
		req.Header.Set("X-Road-UserId", "PS400123456")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("X-Road call: %v", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := call("PS/GOV/70000001/erp", "e2e-xrd-1")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Road-Id") != "e2e-xrd-1" {
		t.Fatalf("mapped member = %d, X-Road-Id %q; want 200 echoing e2e-xrd-1 (body %s)", resp.StatusCode, resp.Header.Get("X-Road-Id"), body)
	}
	resp, body = call("PS/GOV/79999999", "e2e-xrd-2")
	var e struct{ Type, Message, Detail string }
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusForbidden ||
		resp.Header.Get("X-Road-Error") != "Server.ServerProxy.AccessDenied" || e.Type != "Server.ServerProxy.AccessDenied" {
		t.Errorf("unmapped member = %d, X-Road-Error %q, body %s; want 403 in PR-REST form", resp.StatusCode, resp.Header.Get("X-Road-Error"), body)
	}

	ctx := context.Background()
	db, err := openGatewayDB(ctx, serviceDB{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var clientID, xc, xuser string
	var status int
	if err := db.QueryRowContext(ctx, `SELECT client_id, xroad_client, xroad_user_id, status FROM gateway_audit WHERE xroad_id = 'e2e-xrd-1'`).
		Scan(&clientID, &xc, &xuser, &status); err != nil {
		t.Fatalf("audit record of e2e-xrd-1: %v", err)
	}
	if clientID != "mof-erp" || xc != "PS/GOV/70000001/erp" || xuser != "PS400123456" || status != 200 {
		t.Errorf("audit record = %q %q %q %d; want mof-erp PS/GOV/70000001/erp PS400123456 200", clientID, xc, xuser, status)
	}
	if out := mustRun(t, "audit", "verify", "--data-dir", dir); !strings.HasPrefix(out, "OK") {
		t.Errorf("audit verify = %q; want OK", out)
	}
}
