package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// clientToken is a bearer client token of clientID with every scope.
func clientToken(t testing.TB, s *stack, clientID string) string {
	t.Helper()
	return bearer(s.key.sign(t, with(clientClaims(s.clock.Now(), clientID, allScopes...),
		map[string]any{"exp": s.clock.Now().Add(time.Hour).Unix()}), nil))
}

const (
	paymentBody = `{"amount":"1000","currency":"ILS","splits":[{"account":"dept:land","amount":"1000"}]}`
	smsBody     = `{"phone_number":"+970599000001","template_id":"%s"}`
)

// TestRightsDenyByDefaultAndReachEveryReplica is the must-show: a client
// without a right gets 403 naming it; a grant made through one replica's
// database takes effect on a second replica within 5 s, without restart,
// and so does the revocation.
func TestRightsDenyByDefaultAndReachEveryReplica(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "gateway.db")
	dbA := migrate(t, storetest.SQLiteFile(t, path))
	dbB := storetest.SQLiteFile(t, path)
	cfg := gateway.Config{EnforceRights: true}
	a := newStack(t, stackOpts{noNATS: true, cfg: cfg, db: dbA})
	b := newStack(t, stackOpts{noNATS: true, cfg: cfg, db: dbB, share: a})
	tok := clientToken(t, a, "moh-portal")
	pay := func(s *stack) (*http.Response, []byte) {
		return s.do(t, http.MethodPost, "/v1/payments", strings.NewReader(paymentBody),
			map[string]string{"Authorization": tok, "Content-Type": "application/json"})
	}
	for name, s := range map[string]*stack{"A": a, "B": b} {
		resp, body := pay(s)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("replica %s before the grant = %d; want 403 (body %s)", name, resp.StatusCode, body)
		}
		p := problem(t, resp, body)
		if p.Type != "urn:tamkeen:problem:missing-right" || p.MissingRight != "payment/CreatePayment" ||
			!strings.Contains(p.Detail, "payment/CreatePayment") {
			t.Errorf("replica %s problem = %+v; want missing-right naming payment/CreatePayment", name, p)
		}
	}
	s := a.rec
	s.mu.Lock()
	reached := s.payment != nil
	s.mu.Unlock()
	if reached {
		t.Fatal("a refused payment reached the payment service")
	}

	// Both replicas have loaded the table; the grant goes through A's
	// database handle, as `tamkeen clients grant` would.
	rights := gateway.NewRights(dbA, nil)
	if err := rights.Grant(context.Background(), gateway.Right{ClientID: "moh-portal", Service: "payment", Operation: "CreatePayment"}); err != nil {
		t.Fatal(err)
	}
	granted := time.Now()
	waitStatus := func(want int) time.Duration {
		t.Helper()
		for {
			resp, body := pay(b)
			if resp.StatusCode == want {
				return time.Since(granted)
			}
			if time.Since(granted) > 5*time.Second {
				t.Fatalf("replica B still answers %d 5 s after the change; want %d (body %s)", resp.StatusCode, want, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("grant effective on replica B after %v", waitStatus(http.StatusCreated))

	// Other operations of the service are still denied.
	resp, body := b.do(t, http.MethodGet, "/v1/payments/pay_1", nil, map[string]string{"Authorization": tok})
	if p := problem(t, resp, body); resp.StatusCode != http.StatusForbidden || p.MissingRight != "payment/GetPayment" {
		t.Errorf("GetPayment with only CreatePayment = %d %q; want 403 naming payment/GetPayment", resp.StatusCode, p.MissingRight)
	}

	if ok, err := rights.Revoke(context.Background(), "moh-portal", "payment/CreatePayment"); err != nil || !ok {
		t.Fatalf("Revoke = %v, %v; want true", ok, err)
	}
	granted = time.Now()
	t.Logf("revocation effective on replica B after %v", waitStatus(http.StatusForbidden))
}

// TestRightsNarrowing checks rights limited to templates, departments and
// ministries against the ids the decoded request names; a refused call
// never reaches the service.
func TestRightsNarrowing(t *testing.T) {
	t.Parallel()
	db := migrate(t, storetest.SQLite(t))
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{EnforceRights: true}, db: db})
	ctx := context.Background()
	rights := gateway.NewRights(db, nil)
	for _, r := range []gateway.Right{
		{ClientID: "moh", Service: "notification", Operation: "SendSms", Templates: []string{"tpl_ok", "tpl_ok2"}},
		{ClientID: "moh", Service: "payment", Operation: "CreatePayment", Departments: []string{"land"}},
		{ClientID: "moh", Service: "content", Operation: Wildcard(), Ministries: []string{"moh"}},
		{ClientID: "admin", Service: "*"},
	} {
		if err := rights.Grant(ctx, r); err != nil {
			t.Fatalf("Grant %v: %v", r, err)
		}
	}
	moh, admin := clientToken(t, s, "moh"), clientToken(t, s, "admin")
	tests := []struct {
		name, tok, method, path, body string
		want                          int
		missing                       string
	}{
		{"listed template", moh, "POST", "/v1/notifications/sms", fmt.Sprintf(smsBody, "tpl_ok"), 201, ""},
		{"other template", moh, "POST", "/v1/notifications/sms", fmt.Sprintf(smsBody, "tpl_other"), 403, "notification/SendSms template tpl_other"},
		{"no e-mail right", moh, "POST", "/v1/notifications/email", `{"email_address":"a@b.ps","template_id":"tpl_ok"}`, 403, "notification/SendEmail"},
		{"listed department", moh, "POST", "/v1/payments", paymentBody, 201, ""},
		{"other department", moh, "POST", "/v1/payments", strings.ReplaceAll(paymentBody, "dept:land", "dept:tax"), 403, "payment/CreatePayment department tax"},
		{"payment naming no department", moh, "POST", "/v1/payments", `{"amount":"5","currency":"ILS"}`, 201, ""},
		{"listed ministry", moh, "POST", "/v1/content/items", `{"type":"faq","ministry":"moh"}`, 201, ""},
		{"other ministry", moh, "POST", "/v1/content/items", `{"type":"faq","ministry":"mof"}`, 403, "content/CreateItem ministry mof"},
		{"content call naming no ministry", moh, "GET", "/v1/content/items/cnt_1", "", 200, ""},
		{"wildcard right", admin, "POST", "/v1/notifications/sms", fmt.Sprintf(smsBody, "tpl_any"), 201, ""},
		{"unknown client", clientToken(t, s, "nobody"), "GET", "/v1/content/items/cnt_1", "", 403, "content/GetItem"},
		{"citizen tokens are not subject to client rights", bearer(s.key.sign(t, citizenClaims(s.clock.Now(), "cit_1", "loa1", s.clock.Now()), nil)),
			"GET", "/v1/signing/credentials", "", 200, ""},
		{"public routes need no right", "", "GET", "/v1/signing/ca", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.rec.mu.Lock()
			before := s.rec.sms
			s.rec.mu.Unlock()
			resp, body := s.do(t, tt.method, tt.path, strings.NewReader(tt.body), map[string]string{"Authorization": tt.tok, "Content-Type": "application/json"})
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, body)
			}
			if tt.missing != "" {
				if p := problem(t, resp, body); p.MissingRight != tt.missing || p.Type != "urn:tamkeen:problem:missing-right" {
					t.Errorf("missing_right = %q (type %s); want %q", p.MissingRight, p.Type, tt.missing)
				}
				s.rec.mu.Lock()
				after := s.rec.sms
				s.rec.mu.Unlock()
				if after != before {
					t.Errorf("a refused SMS reached the notification service")
				}
			}
		})
	}
}

// Wildcard is gateway.Wildcard, as a function so the table reads well.
func Wildcard() string { return gateway.Wildcard }

func TestRightNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		svc, op string
		bad     bool
	}{
		{in: "*", svc: "*", op: "*"},
		{in: "payment/*", svc: "payment", op: "*"},
		{in: "notification/SendSms", svc: "notification", op: "SendSms"},
		{in: "payment", bad: true},
		{in: "bank/*", bad: true},
		{in: "payment/Steal", bad: true},
		{in: "/CreatePayment", bad: true},
	}
	for _, tt := range tests {
		svc, op, err := gateway.ParseRight(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (svc != tt.svc || op != tt.op)) {
			t.Errorf("ParseRight(%q) = %q, %q, %v; want %q, %q, bad %v", tt.in, svc, op, err, tt.svc, tt.op, tt.bad)
		}
	}
}

// TestRateLimitSharedAcrossReplicas is the must-show: two replicas share
// one JetStream KV token bucket per client and class, so a client that
// sends 40 calls at once across both (burst 10, rate 1/s, clock stopped)
// gets exactly 10 through and 30 answered 429, and then exactly as many
// as the refill allows.
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	// A generous deadline on the shared bucket: this test is about sharing,
	// and on a loaded machine the default 250 ms made the replicas limit on
	// their own (21 passed instead of 10).
	cfg := gateway.Config{RateLimits: []string{"write=1/10", "read=100/100"}, RateLimitTimeout: 10 * time.Second}
	a := newStack(t, stackOpts{cfg: cfg})
	a.clock.Freeze()
	b := newStack(t, stackOpts{cfg: cfg, share: a})
	tok := clientToken(t, a, "moh-portal")
	send := func(s *stack) (*http.Response, []byte) {
		return s.do(t, http.MethodPost, "/v1/content/items", strings.NewReader(`{"type":"faq","ministry":"moh"}`),
			map[string]string{"Authorization": tok, "Content-Type": "application/json"})
	}
	burst := func(n int) (ok, limited int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				resp, body := send(s)
				mu.Lock()
				defer mu.Unlock()
				switch resp.StatusCode {
				case http.StatusCreated:
					ok++
				case http.StatusTooManyRequests:
					limited++
					p := problem(t, resp, body)
					if p.Type != "urn:tamkeen:problem:rate-limited" || resp.Header.Get("Retry-After") != "1" ||
						resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Limit") != "10" {
						t.Errorf("429: type %s Retry-After %q RateLimit-Remaining %q RateLimit-Limit %q", p.Type,
							resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit-Remaining"), resp.Header.Get("RateLimit-Limit"))
					}
				default:
					t.Errorf("status %d: %s", resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
		return ok, limited
	}
	if ok, limited := burst(40); ok != 10 || limited != 30 {
		t.Fatalf("40 calls across two replicas: %d passed, %d limited; want 10 and 30", ok, limited)
	}
	a.clock.Advance(3 * time.Second)
	if ok, limited := burst(8); ok != 3 || limited != 5 {
		t.Fatalf("after 3 s at 1/s: %d passed, %d limited; want 3 and 5", ok, limited)
	}
	// Another class and another client have buckets of their own.
	if resp, body := b.do(t, http.MethodGet, "/v1/content/items/cnt_1", nil, map[string]string{"Authorization": tok}); resp.StatusCode != 200 ||
		resp.Header.Get("RateLimit-Limit") != "100" {
		t.Errorf("read call = %d RateLimit-Limit %q; want 200 with the read class's limit (body %s)", resp.StatusCode, resp.Header.Get("RateLimit-Limit"), body)
	}
	other := clientToken(t, a, "mof-portal")
	if resp, body := a.do(t, http.MethodPost, "/v1/content/items", strings.NewReader(`{"type":"faq"}`),
		map[string]string{"Authorization": other, "Content-Type": "application/json"}); resp.StatusCode != http.StatusCreated {
		t.Errorf("another client = %d; want 201 (body %s)", resp.StatusCode, body)
	}
}

func TestParseRateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   []string
		want map[string]gateway.RateLimit
		bad  bool
	}{
		{in: nil, want: map[string]gateway.RateLimit{}},
		{in: []string{"write=10/20", "read=0.5/1"}, want: map[string]gateway.RateLimit{"write": {Rate: 10, Burst: 20}, "read": {Rate: 0.5, Burst: 1}}},
		{in: []string{"write=10"}, bad: true},
		{in: []string{"admin=1/1"}, bad: true},
		{in: []string{"write=0/1"}, bad: true},
		{in: []string{"write=1/0"}, bad: true},
		{in: []string{"write=NaN/1"}, bad: true},
	}
	for _, tt := range tests {
		got, err := gateway.ParseRateLimits(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("ParseRateLimits(%q) error = %v; want bad %v", tt.in, err, tt.bad)
			continue
		}
		if !tt.bad && fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ParseRateLimits(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
	if _, err := gateway.New(gateway.Config{RateLimits: []string{"write=1/1"}}, gateway.Deps{}); err == nil {
		t.Error("New with rate limits and no NATS succeeded; want a configuration error")
	}
}

// TestConcurrencyLimitSheds holds the only slot with a call the service
// blocks, and checks the next call is shed with 503 and Retry-After
// without reaching the service, and that the slot comes back.
func TestConcurrencyLimitSheds(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{MaxConcurrent: 1}})
	gate, entered := make(chan struct{}), make(chan struct{}, 1)
	s.rec.mu.Lock()
	s.rec.gate, s.rec.entered = gate, entered
	s.rec.mu.Unlock()
	done := make(chan int)
	go func() {
		resp, _ := s.do(t, http.MethodGet, "/v1/content/items/block", nil, nil)
		done <- resp.StatusCode
	}()
	select {
	case <-entered:
	case code := <-done:
		t.Fatalf("the blocking call ended with %d before reaching the service", code)
	}
	resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_2", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("call beyond the limit = %d; want 503 (body %s)", resp.StatusCode, body)
	}
	if p := problem(t, resp, body); p.Type != "urn:tamkeen:problem:overloaded" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("shed: type %s Retry-After %q", p.Type, resp.Header.Get("Retry-After"))
	}
	// The gateway's own endpoints are never shed, nor the ops listener.
	if resp, _ := s.do(t, http.MethodGet, "/openapi.json", nil, nil); resp.StatusCode != 200 {
		t.Errorf("/openapi.json while saturated = %d; want 200", resp.StatusCode)
	}
	if resp, _ := s.opsGet(t, "/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz while saturated = %d; want 200", resp.StatusCode)
	}
	close(gate)
	if code := <-done; code != 200 {
		t.Fatalf("blocked call = %d; want 200", code)
	}
	if resp, body := s.do(t, http.MethodGet, "/v1/content/items/cnt_2", nil, nil); resp.StatusCode != 200 {
		t.Errorf("after the slot is free = %d; want 200 (body %s)", resp.StatusCode, body)
	}
}

// TestRateLimiterDegradesToLocalAndRecovers is the fault the probe found
// (issue 16): with the JetStream store gone, every call used to wait and
// then pass unlimited, and /readyz said ready. Now the replica limits with
// buckets of its own within the KV deadline, /readyz says degraded, and
// the shared bucket takes over again by itself once the store is back.
func TestRateLimiterDegradesToLocalAndRecovers(t *testing.T) {
	t.Parallel()
	cfg := gateway.Config{RateLimits: []string{"write=1/5"}, RateLimitTimeout: 500 * time.Millisecond, RateLimitRetry: time.Second}
	s := newStack(t, stackOpts{cfg: cfg})
	s.clock.Freeze()
	tok := clientToken(t, s, "moh-portal")
	burst := func(n int) (ok, limited int) {
		for range n {
			resp, body := s.do(t, http.MethodPost, "/v1/content/items", strings.NewReader(`{"type":"faq","ministry":"moh"}`),
				map[string]string{"Authorization": tok, "Content-Type": "application/json"})
			switch resp.StatusCode {
			case http.StatusCreated:
				ok++
			case http.StatusTooManyRequests:
				limited++
			default:
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
		}
		return ok, limited
	}
	ready := func() string {
		t.Helper()
		resp, body := s.opsGet(t, "/readyz")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/readyz = %d %s; want 200 (a degraded limiter is still ready)", resp.StatusCode, body)
		}
		return string(body)
	}
	degradedGauge := func() string {
		t.Helper()
		_, body := s.opsGet(t, "/metrics")
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "gateway_rate_limit_degraded ") {
				return strings.TrimPrefix(l, "gateway_rate_limit_degraded ")
			}
		}
		t.Fatalf("/metrics has no gateway_rate_limit_degraded")
		return ""
	}

	if ok, limited := burst(2); ok != 2 || limited != 0 {
		t.Fatalf("shared bucket: %d passed, %d limited; want 2 and 0", ok, limited)
	}
	if body := ready(); !strings.Contains(body, `"status":"ready"`) || !strings.Contains(body, `"ratelimit":"SHARED"`) {
		t.Fatalf("/readyz before the outage = %s; want ready with ratelimit SHARED", body)
	}

	js := s.nats.NATS()
	jsCfg := *js.JetStreamConfig()
	if err := js.DisableJetStream(); err != nil {
		t.Fatalf("disable JetStream: %v", err)
	}
	// The replica's own bucket starts full (burst 5) and the clock stands
	// still: 5 of 10 pass. Before, all 10 passed.
	if ok, limited := burst(10); ok != 5 || limited != 5 {
		t.Fatalf("store away: %d passed, %d limited; want 5 and 5 (limited locally, not unlimited)", ok, limited)
	}
	if body := ready(); !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"ratelimit":"LOCAL since `) {
		t.Fatalf("/readyz during the outage = %s; want status degraded with ratelimit LOCAL", body)
	}
	if g := degradedGauge(); g != "1" {
		t.Errorf("gateway_rate_limit_degraded = %s during the outage; want 1", g)
	}

	if err := js.EnableJetStream(&jsCfg); err != nil {
		t.Fatalf("enable JetStream: %v", err)
	}
	// Once JetStream is back (in real time), after RateLimitRetry on the
	// gateway's clock the next call asks the store again, binds the bucket
	// anew (the in-memory store came back empty) and the shared bucket
	// decides again.
	deadline := time.Now().Add(20 * time.Second)
	for !js.JetStreamEnabled() {
		if time.Now().After(deadline) {
			t.Fatal("JetStream did not come back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.clock.Advance(2 * time.Second)
	burst(1)
	if body := ready(); !strings.Contains(body, `"ratelimit":"SHARED"`) {
		t.Fatalf("/readyz after the store came back = %s; want ratelimit SHARED", body)
	}
	if body := ready(); !strings.Contains(body, `"status":"ready"`) {
		t.Errorf("/readyz after recovery = %s; want ready", body)
	}
	if g := degradedGauge(); g != "0" {
		t.Errorf("gateway_rate_limit_degraded = %s after recovery; want 0", g)
	}
	if ok, limited := burst(10); ok == 10 || limited == 0 {
		t.Errorf("after recovery: %d passed, %d limited; want the shared bucket to limit again", ok, limited)
	}
}
