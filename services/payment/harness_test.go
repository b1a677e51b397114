package payment

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/sandbox"
)

// newClock is the test clock, standing still at this package's start time.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

const (
	testSecret    = "test-webhook-secret-0123456789"
	testPublicURL = "http://pay.test"
	testIssuer    = "http://issuer.test"
	ministryA     = "ministry-a"
	ministryB     = "ministry-b"
)

// harness is a payment service on a real database and an embedded NATS
// server, with the sandbox delivering its webhooks in-process.
type harness struct {
	t   testing.TB
	db  *store.DB
	svc *Service
	clk *clocktest.Clock
	sb  *sandbox.Acquirer
	bus *events.Bus
	// deliver can be swapped by a test to drop or hold webhooks.
	mu      sync.Mutex
	deliver func(ctx context.Context, payload []byte, sig string) error
}

func testConfig() Config {
	return Config{
		EnablerConfig: host.EnablerConfig{StreamReplicas: 1, ServiceConfig: jwks.ServiceConfig{Issuer: testIssuer, Audience: "tamkeen"}},
		PublicURL:     testPublicURL, Sandbox: true, SandboxWebhookSecret: testSecret, DefaultProvider: "sandbox",
		WebhookTolerance: 5 * time.Minute, PaymentTTL: 30 * time.Minute, IdempotencyTTL: 24 * time.Hour,
		SweepInterval: time.Second, StatusCheckAfter: time.Minute,
	}
}

// migrate applies the service's migrations to db.
func migrate(t testing.TB, db *store.DB) {
	t.Helper()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background(), sets...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
}

func newHarness(t testing.TB, db *store.DB, edit func(*Config, *Deps)) *harness {
	t.Helper()
	migrate(t, db)
	ns := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, ns)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessOn(t, db, bus, newClock(), edit)
}

// newHarnessOn builds a service on an existing database, bus and clock:
// the "restart" of a test.
func newHarnessOn(t testing.TB, db *store.DB, bus *events.Bus, clk *clocktest.Clock, edit func(*Config, *Deps)) *harness {
	t.Helper()
	h := &harness{t: t, db: db, clk: clk, bus: bus}
	cfg := testConfig()
	deps := Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus, Now: clk.Now}), Verifier: noVerifier(t),
		SandboxDeliver: func(ctx context.Context, payload []byte, sig string) error {
			h.mu.Lock()
			d := h.deliver
			h.mu.Unlock()
			if d != nil {
				return d(ctx, payload, sig)
			}
			return h.take(ctx, payload, sig)
		}}
	if edit != nil {
		edit(&cfg, &deps)
	}
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	h.svc, h.sb = svc, svc.Sandbox()
	return h
}

// take hands a webhook to the service as the gateway would, counting a
// replay (409) as delivered like a provider does.
func (h *harness) take(ctx context.Context, payload []byte, sig string) error {
	err := h.svc.HandleWebhook(ctx, "sandbox", payload, sig)
	if errors.Is(err, ErrWebhookReplayed) {
		return nil
	}
	return err
}

// setDeliver replaces webhook delivery; nil restores the default.
func (h *harness) setDeliver(d func(ctx context.Context, payload []byte, sig string) error) {
	h.mu.Lock()
	h.deliver = d
	h.mu.Unlock()
}

// noVerifier is a verifier for tests that call the domain directly.
func noVerifier(t testing.TB) *jwks.Verifier {
	t.Helper()
	v, err := jwks.New(jwks.Options{JWKSURL: "http://127.0.0.1:1/jwks.json", Issuer: testIssuer, Audiences: []string{"tamkeen"}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fee is a valid 100.000 JOD payment request split three ways.
func fee(ref string) CreateInput {
	return CreateInput{
		Amount: 100000, Currency: "JOD", Reference: ref, Description: "Property tax 2026",
		ReturnURL: "https://ministry.example/return", CitizenID: "cit_1",
		Splits: []Split{{"dept:land-registry", 50000}, {"dept:municipality", 30000}, {"dept:treasury", 20000}},
	}
}

func (h *harness) create(in CreateInput) Payment {
	h.t.Helper()
	p, err := h.svc.CreatePayment(context.Background(), ministryA, in)
	if err != nil {
		h.t.Fatalf("CreatePayment: %v", err)
	}
	return p
}

// checkout submits the hosted checkout form of p with card and returns
// the response.
func (h *harness) checkout(p Payment, card string) *http.Response {
	h.t.Helper()
	form := url.Values{"card_number": {card}, "expiry": {"12/30"}, "cvc": {"123"}, "lang": {"en"}}
	return h.post(strings.TrimPrefix(p.NextURL, testPublicURL), form)
}

func (h *harness) post(path string, form url.Values) *http.Response {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.svc.HTTPHandler().ServeHTTP(rec, req)
	return rec.Result()
}

// pay creates a payment and pays it with the succeeding test card.
func (h *harness) pay(in CreateInput) Payment {
	h.t.Helper()
	p := h.create(in)
	if resp := h.checkout(p, "4242424242424242"); resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("checkout answered %d; want 303", resp.StatusCode)
	}
	return h.get(p.ID)
}

func (h *harness) get(id string) Payment {
	h.t.Helper()
	p, err := h.svc.GetPayment(context.Background(), ministryA, id)
	if err != nil {
		h.t.Fatalf("GetPayment %s: %v", id, err)
	}
	return p
}

// checkLedger fails the test unless every ledger invariant holds.
func (h *harness) checkLedger() LedgerReport {
	h.t.Helper()
	rep, err := CheckLedger(context.Background(), h.db)
	if err != nil {
		h.t.Fatalf("CheckLedger: %v", err)
	}
	for _, p := range rep.Problems {
		h.t.Errorf("ledger: %s", p)
	}
	return rep
}

// count runs a COUNT query.
func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// tokens mints ES256 client tokens and serves their JWKS.
type tokens struct {
	key *ecdsa.PrivateKey
	srv *httptest.Server
	clk *clocktest.Clock
}

func newTokens(t testing.TB, clk *clocktest.Clock) *tokens {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tk := &tokens{key: key, clk: clk}
	pad := func(b []byte) string {
		out := make([]byte, 32)
		copy(out[32-len(b):], b)
		return base64.RawURLEncoding.EncodeToString(out)
	}
	jwk := map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": pad(key.X.Bytes()), "y": pad(key.Y.Bytes()),
	}}}
	body, _ := json.Marshal(jwk)
	tk.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(tk.srv.Close)
	return tk
}

func (tk *tokens) verifier(t testing.TB) *jwks.Verifier {
	t.Helper()
	v, err := jwks.New(jwks.Options{JWKSURL: tk.srv.URL, Issuer: testIssuer, Audiences: []string{"tamkeen"}, Type: "at+jwt", Now: tk.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// client mints a client token for id with scopes.
func (tk *tokens) client(t testing.TB, id string, scopes ...string) string {
	return tk.sign(t, jwt.MapClaims{"sub": id, "client_id": id, "scope": strings.Join(scopes, " ")})
}

// citizen mints a citizen token.
func (tk *tokens) citizen(t testing.TB) string {
	return tk.sign(t, jwt.MapClaims{"sub": "cit_1", "acr": "loa2", "scope": scope.PaymentsWrite})
}

func (tk *tokens) sign(t testing.TB, c jwt.MapClaims) string {
	t.Helper()
	now := tk.clk.Now()
	c["iss"], c["aud"], c["iat"], c["exp"] = testIssuer, "tamkeen", now.Unix(), now.Add(10*time.Minute).Unix()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"], tok.Header["typ"] = "k1", "at+jwt"
	s, err := tok.SignedString(tk.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
