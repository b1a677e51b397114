package gateway_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// xroadSecret is the gateway secret shared with the test auth service.
const xroadSecret = "xroad-gateway-secret-0123456789abcdef"

// gatewayTokenServer is auth's GatewayTokenService for the tests: with the
// secret it signs a client token (content:read) for the clients it knows.
type gatewayTokenServer struct {
	authv1.UnimplementedGatewayTokenServiceServer
	s *stack
	// tb signs with s.key; set by newXRoadSide (nil: Unavailable).
	tb    testing.TB
	calls atomic.Int64
}

// IssueClientToken checks the secret as auth does and signs the token.
func (g *gatewayTokenServer) IssueClientToken(ctx context.Context, in *authv1.IssueClientTokenRequest) (*authv1.IssueClientTokenResponse, error) {
	g.calls.Add(1)
	if g.tb == nil {
		return nil, status.Error(codes.Unavailable, "no test signer")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("tamkeen-gateway-secret"); len(v) != 1 || v[0] != xroadSecret {
		return nil, status.Error(codes.PermissionDenied, "only the gateway may call this service")
	}
	switch in.GetClientId() {
	case "mof-xroad", "moh-xroad":
	case "off-xroad":
		return nil, status.Error(codes.FailedPrecondition, "the client is disabled")
	default:
		return nil, status.Error(codes.NotFound, "client not found")
	}
	now := g.s.clock.Now()
	tok := g.s.key.sign(g.tb, clientClaims(now, in.GetClientId(), "content:read"), nil)
	return &authv1.IssueClientTokenResponse{AccessToken: tok, ExpiresIn: 600, Scope: "content:read"}, nil
}

// testCA is a CA that issues TLS certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var certSerial atomic.Int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate for a server (IP 127.0.0.1) or a client.
func (ca *testCA) issue(t *testing.T, name string, client bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writePEM writes cert and its key as two PEM files in dir.
func writePEM(t *testing.T, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	kb, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600))
	must(os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

// fingerprint is a certificate's SHA-256 in hex.
func fingerprint(c tls.Certificate) string {
	sum := sha256.Sum256(c.Certificate[0])
	return hex.EncodeToString(sum[:])
}

// xroadSide is a stack serving the X-Road listener as well, with the PKI
// a provider security server would use.
type xroadSide struct {
	*stack
	db   *store.DB
	url  string
	ca   *testCA
	pool *x509.CertPool
	// ss is the security server's client certificate.
	ss tls.Certificate
}

// newXRoadSide starts a gateway with the audit log, access rights and the
// X-Road listener; pin pins the security server's certificate.
func newXRoadSide(t *testing.T, pin bool) *xroadSide {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, "UXP test CA")
	certFile, keyFile := writePEM(t, dir, "gateway", ca.issue(t, "gateway", false))
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	ss := ca.issue(t, "security server", true)
	cfg := gateway.Config{Audit: true, AuditStampEvery: -1, EnforceRights: true,
		XRoadAddr: "127.0.0.1:0", XRoadCert: certFile, XRoadKey: keyFile, XRoadClientCA: caFile, XRoadGatewaySecret: xroadSecret}
	if pin {
		cfg.XRoadClientPins = []string{fingerprint(ss)}
	}
	db := migrate(t, storetest.SQLiteFile(t, filepath.Join(dir, "gateway.db")))
	s := newStack(t, stackOpts{noNATS: true, db: db, cfg: cfg})
	s.xroadTokens.tb = t
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.gw.ServeXRoad(ctx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("ServeXRoad: %v", err)
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &xroadSide{stack: s, db: db, url: "https://" + lis.Addr().String(), ca: ca, pool: pool, ss: ss}
}

// client is an HTTPS client presenting certs (none: no client
// certificate) whatever CAs the server asks for, and trusting the
// gateway's CA.
func (x *xroadSide) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: x.pool, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if len(certs) == 0 {
				return &tls.Certificate{}, nil
			}
			return &certs[0], nil
		},
	}}}
}

// call sends GET path with hdr through c and returns the response and body.
func (x *xroadSide) call(t *testing.T, c *http.Client, path string, hdr map[string]string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, x.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// auditRow is the audit record of one request.
func auditRow(t *testing.T, db *store.DB, requestID string) (clientID, xroadClient, xroadID, xroadUser string, status int) {
	t.Helper()
	err := db.QueryRowContext(context.Background(), `SELECT client_id, xroad_client, xroad_id, xroad_user_id, status FROM gateway_audit WHERE request_id = $1`,
		requestID).Scan(&clientID, &xroadClient, &xroadID, &xroadUser, &status)
	if err != nil {
		t.Fatalf("audit record of %s: %v", requestID, err)
	}
	return
}

// tokenClient is the client_id claim of a bearer token's payload.
func tokenClient(t *testing.T, authorization string) string {
	t.Helper()
	parts := strings.Split(strings.TrimPrefix(authorization, "Bearer "), ".")
	if len(parts) != 3 {
		t.Fatalf("authorization %q is not a bearer JWT", authorization)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.ClientID
}

// The gateway driven as the provider security server would drive it: a
// mapped member's call runs as its Tamkeen client (the enabler sees that
// client's token), the response echoes X-Road-Id and the audit record
// carries the X-Road ids in a chain that verifies; an unmapped member, a
// malformed X-Road-Client and a client that auth does not know are
// refused in PR-REST's error form; a mapped client without the access
// right gets 403; the mapped client's token is fetched once and reused.
func TestXRoadProviderSide(t *testing.T) {
	t.Parallel()
	x := newXRoadSide(t, false)
	ctx := context.Background()
	now := time.Now()
	for member, client := range map[string]string{
		"PS/GOV/70000001/payments": "mof-xroad",
		"PS/GOV/70000002":          "moh-xroad",
		"PS/COM/80000009/erp":      "off-xroad",
	} {
		if _, err := gateway.MapXRoadClient(ctx, x.db, member, client, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"mof-xroad", "demo-ministry"} {
		if err := gateway.NewRights(x.db, nil).Grant(ctx, gateway.Right{ClientID: id, Service: "content", Operation: "GetItem"}); err != nil {
			t.Fatal(err)
		}
	}
	ss := x.client(x.ss)
	hdr := func(client, id string) map[string]string {
		return map[string]string{gateway.XRoadClientHeader: client, gateway.XRoadIDHeader: id,
			gateway.XRoadUserIDHeader: "PS400123456", "Authorization": "Bearer consumer-token-must-not-pass"}
	}

	// Mapped, percent-encoded subsystem code: 200 as mof-xroad.
	resp, body, err := x.call(t, ss, "/v1/content/items/cnt_1", hdr("PS/GOV/70000001/%70ayments", "xrd-0001"))
	if err != nil {
		t.Fatalf("mapped call: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mapped call = %d; want 200 (body %s)", resp.StatusCode, body)
	}
	if got := resp.Header.Get(gateway.XRoadIDHeader); got != "xrd-0001" {
		t.Errorf("response X-Road-Id = %q; want the request's xrd-0001", got)
	}
	x.rec.mu.Lock()
	seen := x.rec.contentMeta.Get("authorization")
	x.rec.mu.Unlock()
	if len(seen) != 1 || tokenClient(t, seen[0]) != "mof-xroad" {
		t.Errorf("the content service saw authorization %q; want one token of mof-xroad", seen)
	}
	client, xc, xid, xuser, st := auditRow(t, x.db, resp.Header.Get("X-Request-Id"))
	if client != "mof-xroad" || xc != "PS/GOV/70000001/payments" || xid != "xrd-0001" || xuser != "PS400123456" || st != 200 {
		t.Errorf("audit record = client %q, X-Road %q %q %q, status %d; want mof-xroad with PS/GOV/70000001/payments xrd-0001 PS400123456, 200",
			client, xc, xid, xuser, st)
	}

	// Again: the token is reused, not fetched again.
	if resp, body, err := x.call(t, ss, "/v1/content/items/cnt_2", hdr("PS/GOV/70000001/payments", "xrd-0002")); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("second mapped call = %v, %v; want 200 (body %s)", resp, err, body)
	}
	if n := x.xroadTokens.calls.Load(); n != 1 {
		t.Errorf("GatewayTokenService calls after two calls of one client = %d; want 1 (cached)", n)
	}
	// Within a minute of its expiry (10 min) the token is replaced.
	x.clock.Advance(9*time.Minute + 30*time.Second)
	if resp, body, err := x.call(t, ss, "/v1/content/items/cnt_2", hdr("PS/GOV/70000001/payments", "xrd-0002b")); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mapped call near the token's expiry = %v, %v; want 200 (body %s)", resp, err, body)
	}
	if n := x.xroadTokens.calls.Load(); n != 2 {
		t.Errorf("GatewayTokenService calls after the cached token neared expiry = %d; want 2", n)
	}

	// Mapped but without the right: the public API's own 403.
	resp, body, err = x.call(t, ss, "/v1/content/items/cnt_3", hdr("PS/GOV/70000002", "xrd-0003"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden || problem(t, resp, body).MissingRight != "content/GetItem" {
		t.Errorf("mapped client without the right = %d %s; want 403 missing-right content/GetItem", resp.StatusCode, body)
	}
	if client, _, xid, _, st := auditRow(t, x.db, resp.Header.Get("X-Request-Id")); client != "moh-xroad" || xid != "xrd-0003" || st != 403 {
		t.Errorf("audit of the refused call = %q %q %d; want moh-xroad xrd-0003 403", client, xid, st)
	}

	// Refusals in PR-REST's error form.
	for _, tc := range []struct {
		name, client, id string
		status           int
		typ, message     string
	}{
		{"unmapped member", "PS/GOV/79999999/x", "xrd-0004", 403, "Server.ServerProxy.AccessDenied", "PS/GOV/79999999/x is not registered"},
		{"disabled client", "PS/COM/80000009/erp", "xrd-0005", 403, "Server.ServerProxy.AccessDenied", "is not enabled"},
		{"two parts", "PS/GOV", "xrd-0006", 400, "Server.ServerProxy.InvalidRequest", "INSTANCE/CLASS/MEMBER"},
		{"bad percent-encoding", "PS/GOV/7000%zz", "xrd-0007", 400, "Server.ServerProxy.InvalidRequest", "percent-encoding"},
		{"encoded slash", "PS/GOV/7000%2F1", "xrd-0008", 400, "Server.ServerProxy.InvalidRequest", "contains one of"},
		{"no X-Road-Id", "PS/GOV/70000001/payments", "", 400, "Server.ServerProxy.InvalidRequest", "X-Road-Id"},
	} {
		resp, body, err := x.call(t, ss, "/v1/content/items/cnt_4", hdr(tc.client, tc.id))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var e struct{ Type, Message, Detail string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("%s: body %s is not JSON: %v", tc.name, body, err)
		}
		if resp.StatusCode != tc.status || resp.Header.Get(gateway.XRoadErrorHeader) != tc.typ || e.Type != tc.typ ||
			!strings.Contains(e.Message, tc.message) || e.Detail == "" {
			t.Errorf("%s = %d, X-Road-Error %q, body %s; want %d %s with a message containing %q and a detail",
				tc.name, resp.StatusCode, resp.Header.Get(gateway.XRoadErrorHeader), body, tc.status, tc.typ, tc.message)
		}
	}

	// The public listener ignores X-Road headers: no token, 401 ...
	forged := hdr("PS/GOV/70000001/payments", "xrd-forged")
	forged["Authorization"] = ""
	resp, body = x.do(t, http.MethodGet, "/v1/content/items/cnt_5", nil, forged)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(gateway.XRoadIDHeader) != "" {
		t.Errorf("forged X-Road headers on the public listener without a token = %d (X-Road-Id %q); want 401 and no echo (body %s)",
			resp.StatusCode, resp.Header.Get(gateway.XRoadIDHeader), body)
	}
	// ... and with its own token, the call is that token's, with no X-Road ids.
	delete(forged, "Authorization")
	resp, body = x.do(t, http.MethodGet, "/v1/content/items/cnt_6", nil, forged)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("public call with forged X-Road headers = %d; want 200 as demo-ministry (body %s)", resp.StatusCode, body)
	}
	if client, xc, xid, xuser, _ := auditRow(t, x.db, resp.Header.Get("X-Request-Id")); client != "demo-ministry" || xc != "" || xid != "" || xuser != "" {
		t.Errorf("audit of the public call = %q with X-Road %q %q %q; want demo-ministry and no X-Road ids", client, xc, xid, xuser)
	}

	// The server spans name the X-Road call, without the user id; the
	// public call's span names none. The calls above were served one
	// after the other on one keep-alive connection, so their spans ended.
	spans := map[string][]attribute.KeyValue{}
	for _, sp := range x.spans.GetSpans() {
		for _, a := range sp.Attributes {
			if a.Key == "xroad.id" {
				spans[a.Value.AsString()] = sp.Attributes
			}
		}
	}
	if attrs, ok := spans["xrd-0001"]; !ok {
		t.Errorf("no server span with xroad.id xrd-0001 among %d spans", len(x.spans.GetSpans()))
	} else {
		for _, a := range attrs {
			if a.Key == "xroad.client" && a.Value.AsString() != "PS/GOV/70000001/payments" || a.Key == "xroad.user_id" {
				t.Errorf("span attribute %s = %v; want xroad.client PS/GOV/70000001/payments and no user id", a.Key, a.Value.String())
			}
		}
	}
	if _, ok := spans["xrd-forged"]; ok {
		t.Error("the public call's span carries the forged X-Road-Id")
	}

	// v1 and v2 records chain and verify together; blanking an X-Road id
	// breaks the record's hash.
	rep := mustVerify(t, x.db, gateway.AuditVerifyOptions{})
	if rep.Broken != nil || rep.Records < 5 {
		t.Fatalf("VerifyAudit = %+v; want a whole chain of at least 5 records", rep)
	}
	// The export carries the X-Road ids and verifies offline.
	var export strings.Builder
	if _, err := gateway.ExportAudit(ctx, x.db, &export, gateway.AuditVerifyOptions{}); err != nil {
		t.Fatalf("ExportAudit: %v", err)
	}
	if !strings.Contains(export.String(), `"xroad_user_id":"PS400123456"`) {
		t.Error("the audit export lacks the X-Road user id")
	}
	if rep, err := gateway.VerifyAuditExport(strings.NewReader(export.String()), gateway.AuditVerifyOptions{}); err != nil || rep.Records != mustVerify(t, x.db, gateway.AuditVerifyOptions{}).Records {
		t.Errorf("VerifyAuditExport = %+v, %v; want every record verified", rep, err)
	}
	execSQL(t, x.db, `UPDATE gateway_audit SET xroad_user_id = '' WHERE xroad_id = 'xrd-0001'`)
	if rep, err := gateway.VerifyAudit(ctx, x.db, gateway.AuditVerifyOptions{}); !errors.Is(err, gateway.ErrAuditBroken) ||
		rep.Broken == nil || !strings.Contains(rep.Broken.Reason, "modified") {
		t.Errorf("VerifyAudit after blanking an X-Road user id = %+v, %v; want the record reported modified", rep.Broken, err)
	}
}

// Only the security server's certificate opens the X-Road listener: no
// client certificate, one from another CA, and (with a pin) another
// certificate of the same CA are refused in the TLS handshake.
func TestXRoadListenerNeedsTheSecurityServerCertificate(t *testing.T) {
	t.Parallel()
	x := newXRoadSide(t, true)
	if _, err := gateway.MapXRoadClient(context.Background(), x.db, "PS/GOV/70000001/payments", "mof-xroad", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := gateway.NewRights(x.db, nil).Grant(context.Background(), gateway.Right{ClientID: "mof-xroad", Service: "content", Operation: "*"}); err != nil {
		t.Fatal(err)
	}
	hdr := map[string]string{gateway.XRoadClientHeader: "PS/GOV/70000001/payments", gateway.XRoadIDHeader: "xrd-1"}
	if resp, body, err := x.call(t, x.client(x.ss), "/v1/content/items/cnt_1", hdr); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pinned security server = %v, %v; want 200 (body %s)", resp, err, body)
	}
	other := newTestCA(t, "another CA")
	for name, c := range map[string]*http.Client{
		"no client certificate":        x.client(),
		"another CA's certificate":     x.client(other.issue(t, "impostor", true)),
		"unpinned same-CA certificate": x.client(x.ca.issue(t, "another member's server", true)),
	} {
		resp, _, err := x.call(t, c, "/v1/content/items/cnt_1", hdr)
		if err == nil {
			t.Errorf("%s: got %d; want the TLS handshake refused", name, resp.StatusCode)
			continue
		}
		if !strings.Contains(err.Error(), "remote error: tls: ") {
			t.Errorf("%s: %v; want the TLS handshake refused by the gateway", name, err)
		}
	}
}

// Bad X-Road settings are configuration errors, and X-Road is off unless
// configured.
func TestXRoadConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]gateway.Config{
		"no certificate": {XRoadAddr: "127.0.0.1:0", XRoadKey: "k", XRoadClientCA: "ca", XRoadGatewaySecret: xroadSecret},
		"no secret":      {XRoadAddr: "127.0.0.1:0", XRoadCert: "c", XRoadKey: "k", XRoadClientCA: "ca"},
		"bad pin":        {XRoadAddr: "127.0.0.1:0", XRoadCert: "c", XRoadKey: "k", XRoadClientCA: "ca", XRoadGatewaySecret: xroadSecret, XRoadClientPins: []string{"abc"}},
		"bad addr":       {XRoadAddr: "nowhere", XRoadCert: "c", XRoadKey: "k", XRoadClientCA: "ca", XRoadGatewaySecret: xroadSecret},
	} {
		if err := cfg.Validate(); !errors.Is(err, gateway.ErrConfig) {
			t.Errorf("%s: Validate = %v; want ErrConfig", name, err)
		}
	}
	s := newStack(t, stackOpts{noNATS: true})
	if s.gw.XRoadEnabled() {
		t.Error("XRoadEnabled without xroad-addr = true; want off by default")
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	if err := s.gw.ServeXRoad(context.Background(), lis); !errors.Is(err, gateway.ErrConfig) {
		t.Errorf("ServeXRoad without xroad-addr = %v; want ErrConfig", err)
	}
}

// X-Road-Client values: members and subsystems, percent-decoded, and the
// identifier characters PR-REST excludes refused.
func TestParseXRoadClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string // want "" refuses
	}{
		{"PS/GOV/70000001/payments", "PS/GOV/70000001/payments"},
		{"PS/GOV/70000001", "PS/GOV/70000001"},
		{"PS/GOV/%D9%88%D8%B2%D8%A7%D8%B1%D8%A9/sub", "PS/GOV/وزارة/sub"},
		{"PS-TEST/COM/123-45/erp.v2", "PS-TEST/COM/123-45/erp.v2"},
		{"", ""},
		{"PS/GOV", ""},
		{"PS/GOV/1/2/3", ""},
		{"PS//1/x", ""},
		{"PS/GOV/1%2F2", ""},
		{"PS/GOV/1%3A2", ""},
		{"PS/GOV/a b", ""},
		{"PS/GOV/a%20b", ""},
		{"PS/GOV/a%0Ab", ""},
		{"PS/GOV/%zz", ""},
		{"PS/GOV/%FF", ""},
		{"PS/GOV/" + strings.Repeat("a", 256), ""},
	} {
		c, err := gateway.ParseXRoadClient(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseXRoadClient(%q) = %q; want an error", tc.in, c)
		case tc.want != "" && (err != nil || c.String() != tc.want):
			t.Errorf("ParseXRoadClient(%q) = %q, %v; want %q", tc.in, c, err, tc.want)
		case err != nil && !errors.Is(err, gateway.ErrXRoadClient):
			t.Errorf("ParseXRoadClient(%q) error %v does not wrap ErrXRoadClient", tc.in, err)
		}
	}
}

// Mappings are registered (percent-encoded or not, one key), changed,
// listed and removed.
func TestXRoadMappings(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		ctx := context.Background()
		if _, err := gateway.MapXRoadClient(ctx, db, "PS/GOV/70000001/%70ay", "a", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := gateway.MapXRoadClient(ctx, db, "PS/GOV/70000001/pay", "b", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := gateway.MapXRoadClient(ctx, db, "PS/GOV", "b", time.Now()); !errors.Is(err, gateway.ErrXRoadClient) {
			t.Errorf("MapXRoadClient(bad id) = %v; want ErrXRoadClient", err)
		}
		if _, err := gateway.MapXRoadClient(ctx, db, "PS/GOV/1", "bad id", time.Now()); !errors.Is(err, gateway.ErrConfig) {
			t.Errorf("MapXRoadClient(bad client id) = %v; want ErrConfig", err)
		}
		ms, err := gateway.XRoadMappings(ctx, db)
		if err != nil || len(ms) != 1 || ms[0].XRoadClient != "PS/GOV/70000001/pay" || ms[0].ClientID != "b" {
			t.Fatalf("XRoadMappings = %+v, %v; want one PS/GOV/70000001/pay -> b", ms, err)
		}
		if ok, err := gateway.UnmapXRoadClient(ctx, db, "PS/GOV/70000001/pay"); !ok || err != nil {
			t.Errorf("UnmapXRoadClient = %v, %v; want true", ok, err)
		}
		if ok, err := gateway.UnmapXRoadClient(ctx, db, "PS/GOV/70000001/pay"); ok || err != nil {
			t.Errorf("UnmapXRoadClient again = %v, %v; want false", ok, err)
		}
	})
}
