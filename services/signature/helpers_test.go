package signature

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// issuer is a test token issuer serving its JWKS over HTTP, standing in
// for the auth enabler.
type issuer struct {
	key *ecdsa.PrivateKey
	srv *httptest.Server
	now func() time.Time
}

func newIssuer(t testing.TB, now func() time.Time) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key, now: now}
	b64 := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.FillBytes(make([]byte, 32))) }
	jwksBody, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig", "x": b64(key.X), "y": b64(key.Y),
	}}})
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwksBody)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

// citizen mints a citizen access token; stepUpAge < 0 means loa1.
func (is *issuer) citizen(t testing.TB, sub string, stepUpAge time.Duration, extra map[string]any) string {
	t.Helper()
	now := is.now()
	claims := jwt.MapClaims{
		"iss": is.srv.URL, "aud": "tamkeen", "sub": sub, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"acr": "loa1", "amr": []string{"pwd"}, "auth_time": now.Add(-time.Hour).Unix(),
	}
	if stepUpAge >= 0 {
		claims["acr"], claims["amr"], claims["auth_time"] = "loa2", []string{"pwd", "otp"}, now.Add(-stepUpAge).Unix()
	}
	for k, v := range extra {
		claims[k] = v
	}
	return is.sign(t, claims)
}

// client mints a client-credentials token.
func (is *issuer) client(t testing.TB, clientID, scope string) string {
	return is.clientOrg(t, clientID, "", scope)
}

// clientOrg mints a client-credentials token whose client is registered
// with organisation org (the org_name claim; none when empty).
func (is *issuer) clientOrg(t testing.TB, clientID, org, scope string) string {
	now := is.now()
	claims := jwt.MapClaims{
		"iss": is.srv.URL, "aud": "tamkeen", "sub": clientID, "client_id": clientID, "scope": scope,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	if org != "" {
		claims["org_name"] = org
	}
	return is.sign(t, claims)
}

func (is *issuer) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "k1"
	tok.Header["typ"] = "at+jwt"
	s, err := tok.SignedString(is.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// harness is a signature service on a real database, embedded NATS and a
// real gRPC server on loopback.
type harness struct {
	svc    *Service
	db     *store.DB
	clock  *clocktest.Clock
	issuer *issuer
	client signaturev1.SignatureServiceClient
	cfg    Config
	addr   string
}

func testKEK(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// testConfig is a valid configuration for the issuer.
func testConfig(t testing.TB, is *issuer) Config {
	return Config{
		EnablerConfig: host.EnablerConfig{
			StreamReplicas: 1,
			ServiceConfig:  jwks.ServiceConfig{Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/jwks.json", Audience: "tamkeen"},
		},
		KeyEncryptionKey: testKEK(t), IdentityKey: testKEK(t),
		PublicURL: "http://pki.tamkeen.test", Organization: "Tamkeen Test", Country: "PS",
		CertificatePolicies: "2.999.1.1", TSAPolicy: "2.999.1.2", TSAAccuracy: time.Second,
		CredentialValidity: 2 * 365 * 24 * time.Hour, SADTTL: 5 * time.Minute, StepUpMaxAge: 300 * time.Second,
		AllowSelfProofed: true, CRLRefresh: time.Hour, CRLValidity: 24 * time.Hour,
	}
}

// migrated returns a migrated SQLite database.
func migrated(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), sets...); err != nil {
		t.Fatal(err)
	}
	return db
}

// newHarness builds the service on db (nil: a new SQLite file), initialises
// the PKI unless cfgFn turned auto-init on, and serves gRPC.
func newHarness(t testing.TB, db *store.DB, cfgFn func(*Config)) *harness {
	t.Helper()
	if db == nil {
		db = storetest.SQLiteFile(t, filepath.Join(t.TempDir(), "signature.db"))
	}
	migrated(t, db)
	clk := clocktest.New(time.Now().UTC().Truncate(time.Second))
	is := newIssuer(t, clk.Now)
	cfg := testConfig(t, is)
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	ns := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, ns)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kit := Spec().Kit(host.Env{DB: db, Bus: bus, Now: clk.Now})
	svc, err := New(cfg, Deps{Kit: kit})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.PKIAutoInit {
		if _, err := InitPKI(context.Background(), db, cfg, PKIOptions{Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
	}
	srv := grpcserver.New(grpcserver.Options{ShutdownTimeout: time.Second})
	svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, lis) }()
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = host.RunLoops(ctx, kit, cfg.ServiceStream(Name), svc) }()
	t.Cleanup(func() { cancel(); <-done; <-runDone })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &harness{svc: svc, db: db, clock: clk, issuer: is, client: signaturev1.NewSignatureServiceClient(conn), cfg: cfg, addr: lis.Addr().String()}
}

// as returns a context carrying the bearer token.
func as(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
}

// citizenIdentity is the identity a test citizen's credential carries.
var citizenIdentity = &signaturev1.CreateCredentialRequest{GivenName: "Layla", FamilyName: "Haddad", NationalId: "401234567"}

// enrol delivers auth's citizen event for sub (citizen_proofed when level
// is in_person, else citizen_registered) with the identity sealed to the
// service's identity key, as the auth enabler does.
func (h *harness) enrol(t testing.TB, sub, level string, id *eventsv1.CitizenIdentity) {
	t.Helper()
	h.deliver(t, sub, level, h.sealIdentity(t, sub, id))
}

// sealIdentity seals id for citizen sub to the service's identity key.
func (h *harness) sealIdentity(t testing.TB, sub string, id *eventsv1.CitizenIdentity) []byte {
	t.Helper()
	keys, err := sealed.ParsePrivateKeys(h.cfg.IdentityKey)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := proto.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := sealed.Seal(keys[0].Public(), "citizen_identity/"+sub, pt)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// deliver hands the service one auth citizen event carrying blob.
func (h *harness) deliver(t testing.TB, sub, level string, blob []byte) {
	t.Helper()
	f := events.Factory{Source: "tamkeen/auth", Now: h.clock.Now}
	var ev events.Event
	var err error
	if level == proofingInPerson {
		ev, err = f.New("tamkeen.auth.citizen_proofed.v1", &eventsv1.CitizenProofed{CitizenId: sub, ProofingLevel: level, ClientId: "moi", SealedIdentity: blob})
	} else {
		ev, err = f.New("tamkeen.auth.citizen_registered.v1", &eventsv1.CitizenRegistered{CitizenId: sub, ProofingLevel: level, SealedIdentity: blob})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.handleProofing(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// testIdentity is auth's record of the test citizen.
func testIdentity() *eventsv1.CitizenIdentity {
	return &eventsv1.CitizenIdentity{GivenName: citizenIdentity.GivenName, FamilyName: citizenIdentity.FamilyName, NationalId: citizenIdentity.NationalId}
}

// newCredential creates a credential for citizen sub, whom auth has
// registered with the test identity.
func (h *harness) newCredential(t testing.TB, sub, alg string) *signaturev1.Credential {
	t.Helper()
	h.enrol(t, sub, "self", testIdentity())
	req := &signaturev1.CreateCredentialRequest{KeyAlgorithm: alg, GivenName: citizenIdentity.GivenName,
		FamilyName: citizenIdentity.FamilyName, NationalId: citizenIdentity.NationalId}
	c, err := h.client.CreateCredential(as(h.issuer.citizen(t, sub, time.Minute, nil)), req)
	if err != nil {
		t.Fatalf("CreateCredential: %v", err)
	}
	return c
}

// sign authorises and signs doc with the credential (fresh step-up).
func (h *harness) sign(t testing.TB, sub, credID string, doc []byte, format string) *signaturev1.Signature {
	t.Helper()
	tok := h.issuer.citizen(t, sub, time.Minute, nil)
	sum := sha256Sum(doc)
	auth, err := h.client.AuthorizeCredential(as(tok), &signaturev1.AuthorizeCredentialRequest{CredentialId: credID, Hashes: [][]byte{sum}})
	if err != nil {
		t.Fatalf("AuthorizeCredential: %v", err)
	}
	sig, err := h.client.SignDocument(as(tok), &signaturev1.SignDocumentRequest{CredentialId: credID, Sad: auth.Sad, Document: doc, Format: format})
	if err != nil {
		t.Fatalf("SignDocument: %v", err)
	}
	return sig
}

// caFiles writes the root and the chain as PEM files and returns their paths.
func (h *harness) caFiles(t testing.TB) (rootPEM, chainPEM string) {
	t.Helper()
	resp, err := h.client.GetCaCertificates(context.Background(), &signaturev1.GetCaCertificatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a, err := h.svc.ca(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rootPEM = filepath.Join(dir, "root.pem")
	writePEM(t, rootPEM, a.root.Raw)
	chainPEM = filepath.Join(dir, "chain.pem")
	if err := os.WriteFile(chainPEM, []byte(resp.Pem), 0o600); err != nil {
		t.Fatal(err)
	}
	return rootPEM, chainPEM
}

// needTool skips when an outside verifier is missing, naming the script
// that installs it.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: run deploy/local/ensure-services.sh (it installs openssl, softhsm2, poppler-utils, libnss3-tools)", name)
	}
	return p
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func writePEM(t testing.TB, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// run runs a command and returns its combined output and error.
func run(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
