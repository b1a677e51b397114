package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// testKEK is the key-encryption key of tests (32 bytes, base64).
const testKEK = "dGFta2Vlbi10ZXN0LWtleS1lbmNyeXB0aW9uLWtleSE="

// testIdentityKey is the signature enabler's identity key in tests (its
// private half: the tests open what auth seals).
var testIdentityKey = func() *sealed.PrivateKey {
	k, err := sealed.ParsePrivateKey("dGFta2Vlbi10ZXN0LWlkZW50aXR5LWtleS0zMmJ5dGU=")
	if err != nil {
		panic(err)
	}
	return k
}()

// testHashParams keep tests fast; production uses DefaultHashParams.
var testHashParams = HashParams{MemoryKiB: 8 * 1024, Time: 1, Threads: 1}

// newClock is the test clock, standing still at this package's start time.
func newClock() *clocktest.Clock { return clocktest.New(time.Now().UTC().Truncate(time.Second)) }

// testEnv is a service on a real database and a real embedded NATS, with
// the notification command stream declared (as the notification service
// does) and a consumer of the OTP SMS lane.
type testEnv struct {
	svc   *Service
	db    *store.DB
	clock *clocktest.Clock
	bus   *events.Bus
	sms   jetstream.Consumer
	srv   *grpcServer
	// app: appToken registered firstPartyApp.
	app bool
}

// testConfig is the configuration of tests: fast hashing, the test KEK.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Argon2MemoryKiB, cfg.Argon2Time = int(testHashParams.MemoryKiB), int(testHashParams.Time)
	cfg.KeyEncryptionKey = testKEK
	cfg.IdentityRecipientKey = testIdentityKey.Public().String()
	return cfg
}

// newEnv migrates db and builds the service; edit may change the config.
func newEnv(t testing.TB, db *store.DB, edit func(*Config)) *testEnv {
	t.Helper()
	ctx := context.Background()
	sets, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, sets...); err != nil {
		t.Fatal(err)
	}
	ns := natstest.Start(t, natsembed.Options{})
	nc := natstest.Connect(t, ns)
	bus, err := events.NewBus(nc, events.BusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	clk := newClock()
	svc, err := New(cfg, Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: bus, Now: clk.Now})})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStream(ctx, cfg.Stream()); err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStream(ctx, events.StreamConfig{
		Name: "NOTIFICATION_COMMANDS", Subjects: []string{"tamkeen.notification.cmd.>"},
		Retention: jetstream.WorkQueuePolicy, MaxAge: 15 * time.Minute,
	}); err != nil {
		t.Fatal(err)
	}
	cons, err := bus.JetStream().CreateOrUpdateConsumer(ctx, "NOTIFICATION_COMMANDS", jetstream.ConsumerConfig{
		Durable: "otp-sms", FilterSubject: SubjectOTPSMS, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{svc: svc, db: db, clock: clk, bus: bus, sms: cons, srv: &grpcServer{svc: svc}}
}

// sqliteEnv is newEnv on a fresh SQLite database.
func sqliteEnv(t testing.TB, edit func(*Config)) *testEnv {
	t.Helper()
	return newEnv(t, storetest.SQLiteFile(t, t.TempDir()+"/auth.db"), edit)
}

// nextSMS publishes the outbox and takes the next SMS command off the OTP
// lane, as the notification service would.
func (e *testEnv) nextSMS(t testing.TB) *eventsv1.SendSms {
	t.Helper()
	ctx := context.Background()
	if _, err := e.svc.Relay.PublishPending(ctx); err != nil {
		t.Fatalf("publish outbox: %v", err)
	}
	batch, err := e.sms.Fetch(1, jetstream.FetchMaxWait(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := <-batch.Messages()
	if !ok {
		t.Fatalf("no SMS command on %s: %v", SubjectOTPSMS, batch.Error())
	}
	ev, err := events.FromMessage(msg.Headers(), msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	var cmd eventsv1.SendSms
	if err := ev.UnmarshalData(&cmd); err != nil {
		t.Fatal(err)
	}
	if err := msg.Ack(); err != nil {
		t.Fatal(err)
	}
	return &cmd
}

// nationalID completes an 8-digit prefix with its check digit.
func nationalID(prefix string) string { return CompleteNationalID(prefix) }

const testPassword = "zaytoun-olive-2026"

// phoneOf is a Jawwal number made of the last 7 digits of prefix.
func phoneOf(prefix string) string { return "+97059" + prefix[1:8] }

// registration is a valid registration for national ID prefix p (8
// digits), with a phone number of its own.
func registration(p string) Registration {
	return Registration{
		NationalID: nationalID(p), PhoneNumber: phoneOf(p), Password: testPassword,
		GivenName: "ليلى", FamilyName: "Haddad", PreferredLanguage: "ar",
	}
}

// citizen registers, verifies the phone with the SMS code and logs in;
// it returns the citizen id and a loa1 token pair.
func (e *testEnv) citizen(t testing.TB, prefix string) (string, TokenPair) {
	t.Helper()
	ctx := context.Background()
	reg := registration(prefix)
	r, err := e.svc.RegisterCitizen(ctx, reg)
	if err != nil {
		t.Fatalf("RegisterCitizen: %v", err)
	}
	sms := e.nextSMS(t)
	v, err := e.svc.VerifyOTPChallenge(ctx, Principal{}, r.ChallengeID, sms.GetPersonalisation()["code"])
	if err != nil || !v.PhoneVerified {
		t.Fatalf("verify phone = %+v, %v; want verified", v, err)
	}
	pair, err := e.svc.Login(ctx, LoginRequest{NationalID: reg.NationalID, Password: reg.Password})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return r.CitizenID, pair
}

// firstPartyApp is the platform's own app in tests: the one client
// granted auth:password-login, which the JSON Login needs.
const firstPartyApp = "tamkeen-app"

// appToken registers firstPartyApp on first use and returns a fresh
// client token of it (fresh: tests move the clock past token lifetimes).
func (e *testEnv) appToken(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	if !e.app {
		must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: firstPartyApp, Name: "Tamkeen", Secret: "first-party-secret-16",
			Scopes: []string{scope.PasswordLogin}}))
		e.app = true
	}
	pair, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: firstPartyApp, ClientSecret: "first-party-secret-16"})
	must(t, err)
	return pair.AccessToken
}

// withBearer is ctx with token as its incoming authorization metadata,
// keeping the rest (x-forwarded-for), the way the gateway forwards both.
func withBearer(ctx context.Context, token string) context.Context {
	md, _ := metadata.FromIncomingContext(ctx)
	md = md.Copy()
	md.Set("authorization", "Bearer "+token)
	return metadata.NewIncomingContext(ctx, md)
}

// principal verifies an access token.
func (e *testEnv) principal(t testing.TB, access string) Principal {
	t.Helper()
	p, err := e.svc.VerifyAccessToken(context.Background(), access)
	if err != nil {
		t.Fatalf("VerifyAccessToken: %v", err)
	}
	return p
}

// stepUpSMS waits out the SMS cool-down, runs an SMS step-up for the
// citizen of pair and returns the loa2 pair.
func (e *testEnv) stepUpSMS(t testing.TB, pair TokenPair) TokenPair {
	t.Helper()
	ctx := context.Background()
	p := e.principal(t, pair.AccessToken)
	e.clock.Advance(e.svc.cfg.SMSResendCooldown) // past the cool-down of the last SMS
	ch, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	if err != nil {
		t.Fatalf("CreateOTPChallenge(sms): %v", err)
	}
	code := e.nextSMS(t).GetPersonalisation()["code"]
	v, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, code)
	if err != nil || v.Tokens == nil {
		t.Fatalf("VerifyOTPChallenge = %+v, %v; want tokens", v, err)
	}
	return *v.Tokens
}

// wantRetry checks that err is a *RetryError asking to wait about d.
func wantRetry(t testing.TB, err error, d time.Duration) {
	t.Helper()
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v; want a *RetryError", err)
	}
	if re.After < d-time.Second || re.After > d+time.Second {
		t.Fatalf("retry after %v; want about %v", re.After, d)
	}
}

// must fails the test on err.
func must(t testing.TB, err error, what ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprint(what...), err)
	}
}
