package distributed_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/tools/distributed"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// subjectRegistered is the event every registration emits once.
const subjectRegistered = "tamkeen.auth.citizen_registered"

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
		// The step-up SMS follows the registration's within seconds.
		// The audit chain head is time-stamped every 2 s, not every minute.
		Env: map[string]map[string]string{"auth": {"TAMKEEN_SMS_RESEND_COOLDOWN": "1s"}, distributed.Gateway: {"TAMKEEN_AUDIT_STAMP_INTERVAL": "2s"}},
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

// nationalID completes 8 digits with the check digit of the Palestinian
// ID number.
func nationalID(first8 string) string { return auth.CompleteNationalID(first8) }

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
	ctx, cancel := context.WithTimeout(context.Background(), eventDeadline)
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

const password = "zaytoun-tree-1948"

func nationalIDOf(i int) string { return nationalID(fmt.Sprintf("4%07d", 1000+i)) }
func phoneOf(i int) string      { return fmt.Sprintf("+9705991%05d", i) }

// smsCode is the one-time code in an SMS text.
func smsCode(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`\b\d{6,8}\b`).FindString(text)
	if m == "" {
		t.Fatalf("no code in the SMS %q", text)
	}
	return m
}

// eventDeadline bounds how long waitSMS waits. An event is late after a
// crash by at most the restart: the restarted relay frees the claims of
// its own instance at once (libs/events RelayOptions.Instance), and
// otpAfterRestart asserts the 5 s; the rest is headroom for a loaded CI.
const eventDeadline = 45 * time.Second

// otpAfterRestart is how soon after a SIGKILLed auth is back the OTP of a
// registration made just before the kill must reach the phone (issue 16).
const otpAfterRestart = 5 * time.Second

// waitSMS waits until phone has received want SMS (and a moment longer,
// so that a duplicate would show) and returns how many it has.
func waitSMS(t *testing.T, topo *distributed.Topology, phone string, want int) int {
	t.Helper()
	start := time.Now()
	deadline := start.Add(eventDeadline)
	for len(topo.SMS().Messages(phone)) < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("SMS %d to %s arrived after %s (a lease of the killed relay)", want, phone, d.Round(100*time.Millisecond))
	}
	if len(topo.SMS().Messages(phone)) == want {
		time.Sleep(time.Second)
	}
	return len(topo.SMS().Messages(phone))
}

// retryTooMany repeats call while it answers 429 (the SMS resend
// cool-down), waiting as Retry-After would say, for up to 70 seconds.
func retryTooMany(call func() (int, string)) (int, string) {
	deadline := time.Now().Add(70 * time.Second)
	for {
		code, body := call()
		if code != http.StatusTooManyRequests || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(time.Second)
	}
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
// PostgreSQL, NATS on a free port, SMS through the HTTP provider to an
// operator stand-in) and exercises it through the gateway: readiness, a
// client token, a payment, citizen registrations while the auth process is
// killed and restarted (every event in the stream and every SMS on the
// phone exactly once), phone verification and SMS step-up to loa2, and a
// payment process crash (the payment and its Idempotency-Key survive).
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

	// The operators' endpoints are on the ops listener, not the API.
	ops := api{t: t, base: topo.OpsURL(distributed.Gateway)}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := ops.do("GET", path, "", nil, nil, nil); code != http.StatusOK {
			t.Fatalf("GET ops %s = %d %s; want 200", path, code, body)
		}
		if code, _ := a.do("GET", path, "", nil, nil, nil); code != http.StatusNotFound {
			t.Errorf("GET API %s = %d; want 404", path, code)
		}
	}

	// A ministry app's client token (client created by `tamkeen clients`).
	resp, err := http.PostForm(topo.URL()+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {topo.ClientSecret()},
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

	// auth's OpenID Provider is reached through the gateway (--oidc-url):
	// an unknown client gets the hosted error page, not a redirect.
	if code, body := a.do("GET", "/oauth2/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F&response_type=code&scope=openid", "", nil, nil, nil); code != http.StatusBadRequest ||
		!strings.Contains(string(body), `dir="rtl"`) {
		t.Errorf("authorize for an unknown client through the gateway = %d %.300s; want auth's error page", code, body)
	}

	// Webhooks are on: the notification process has its callback key.
	var hook struct {
		Secret string `json:"secret"`
	}
	if code, body := a.do("POST", "/v1/webhook-endpoints", tok.AccessToken, nil, map[string]any{"url": "https://moh.example.ps/hooks",
		"events": []string{"payment.succeeded"}}, &hook); code != http.StatusCreated || !strings.HasPrefix(hook.Secret, "whsec_") {
		t.Errorf("register a webhook endpoint = %d %s; want 201 with its secret", code, body)
	}

	// A payment, created with an Idempotency-Key.
	payment := map[string]any{
		"amount": "100000", "currency": "JOD", "reference": "SMOKE-0001", "description": "رسوم",
		"return_url": "https://moh.example.ps/done",
		"splits":     []map[string]string{{"account": "dept:land-registry", "amount": "100000"}},
	}
	key := map[string]string{"Idempotency-Key": "smoke-payment-1"}
	var created struct {
		ID      string `json:"id"`
		State   string `json:"state"`
		NextURL string `json:"next_url"`
	}
	if code, body := a.do("POST", "/v1/payments", tok.AccessToken, key, payment, &created); code != http.StatusCreated || created.ID == "" {
		t.Fatalf("create payment = %d %s; want 201 with an id", code, body)
	}
	// The citizen pays on the sandbox acquirer's checkout (served by the
	// payment process, proxied by the gateway); its signed webhook comes
	// back through the gateway and the payment succeeds.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	paid, err := noRedirect.PostForm(created.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	paid.Body.Close()
	if paid.StatusCode != http.StatusSeeOther {
		t.Fatalf("checkout POST %s = %d; want 303 to the return URL", created.NextURL, paid.StatusCode)
	}
	var state string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && state != "succeeded"; time.Sleep(100 * time.Millisecond) {
		var got struct {
			State string `json:"state"`
		}
		a.do("GET", "/v1/payments/"+created.ID, tok.AccessToken, nil, nil, &got)
		state = got.State
	}
	if state != "succeeded" {
		t.Fatalf("payment state after checkout = %q; want succeeded", state)
	}

	// Citizens register while the auth process is killed (SIGKILL, no
	// graceful stop) right after a registration and started again: every
	// registration's event and OTP command reach the streams exactly once.
	const citizens = 8
	var firstChallenge, firstCitizen string
	var authBack time.Time // when the restarted auth process was started
	register := func(i int) (int, string) {
		var reg struct {
			CitizenID         string `json:"citizen_id"`
			PhoneVerification struct {
				ChallengeID string `json:"challenge_id"`
			} `json:"phone_verification"`
		}
		code, body := a.do("POST", "/v1/citizens", "", nil, map[string]string{
			"national_id": nationalIDOf(i), "phone_number": phoneOf(i),
			"password": password, "given_name": "ليلى", "family_name": "Haddad",
		}, &reg)
		if code == http.StatusCreated && (reg.CitizenID == "" || reg.PhoneVerification.ChallengeID == "") {
			t.Errorf("register %d = %s; want a citizen id and a phone challenge", i, body)
		}
		if i == 0 {
			firstChallenge, firstCitizen = reg.PhoneVerification.ChallengeID, reg.CitizenID
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
		authBack = time.Now()
		waitGatewayReady(t, topo)
	}
	// The trace of a registration reaches the SMS it causes: auth's
	// outbox, the command on NATS and notification's submit share the
	// trace id the gateway answered with (issue 16 item 3).
	tracedPhone := phoneOf(200)
	resp, err = http.Post(topo.URL()+"/v1/citizens", "application/json", strings.NewReader(`{"national_id":"`+nationalIDOf(200)+
		`","phone_number":"`+tracedPhone+`","password":"`+password+`","given_name":"Sami","family_name":"Haddad"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	traceID := ""
	if parts := strings.Split(resp.Header.Get("traceresponse"), "-"); len(parts) == 4 {
		traceID = parts[1]
	}
	if resp.StatusCode != http.StatusCreated || traceID == "" {
		t.Fatalf("traced registration = %d, traceresponse %q; want 201 with a trace id", resp.StatusCode, resp.Header.Get("traceresponse"))
	}
	if got := waitSMS(t, topo, tracedPhone, 1); got != 1 {
		t.Errorf("SMS of the traced registration = %d; want 1", got)
	}
	submitted := false
	for deadline := time.Now().Add(10 * time.Second); !submitted && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for _, line := range strings.Split(topo.Tail("notification", 2000), "\n") {
			if strings.Contains(line, "notification: message sent") && strings.Contains(line, traceID) {
				submitted = true
			}
		}
	}
	if !submitted {
		t.Errorf("no notification log line \"notification: message sent\" with the registration's trace id %s", traceID)
	}

	if got := waitCount(t, js, subjectRegistered, citizens+1); got != citizens+1 {
		t.Errorf("%s events in the stream = %d; want %d (one per registration)", subjectRegistered, got, citizens+1)
	}
	// Each registration's OTP reached the citizen's phone (the operator's
	// stand-in) exactly once, through auth's outbox, NATS and notification.
	for i := range citizens {
		phone := phoneOf(i)
		if got := waitSMS(t, topo, phone, 1); got != 1 {
			t.Errorf("SMS to citizen %d = %d; want 1", i, got)
		}
	}
	// The OTP of the registration just before the SIGKILL: its event may
	// have been claimed by the killed relay; it is on the phone within
	// seconds of auth being back, not after a lease.
	if msgs := topo.SMS().Messages(phoneOf(citizens / 2)); len(msgs) == 1 {
		late := msgs[0].At.Sub(authBack)
		t.Logf("OTP of the registration before the kill: on the phone %s after auth was restarted", late.Round(time.Millisecond))
		if late > otpAfterRestart {
			t.Errorf("OTP reached the phone %s after auth's restart; want under %s", late, otpAfterRestart)
		}
	}

	// Citizen 0's journey: the phone is verified with the SMS code, login
	// gives loa1, an SMS step-up gives loa2.
	code := smsCode(t, topo.SMS().Messages(phoneOf(0))[0].Text)
	var verified struct {
		PhoneVerified bool `json:"phone_verified"`
	}
	if code, body := a.do("POST", "/v1/auth/otp/challenges/"+firstChallenge+":verify", "", nil, map[string]string{"code": code}, &verified); code != http.StatusOK || !verified.PhoneVerified {
		t.Fatalf("phone verification = %d %s; want 200 phone_verified", code, body)
	}
	var login, stepped struct {
		AccessToken string `json:"access_token"`
		ACR         string `json:"acr"`
	}
	// The JSON login is first-party only: the demo client holds
	// auth:password-login (issue 14 item 7).
	if code, body := a.do("POST", "/v1/auth/login", tok.AccessToken, nil, map[string]string{"national_id": nationalIDOf(0), "password": password}, &login); code != http.StatusOK || login.ACR != "loa1" {
		t.Fatalf("login = %d %s; want 200 at loa1", code, body)
	}
	var ch struct {
		ChallengeID string `json:"challenge_id"`
	}
	if code, body := retryTooMany(func() (int, string) {
		return a.do("POST", "/v1/auth/otp/challenges", login.AccessToken, nil, map[string]string{"method": "sms"}, &ch)
	}); code >= 300 || ch.ChallengeID == "" {
		t.Fatalf("SMS step-up challenge = %d %s; want a challenge", code, body)
	}
	if got := waitSMS(t, topo, phoneOf(0), 2); got != 2 {
		t.Fatalf("SMS to citizen 0 after the step-up challenge = %d; want 2", got)
	}
	code = smsCode(t, topo.SMS().Messages(phoneOf(0))[1].Text)
	if code, body := a.do("POST", "/v1/auth/otp/challenges/"+ch.ChallengeID+":verify", login.AccessToken, nil, map[string]string{"code": code}, &stepped); code != http.StatusOK || stepped.ACR != "loa2" {
		t.Errorf("SMS step-up = %d %s; want 200 at loa2", code, body)
	}

	// The ministry proofs citizen 0 in person; the signature enabler hears
	// of it (auth's citizen_proofed event over NATS) and issues a signing
	// credential to the citizen at loa2, who authorises one hash and signs.
	if code, body := a.do("POST", "/v1/citizens/"+firstCitizen+":proof", tok.AccessToken, nil,
		map[string]string{"evidence": "civil-affairs-office-ramallah"}, nil); code != http.StatusOK {
		t.Fatalf("proof citizen = %d %s; want 200", code, body)
	}
	var cred struct {
		CredentialID   string `json:"credential_id"`
		CertificatePEM string `json:"certificate_pem"`
	}
	// The request names nobody: the certificate names the citizen as auth
	// recorded them (the identity travels sealed in auth's event).
	credDeadline := time.Now().Add(30 * time.Second)
	for {
		code, body := a.do("POST", "/v1/signing/credentials", stepped.AccessToken, nil, map[string]string{}, &cred)
		if code == http.StatusCreated {
			break
		}
		if time.Now().After(credDeadline) {
			t.Fatalf("create credential = %d %s; want 201 once the proofing event has arrived", code, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The AUTH stream holds the identities only sealed: no national ID in
	// clear in any of auth's events.
	if st, err := js.Stream(context.Background(), "AUTH"); err != nil {
		t.Errorf("AUTH stream: %v", err)
	} else if info, err := st.Info(context.Background()); err != nil {
		t.Errorf("AUTH stream info: %v", err)
	} else {
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
			m, err := st.GetMsg(context.Background(), seq)
			if err != nil {
				continue // deleted
			}
			for i := range citizens {
				if bytes.Contains(m.Data, []byte(nationalIDOf(i))) {
					t.Errorf("AUTH stream message %d (%s) holds citizen %d's national ID in clear", seq, m.Subject, i)
				}
			}
		}
	}
	if b, _ := pem.Decode([]byte(cred.CertificatePEM)); b == nil {
		t.Errorf("credential has no PEM certificate")
	} else if c, err := x509.ParseCertificate(b.Bytes); err != nil {
		t.Errorf("credential certificate: %v", err)
	} else if c.Subject.SerialNumber != "PNOPS-"+nationalIDOf(0) || c.Subject.CommonName != "ليلى Haddad" {
		t.Errorf("certificate subject %v; want CN=ليلى Haddad, serialNumber=PNOPS-<citizen 0's national ID>", c.Subject)
	}
	doc := []byte("رخصة بناء 2026/117")
	sum := sha256.Sum256(doc)
	var sad struct {
		SAD string `json:"sad"`
	}
	if code, body := a.do("POST", "/v1/signing/credentials/"+cred.CredentialID+":authorize", stepped.AccessToken, nil, map[string]any{
		"hashes": []string{base64.StdEncoding.EncodeToString(sum[:])}, "hash_algorithm": "sha256"}, &sad); code != http.StatusOK || sad.SAD == "" {
		t.Fatalf("authorize = %d %s; want a SAD", code, body)
	}
	var sig struct {
		Signature []byte `json:"signature"`
	}
	if code, body := a.do("POST", "/v1/signatures", stepped.AccessToken, nil, map[string]any{
		"credential_id": cred.CredentialID, "sad": sad.SAD, "format": "cades",
		"document": base64.StdEncoding.EncodeToString(doc)}, &sig); code >= 300 || len(sig.Signature) == 0 {
		t.Fatalf("sign = %d %s; want a CAdES signature", code, body)
	}

	// A ministry sends an SMS from its own template through the operator.
	var tpl struct {
		ID string `json:"id"`
	}
	if code, body := a.do("POST", "/v1/templates", tok.AccessToken, nil, map[string]string{
		"name": "reminder", "channel": "sms", "language": "ar", "body": "تذكير: موعدك في ((date))."}, &tpl); code >= 300 || tpl.ID == "" {
		t.Fatalf("create template = %d %s", code, body)
	}
	const reminded = "+970599200001"
	if code, body := a.do("POST", "/v1/notifications/sms", tok.AccessToken, nil, map[string]any{
		"phone_number": reminded, "template_id": tpl.ID, "personalisation": map[string]string{"date": "2026-12-01"}}, nil); code != http.StatusCreated {
		t.Fatalf("send SMS = %d %s; want 201", code, body)
	}
	if got := waitSMS(t, topo, reminded, 1); got != 1 {
		t.Errorf("SMS from the ministry's template = %d; want 1", got)
	}

	// The ministry publishes an e-service description; the public reads it.
	for _, role := range []string{"author", "editor", "publisher"} {
		if code, body := a.do("POST", "/v1/content/ministries/moh/roles", tok.AccessToken, nil,
			map[string]string{"subject": demo.ClientID, "role": role}, nil); code != http.StatusOK {
			t.Fatalf("grant %s = %d %s", role, code, body)
		}
	}
	var item struct {
		ID string `json:"id"`
	}
	if code, body := a.do("POST", "/v1/content/items", tok.AccessToken, nil, map[string]any{
		"type": "news", "ministry": "moh", "tags": []string{"vaccination"},
		"translations": map[string]any{
			"ar": map[string]any{"slug": "حملة-تطعيم", "title": "حملة التطعيم الشتوية", "summary": "تبدأ الحملة في كانون الأول.", "body": "تفاصيل **الحملة**."},
			"en": map[string]any{"slug": "winter-vaccination", "title": "Winter vaccination campaign", "summary": "Starts in December.", "body": "The **campaign** details."},
		}}, &item); code != http.StatusCreated || item.ID == "" {
		t.Fatalf("create content item = %d %s", code, body)
	}
	// Four-eyes: the app submits, and a second person approves — citizen 0
	// as the ministry's staff editor — before the app publishes.
	if code, body := a.do("POST", "/v1/content/ministries/moh/roles", tok.AccessToken, nil,
		map[string]string{"subject": firstCitizen, "role": "editor"}, nil); code != http.StatusOK {
		t.Fatalf("grant editor to citizen 0 = %d %s", code, body)
	}
	for _, step := range []struct{ action, token string }{
		{":submit", tok.AccessToken}, {":approve", stepped.AccessToken}, {":publish", tok.AccessToken},
	} {
		if code, body := a.do("POST", "/v1/content/items/"+item.ID+step.action, step.token, nil, map[string]string{}, nil); code != http.StatusOK {
			t.Fatalf("content %s = %d %s", step.action, code, body)
		}
	}
	if code, body := a.do("GET", "/v1/public/content/winter-vaccination?lang=en", "", nil, nil, nil); code != http.StatusOK {
		t.Errorf("public read of the published item = %d %s; want 200", code, body)
	}

	// Every process's operations listener exports the families the
	// runbook names, with the traffic above counted (issue 16 item 3),
	// before the payment crash resets its counters.
	checkOpsMetrics(t, topo)

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
	if code, body := ops.do("GET", "/readyz", "", nil, nil, nil); code != http.StatusOK {
		t.Errorf("GET /readyz after the restarts = %d %s; want 200", code, body)
	}
	// The security server's duties are on, as in tamkeen dev: the calls
	// above are in the gateway's audit chain, time-stamped by the
	// signature enabler's TSA, and metered; a client without a right is
	// refused.
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	var auditOK string
	for {
		out, err := topo.Tool(ctx, distributed.Gateway, "audit", "verify")
		if err != nil {
			t.Fatalf("tamkeen audit verify: %v\n%s", err, out)
		}
		auditOK = out
		if !strings.Contains(out, "no time-stamp yet") || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !regexp.MustCompile(`^OK: [1-9]\d* records in chains \[gateway-0\]; [1-9]\d* time-stamps verified`).MatchString(auditOK) {
		t.Errorf("tamkeen audit verify = %q; want records in chain gateway-0 and verified time-stamps", auditOK)
	}
	usage, err := topo.Tool(ctx, distributed.Gateway, "usage", "report", "--month", time.Now().UTC().Format("2006-01"), "--client", demo.ClientID, "--csv", "-", "-o", "json")
	if err != nil || !regexp.MustCompile(`"client_id":\s*"`+regexp.QuoteMeta(demo.ClientID)+`"`).MatchString(usage) {
		t.Errorf("tamkeen usage report = %v %s; want the demo client's metered calls", err, usage)
	}
	if _, err := topo.Tool(ctx, distributed.Gateway, "rights", "revoke", "--id", demo.ClientID, "--right", "*"); err != nil {
		t.Fatal(err)
	}
	refused := func() bool {
		code, _ := a.do("GET", "/v1/payments/"+created.ID, tok.AccessToken, nil, nil, nil)
		return code == http.StatusForbidden
	}
	for end := time.Now().Add(15 * time.Second); !refused() && time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
	}
	if !refused() {
		t.Error("a read without any access right was not refused 403 (rights not enforced)")
	}

	// No process logged a citizen's national id or phone number.
	for _, name := range topo.Processes() {
		if log := topo.Tail(name, 1000); strings.Contains(log, "400010") || strings.Contains(log, "9705991") {
			t.Errorf("the %s log holds a national id or phone number", name)
		}
	}
}

// opsMetrics are the families each process's /metrics must have after the
// smoke test's traffic: counted > 0, or (present) merely exported.
var opsMetrics = map[string]struct{ counted, present []string }{
	distributed.Gateway: {
		counted: []string{"gateway_http_requests_total", "gateway_audit_writes_total", "gateway_audit_timestamps_total", "gateway_rate_limit_decisions_total"},
		present: []string{"gateway_http_request_duration_seconds", "gateway_audit_chain_head_age_seconds", "gateway_audit_timestamp_lag_seconds", "gateway_rate_limit_degraded"},
	},
	"auth": {
		counted: []string{"tamkeen_auth_logins_total", "tamkeen_auth_otp_sends_total", "tamkeen_auth_otp_verifications_total", "tamkeen_events_outbox_published_total"},
		present: []string{"tamkeen_auth_lockouts_total", "tamkeen_events_outbox_pending", "tamkeen_events_outbox_oldest_age_seconds", "tamkeen_events_outbox_publish_seconds"},
	},
	"notification": {
		counted: []string{"tamkeen_notification_messages_total", "tamkeen_notification_sms_segments_total", "tamkeen_events_consumer_deliveries_total", "tamkeen_events_consumer_handling_seconds"},
		present: []string{"tamkeen_events_consumer_redeliveries_total", "tamkeen_events_outbox_pending"},
	},
	"payment": {
		counted: []string{"tamkeen_payment_transitions_total", "tamkeen_payment_webhook_verifications_total", "tamkeen_payment_ledger_postings_total", "tamkeen_events_outbox_published_total"},
		present: []string{"tamkeen_events_outbox_pending", "tamkeen_events_outbox_oldest_age_seconds"},
	},
	"signature": {
		counted: []string{"tamkeen_signature_timestamps_total", "tamkeen_signature_certificate_expiry_timestamp_seconds"},
		present: []string{"tamkeen_signature_signatures_total", "tamkeen_events_outbox_pending"},
	},
	"content": {
		counted: []string{"tamkeen_content_publications_total", "tamkeen_events_outbox_published_total"},
		present: []string{"tamkeen_content_expiries_total", "tamkeen_events_outbox_pending"},
	},
}

// checkOpsMetrics scrapes every process's ops listener until its families
// are there and counted (the audit head is time-stamped every 2 s, so the
// TSA's count may take a moment), for up to 20 s.
func checkOpsMetrics(t *testing.T, topo *distributed.Topology) {
	t.Helper()
	for name, want := range opsMetrics {
		var missing []string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			got := scrapeOps(t, topo.OpsURL(name)+"/metrics")
			missing = missing[:0]
			for _, f := range want.counted {
				if v, ok := got[f]; !ok || v <= 0 {
					missing = append(missing, f+" (not counted)")
				}
			}
			for _, f := range want.present {
				if _, ok := got[f]; !ok {
					missing = append(missing, f+" (absent)")
				}
			}
			if len(missing) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s's ops /metrics after the traffic: %s", name, strings.Join(missing, ", "))
		}
	}
}

// scrapeOps reads a /metrics page: each family's samples summed (counter
// and gauge values, histogram and summary counts).
func scrapeOps(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	out := map[string]float64{}
	for name, f := range families {
		sum := 0.0
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.Summary != nil:
				sum += float64(m.GetSummary().GetSampleCount())
			}
		}
		out[name] = sum
	}
	return out
}
