package content

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
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// newClock is the test clock, standing still at this package's start time.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)) }

const (
	testIssuer = "http://issuer.test"
	moh        = "moh" // Ministry of Health
	mol        = "mol" // Ministry of Labour
	// Subjects: staff members (citizen ids) and a ministry app.
	author    = "cit_author"
	editor    = "cit_editor"
	editor2   = "cit_editor2"
	publisher = "cit_publisher"
	nobody    = "cit_nobody"
	molEditor = "cit_mol_editor"
	mohApp    = "moh-portal"
)

func testConfig() Config {
	return Config{
		EnablerConfig:     host.EnablerConfig{StreamReplicas: 1, ServiceConfig: jwks.ServiceConfig{Issuer: testIssuer, Audience: "tamkeen"}},
		SchedulerInterval: time.Second, SchedulerLease: 30 * time.Second,
		PublicMaxAge: time.Minute, PublicCacheTTL: 0,
	}
}

// harness is a content service on a real database and an embedded NATS
// server.
type harness struct {
	t   testing.TB
	db  *store.DB
	svc *Service
	clk *clocktest.Clock
	bus *events.Bus
}

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

func newBus(t testing.TB) *events.Bus {
	t.Helper()
	ns := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, ns)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return bus
}

// newHarness migrates db and builds a service with the standard roles:
// in moh an author, two editors, a publisher and the moh app with every
// role; in mol one editor.
func newHarness(t testing.TB, db *store.DB, edit func(*Config, *Deps)) *harness {
	t.Helper()
	migrate(t, db)
	h := newHarnessOn(t, db, newBus(t), newClock(), edit)
	for _, g := range []struct{ m, s, r string }{
		{moh, author, "author"}, {moh, editor, "editor"}, {moh, editor2, "editor"}, {moh, publisher, "publisher"},
		{moh, mohApp, "author"}, {moh, mohApp, "editor"}, {moh, mohApp, "publisher"},
		{mol, molEditor, "editor"}, {mol, molEditor, "author"},
	} {
		if _, err := h.svc.GrantRole(context.Background(), PlatformAdmin("platform-admin"), g.m, g.s, g.r); err != nil {
			t.Fatalf("GrantRole: %v", err)
		}
	}
	return h
}

// newHarnessOn builds another service on an existing database, bus and
// clock: a second replica, or the same one after a restart.
func newHarnessOn(t testing.TB, db *store.DB, bus *events.Bus, clk *clocktest.Clock, edit func(*Config, *Deps)) *harness {
	t.Helper()
	cfg := testConfig()
	deps := Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus, Now: clk.Now}), Verifier: noVerifier{}}
	if edit != nil {
		edit(&cfg, &deps)
	}
	svc, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, db: db, svc: svc, clk: clk, bus: bus}
}

// noVerifier refuses every token: for tests that call the domain.
type noVerifier struct{}

func (noVerifier) Verify(context.Context, string) (*jwks.Claims, error) {
	return nil, jwks.ErrBadSignature
}

func as(subject string) Principal { return Principal{Subject: subject} }

// serviceContent is a valid bilingual e-service.
func serviceContent(slug string) Content {
	return Content{
		Tags: []string{"passports", "civil-affairs"},
		Translations: map[string]Translation{
			"ar": {
				Slug: slug + "-ar", Title: "تجديد جواز السفر", Summary: "جدّد جواز سفرك من خلال البوابة.",
				Eligibility: "المواطنون الذين **انتهت** صلاحية جوازاتهم.", RequiredDocuments: []string{"الهوية الشخصية", "صورة شخصية"},
				Fees: []Fee{{Description: "رسوم التجديد", Amount: 150000, Currency: "JOD"}}, Steps: []string{"قدّم الطلب", "ادفع الرسوم"},
				ProcessingTime: "خمسة أيام عمل", Links: []Link{{Title: "الخدمة", URL: "https://moi.gov.ps/passport"}},
			},
			"en": {
				Slug: slug, Title: "Renew a passport", Summary: "Renew your passport through the portal.",
				Eligibility: "Citizens whose passport has **expired**.", RequiredDocuments: []string{"ID card", "Photo"},
				Fees: []Fee{{Description: "Renewal fee", Amount: 150000, Currency: "JOD"}}, Steps: []string{"Apply", "Pay the fee"},
				ProcessingTime: "Five working days", Links: []Link{{Title: "The e-service", URL: "https://moi.gov.ps/passport"}},
			},
		},
	}
}

// create makes a moh service item as the author.
func (h *harness) create(slug string) Item {
	h.t.Helper()
	it, err := h.svc.CreateItem(context.Background(), as(author), CreateInput{Type: "service", Ministry: moh, Content: serviceContent(slug)})
	if err != nil {
		h.t.Fatalf("CreateItem: %v", err)
	}
	return it
}

// approved creates an item and takes it to approved.
func (h *harness) approved(slug string) Item {
	h.t.Helper()
	it := h.create(slug)
	h.must(h.svc.Transition(context.Background(), as(author), it.ID, ActionSubmit, ""))
	return h.must(h.svc.Transition(context.Background(), as(editor), it.ID, ActionApprove, "ok"))
}

// published creates an item and publishes it.
func (h *harness) published(slug string) Item {
	h.t.Helper()
	it := h.approved(slug)
	return h.must(h.svc.PublishItem(context.Background(), as(publisher), it.ID, time.Time{}, time.Time{}, ""))
}

func (h *harness) must(it Item, err error) Item {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	return it
}

func (h *harness) count(q string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// wantErr fails unless err wraps want.
func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v; want %v", err, want)
	}
}

// wantField fails unless err is a field error for field, as the caller
// would see it (a 400 naming the field).
func wantField(t testing.TB, err error, field string) {
	t.Helper()
	for _, v := range rpcerr.FieldViolations(rpcerr.FromDomain(err, nil, context.Background())) {
		if v.Field == field {
			return
		}
	}
	t.Fatalf("error = %v; want a field error for %s", err, field)
}

// tokens mints ES256 access tokens and serves their JWKS.
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
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
		"x": pad(key.X.Bytes()), "y": pad(key.Y.Bytes()),
	}}})
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

func (tk *tokens) client(t testing.TB, id string, scopes ...string) string {
	return tk.sign(t, jwt.MapClaims{"sub": id, "client_id": id, "scope": strings.Join(scopes, " ")})
}

// clientOf is a client token of a client registered with ministry (auth
// puts the client's ministry in the "ministry" claim; "" leaves it out).
func (tk *tokens) clientOf(t testing.TB, id, ministry string, scopes ...string) string {
	c := jwt.MapClaims{"sub": id, "client_id": id, "scope": strings.Join(scopes, " ")}
	if ministry != "" {
		c["ministry"] = ministry
	}
	return tk.sign(t, c)
}

func (tk *tokens) staff(t testing.TB, sub, acr string) string {
	return tk.sign(t, jwt.MapClaims{"sub": sub, "acr": acr})
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
