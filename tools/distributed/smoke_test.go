package distributed_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tamkeen/tamkeen/tools/distributed"
)

// Subjects the smoke test counts: every registration emits one
// citizen_registered event and one OTP SMS command (DESIGN.md §4).
const (
	subjectRegistered = "tamkeen.auth.citizen_registered"
	subjectOTPSMS     = "tamkeen.notification.cmd.otp.sms"
)

// startTopology builds the binaries and starts the distributed topology on
// fresh databases, which it drops at the end.
func startTopology(t *testing.T) *distributed.Topology {
	t.Helper()
	pgURL := os.Getenv("TAMKEEN_TEST_POSTGRES_URL")
	if pgURL == "" {
		t.Skip("TAMKEEN_TEST_POSTGRES_URL is not set (make test sets it; deploy/local/ensure-services.sh starts PostgreSQL)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := distributed.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := t.TempDir()
	start := time.Now()
	if err := distributed.Build(ctx, root, bin, distributed.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the binaries in %s", time.Since(start).Round(time.Millisecond))
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	prefix := "tamkeen_smoke_" + hex.EncodeToString(suffix[:]) + "_"
	topo, err := distributed.Start(ctx, distributed.Options{
		RepoRoot: root, WorkDir: work, BinDir: bin, PostgresURL: pgURL, DBPrefix: prefix,
	})
	if err != nil {
		_ = distributed.ResetDatabases(context.Background(), pgURL, prefix)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range topo.Processes() {
				t.Logf("--- %s (last lines)\n%s", name, topo.Tail(name, 15))
			}
		}
		topo.Stop()
		if err := topo.DropDatabases(context.Background()); err != nil {
			t.Errorf("drop databases: %v", err)
		}
	})
	t.Logf("topology ready in %s at %s", time.Since(start).Round(time.Millisecond), topo.URL())
	return topo
}

// api calls the gateway and decodes a JSON answer into out (when not nil).
type api struct {
	t    *testing.T
	base string
}

func (a api) do(method, path, token string, headers map[string]string, body any, out any) (int, string) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

// nationalID completes 8 digits with the Luhn check digit the Palestinian
// ID number uses.
func nationalID(first8 string) string {
	sum := 0
	for i, r := range first8 {
		d := int(r - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return first8 + string(rune('0'+(10-sum%10)%10))
}

// streamCount is how many messages on subject the stream holding it has.
func streamCount(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string) uint64 {
	t.Helper()
	name, err := js.StreamNameBySubject(ctx, subject)
	if err != nil {
		return 0 // the producer or consumer has not created it yet
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("stream %s info: %v", name, err)
	}
	return info.State.Subjects[subject]
}

// waitCount waits until subject holds want messages and stays there for a
// moment (a duplicate published late would show); it returns the count.
func waitCount(t *testing.T, js jetstream.JetStream, subject string, want uint64) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got uint64
	for ctx.Err() == nil {
		if got = streamCount(ctx, t, js, subject); got == want {
			time.Sleep(1500 * time.Millisecond) // longer than a relay's poll
			return streamCount(context.Background(), t, js, subject)
		}
		if got > want {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// retryUnavailable repeats call while it answers 503, as a client told
// "retry later" does, for up to 15 seconds.
func retryUnavailable(call func() (int, string)) (int, string) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := call()
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitGatewayReady waits until the gateway's /readyz (which checks every
// backend) is 200 again after a restart, and logs how long it took: the
// gateway's gRPC connection backs off before it dials the new process.
func waitGatewayReady(t *testing.T, topo *distributed.Topology) {
	t.Helper()
	start := time.Now()
	for !topo.Ready(context.Background(), distributed.Gateway) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("gateway /readyz not 200 within 20 s of the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("gateway ready again %s after the restart", time.Since(start).Round(time.Millisecond))
}

// TestDistributedSmoke runs the production topology (separate processes,
// PostgreSQL, NATS on a free port) and exercises it through the gateway:
// readiness, a client token, a payment, citizen registrations while the
// auth process is killed and restarted (no event lost, none twice), and a
// payment process crash (the payment and its idempotency key survive).
func TestDistributedSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seven processes: not with -short")
	}
	topo := startTopology(t)
	a := api{t: t, base: topo.URL()}
	nc, err := nats.Connect(topo.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := a.do("GET", path, "", nil, nil, nil); code != http.StatusOK {
			t.Fatalf("GET %s = %d %s; want 200", path, code, body)
		}
	}

	// A ministry app's client token (client created by `tamkeen clients`).
	resp, err := http.PostForm(topo.URL()+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {distributed.DemoClientID}, "client_secret": {topo.ClientSecret()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("client token = %d %v; want 200 with an access token", resp.StatusCode, err)
	}

	// A payment, created with an Idempotency-Key.
	payment := map[string]any{
		"amount": "100000", "currency": "JOD", "reference": "SMOKE-0001", "description": "رسوم",
		"return_url": "https://moh.example.ps/done",
		"splits":     []map[string]string{{"account": "dept:land-registry", "amount": "100000"}},
	}
	key := map[string]string{"Idempotency-Key": "smoke-payment-1"}
	var created struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	if code, body := a.do("POST", "/v1/payments", tok.AccessToken, key, payment, &created); code != http.StatusCreated || created.ID == "" {
		t.Fatalf("create payment = %d %s; want 201 with an id", code, body)
	}

	// Citizens register while the auth process is killed (SIGKILL, no
	// graceful stop) right after a registration and started again: every
	// registration's event and OTP command reach the streams exactly once.
	const citizens = 8
	register := func(i int) (int, string) {
		var reg struct {
			CitizenID         string `json:"citizen_id"`
			PhoneVerification struct {
				ChallengeID string `json:"challenge_id"`
			} `json:"phone_verification"`
		}
		code, body := a.do("POST", "/v1/citizens", "", nil, map[string]string{
			"national_id": nationalID(fmt.Sprintf("4%07d", 1000+i)), "phone_number": fmt.Sprintf("+9705991%05d", i),
			"password": "zaytoun-tree-1948", "given_name": "ليلى", "family_name": "Haddad",
		}, &reg)
		if code == http.StatusCreated && (reg.CitizenID == "" || reg.PhoneVerification.ChallengeID == "") {
			t.Errorf("register %d = %s; want a citizen id and a phone challenge", i, body)
		}
		return code, body
	}
	for i := range citizens {
		if code, body := retryUnavailable(func() (int, string) { return register(i) }); code != http.StatusCreated {
			t.Fatalf("register %d = %d %s; want 201", i, code, body)
		}
		if i != citizens/2 {
			continue
		}
		if err := topo.Kill("auth"); err != nil {
			t.Fatal(err)
		}
		if code, body := register(100); code != http.StatusServiceUnavailable {
			t.Errorf("register with auth down = %d %s; want 503", code, body)
		}
		if topo.Ready(context.Background(), distributed.Gateway) {
			t.Error("gateway /readyz is 200 with auth down; want 503")
		}
		if err := topo.Restart(context.Background(), "auth"); err != nil {
			t.Fatal(err)
		}
		waitGatewayReady(t, topo)
	}
	if got := waitCount(t, js, subjectRegistered, citizens); got != citizens {
		t.Errorf("%s events in the stream = %d; want %d (one per registration)", subjectRegistered, got, citizens)
	}
	// The production shape has no SMS provider here (the dev inbox is
	// refused outside --dev-mode): the OTP commands wait in notification's
	// work queue, each once.
	if got := waitCount(t, js, subjectOTPSMS, citizens); got != citizens {
		t.Errorf("%s commands in the stream = %d; want %d", subjectOTPSMS, got, citizens)
	}

	// The payment process crashes: the gateway says 503 meanwhile; after a
	// restart the payment is there and the Idempotency-Key still answers
	// with the same payment.
	if err := topo.Kill("payment"); err != nil {
		t.Fatal(err)
	}
	if code, body := a.do("GET", "/v1/payments/"+created.ID, tok.AccessToken, nil, nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("read payment with payment down = %d %s; want 503", code, body)
	}
	if err := topo.Restart(context.Background(), "payment"); err != nil {
		t.Fatal(err)
	}
	waitGatewayReady(t, topo)
	var read struct {
		ID string `json:"id"`
	}
	if code, body := a.do("GET", "/v1/payments/"+created.ID, tok.AccessToken, nil, nil, &read); code != http.StatusOK || read.ID != created.ID {
		t.Errorf("read payment after restart = %d %s; want 200 with id %s", code, body, created.ID)
	}
	var again struct {
		ID string `json:"id"`
	}
	if code, body := a.do("POST", "/v1/payments", tok.AccessToken, key, payment, &again); code >= 300 || again.ID != created.ID {
		t.Errorf("same Idempotency-Key after restart = %d %s; want payment %s", code, body, created.ID)
	}
	if code, body := a.do("GET", "/readyz", "", nil, nil, nil); code != http.StatusOK {
		t.Errorf("GET /readyz after the restarts = %d %s; want 200", code, body)
	}
	// No process logged a citizen's national id or phone number.
	for _, name := range topo.Processes() {
		if log := topo.Tail(name, 1000); strings.Contains(log, "400010") || strings.Contains(log, "9705991") {
			t.Errorf("the %s log holds a national id or phone number", name)
		}
	}
}
