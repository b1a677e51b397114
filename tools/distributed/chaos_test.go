package distributed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tamkeen/tamkeen/tools/distributed"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// chaosWorkers is how many clients run the scripted load at once.
const chaosWorkers = 3

// chaosGap is the pause between one component back and the next kill.
const chaosGap = 2 * time.Second

// chaosRecovery bounds how long the platform may take to be ready again
// after a kill (PostgreSQL's crash recovery and every pool's reconnect
// included); a pass mark for a loaded CI machine, not a measurement.
const chaosRecovery = 90 * time.Second

// chaosRetry is how long a client keeps retrying one call (503, 502,
// 504, a cut connection) with the same Idempotency-Key.
const chaosRetry = 2 * time.Minute

// TestKillEverything runs the production topology on a PostgreSQL server
// and a NATS server of its own and, while a scripted load runs (citizen
// registrations with their OTP SMS, payments paid through the sandbox
// acquirer, SMS sends, content publishes), SIGKILLs each of the seven
// processes in turn (and starts it again), then SIGKILLs the NATS server
// (a nats-server process) and restarts it on the same store and port,
// then stops PostgreSQL immediately and starts it again (issue 16 item 5). It then
// asserts that every request answered 2xx had its effect exactly once:
// the OTP and the SMS at the operator's sink, the payment in the payment
// database (and the ledger balancing), the call in the gateway's audit
// chain (which verifies), the published item in the content store; and
// that every process is ready again with no manual step — the NATS and
// PostgreSQL outages were ridden out by the same processes.
func TestKillEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, NATS and seven processes and kills them: not with -short")
	}
	if _, err := distributed.FindPostgresBin(); err != nil {
		if os.Getenv("TAMKEEN_TEST_SKIP_CHAOS") == "1" {
			t.Skipf("TAMKEEN_TEST_SKIP_CHAOS=1: %v", err)
		}
		t.Fatalf("%v (or set TAMKEEN_TEST_SKIP_CHAOS=1 to skip the chaos test)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := distributed.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	began := time.Now()
	if err := distributed.Build(ctx, root, bin, distributed.BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the binaries in %s", time.Since(began).Round(time.Millisecond))

	pg, err := distributed.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Destroy)
	work := t.TempDir()
	ns := &chaosNATS{dir: filepath.Join(work, "nats-store")}
	if err := ns.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.kill)

	topo, err := distributed.Start(ctx, distributed.Options{
		RepoRoot: root, WorkDir: filepath.Join(work, "topology"), BinDir: bin,
		PostgresURL: pg.AdminURL(), NATSURL: ns.url(),
		Env: map[string]map[string]string{
			// The load is several clients from one address.
			distributed.Gateway: {"TAMKEEN_RATE_LIMITS": "read=1000/2000,write=1000/2000,public=1000/2000", "TAMKEEN_AUDIT_STAMP_INTERVAL": "2s"},
			// The load's app is the ministry's one-person content team.
			"content": {"TAMKEEN_CONTENT_FOUR_EYES_OFF": "moh"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range topo.Processes() {
				t.Logf("--- %s (last lines)\n%s\n--- %s (its last errors)\n%s", name, topo.Tail(name, 15), name, lastErrors(topo.LogFile(name), 20))
			}
		}
		topo.Stop()
	})
	t.Logf("topology ready in %s at %s", time.Since(began).Round(time.Millisecond), topo.URL())

	// The app's set-up: a template for its SMS, its content roles.
	setup := newChaosClient(topo.URL(), topo.ClientSecret())
	if err := setup.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		ID string `json:"id"`
	}
	if r := setup.call(ctx, "POST", "/v1/templates", "", map[string]string{
		"name": "chaos", "channel": "sms", "language": "ar", "body": "موعدك ((n))."}, &tpl); !r.ok() || tpl.ID == "" {
		t.Fatalf("create template = %d %v", r.code, r.err)
	}
	for _, role := range []string{"author", "editor", "publisher"} {
		if r := setup.call(ctx, "POST", "/v1/content/ministries/moh/roles", "", map[string]string{"subject": demo.ClientID, "role": role}, nil); !r.ok() {
			t.Fatalf("grant %s = %d %v", role, r.code, r.err)
		}
	}

	// The load runs until the last component is back.
	loadCtx, stopLoad := context.WithCancel(ctx)
	res := &chaosResult{}
	var wg sync.WaitGroup
	for w := range chaosWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chaosLoad(loadCtx, newChaosClient(topo.URL(), topo.ClientSecret()), tpl.ID, w, res)
		}()
	}

	// The kills, in turn, a few seconds apart.
	var kills []chaosKill
	pids := map[string]int{}
	allReady := func(since time.Time) time.Duration {
		t.Helper()
		for {
			ready := true
			for _, name := range topo.Processes() {
				if !topo.Ready(ctx, name) {
					ready = false
					break
				}
			}
			if ready {
				return time.Since(since)
			}
			if time.Since(since) > chaosRecovery {
				stopLoad()
				wg.Wait()
				t.Fatalf("not every process ready %s after the kill", chaosRecovery)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	sleepCtx(ctx, chaosGap)
	for _, name := range topo.Processes() {
		killed := time.Now()
		if err := topo.Kill(name); err != nil {
			t.Fatal(err)
		}
		if err := topo.Restart(ctx, name); err != nil {
			t.Fatal(err)
		}
		kills = append(kills, chaosKill{name, allReady(killed)})
		sleepCtx(ctx, chaosGap)
	}
	for _, name := range topo.Processes() {
		pids[name] = topo.Pid(name)
	}
	killed := time.Now()
	ns.kill()
	sleepCtx(ctx, time.Second)
	if err := ns.start(); err != nil {
		t.Fatal(err)
	}
	kills = append(kills, chaosKill{"nats", allReady(killed)})
	sleepCtx(ctx, chaosGap)
	killed = time.Now()
	if err := pg.StopImmediate(ctx); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, time.Second)
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	kills = append(kills, chaosKill{"postgresql", allReady(killed)})
	// The platform serves again: each kind of call is answered 2xx after
	// the last component is back, with no step of ours in between.
	before := res.counts()
	for deadline := time.Now().Add(chaosRecovery); ; sleepCtx(ctx, 200*time.Millisecond) {
		now, done := res.counts(), true
		for i := range now {
			done = done && now[i] > before[i]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("2xx after PostgreSQL came back (registrations, payments, SMS, publishes): %v, before %v; want more of each within %s (the workers: %s)", now, before, chaosRecovery, res.stepsNow())
			break
		}
	}
	stopLoad()
	wg.Wait()
	for _, name := range topo.Processes() {
		if got := topo.Pid(name); got != pids[name] {
			t.Errorf("%s was restarted (pid %d, then %d) across the NATS and PostgreSQL kills; want it to ride them out", name, pids[name], got)
		}
	}

	// Every 2xx has its effect exactly once.
	res.mu.Lock()
	defer res.mu.Unlock()
	otps, sms := checkSink(t, topo, res.phones, "registration's OTP"), checkSink(t, topo, res.smsPhones, "sent SMS")
	var lateness time.Duration // the latest OTP, from the 201 to the sink
	for _, p := range res.phones {
		if m := topo.SMS().Messages(p); len(m) > 0 {
			lateness = max(lateness, m[0].At.Sub(res.accepted[p]))
		}
	}
	payments := checkPayments(ctx, t, topo, res)
	published := checkContent(ctx, t, topo, res.slugs)
	audited := checkAudit(ctx, t, topo, res.requestIDs)
	if out, err := topo.Tool(ctx, "payment", "ledger", "check"); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("tamkeen ledger check = %v %q; want OK", err, out)
	}

	var downtime []string
	for _, k := range kills {
		downtime = append(downtime, fmt.Sprintf("%s %.1fs", k.name, k.down.Seconds()))
	}
	t.Logf("kill everything: %d kills (%s); %d calls (%d HTTP requests), %d answered 2xx, %d retried, no 2xx: %v (%d cut by the load's end); "+
		"effects exactly once: OTP SMS %d of %d registrations (the latest %.1fs after its 201), SMS %d of %d sends, payments in the database %d of %d (%d paid), published items %d of %d, audit records %d of %d 2xx; run %s",
		len(kills), strings.Join(downtime, ", "), res.calls, res.requests, len(res.requestIDs), res.retried, res.failed, res.stopped,
		otps, len(res.phones), lateness.Seconds(), sms, len(res.smsPhones), payments, len(res.payments), len(res.paid), published, len(res.slugs), audited, len(res.requestIDs),
		time.Since(began).Round(time.Second))
}

type chaosKill struct {
	name string
	down time.Duration // from the kill to every process ready
}

// chaosNATS is the topology's NATS server: a nats-server process of its
// own (Debian's, as production runs one), which the test SIGKILLs and
// starts again on the same port and JetStream store.
type chaosNATS struct {
	dir  string
	port int
	cmd  *exec.Cmd
}

func (n *chaosNATS) start() error {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		return fmt.Errorf("nats-server is not installed (deploy/local/ensure-services.sh installs it): %w", err)
	}
	if n.port == 0 {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		n.port = lis.Addr().(*net.TCPAddr).Port
		lis.Close()
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-js", "-sd", n.dir, "--server_name", "tamkeen-chaos")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.cmd = cmd
	// Ready when JetStream answers.
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(n.url(), nats.Timeout(time.Second))
		if err == nil {
			js, jerr := jetstream.New(nc)
			if jerr == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, jerr = js.AccountInfo(ctx)
				cancel()
			}
			nc.Close()
			if jerr == nil {
				return nil
			}
			err = jerr
		}
		if time.Now().After(deadline) {
			n.kill()
			return fmt.Errorf("nats-server on port %d not ready: %w", n.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *chaosNATS) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// kill SIGKILLs the server: no clean close of its store.
func (n *chaosNATS) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

// chaosResult is what the load saw answered 2xx.
type chaosResult struct {
	mu         sync.Mutex
	requests   int                  // HTTP requests sent, retries included
	retried    int                  // calls that needed a retry
	calls      int                  // calls made (a call's retries are one)
	failed     map[string]int       // calls answered no 2xx in the end, by status
	stopped    int                  // calls cut because the load stopped
	requestIDs map[string]string    // X-Request-Id of each 2xx → route
	phones     []string             // accepted registrations' phones
	accepted   map[string]time.Time // when each phone's registration was answered
	citizens   []string             // and their ids
	payments   map[string]string    // accepted payments: reference → id
	paid       []string             // payments seen succeeded
	smsPhones  []string             // accepted SMS sends' phones
	slugs      []string             // items whose publish was answered 200
	steps      map[int]string       // what each worker does now (for a stall's report)
}

// step notes what worker w does now.
func (r *chaosResult) step(w int, what string) {
	r.add(func() {
		if r.steps == nil {
			r.steps = map[int]string{}
		}
		r.steps[w] = what + " since " + time.Now().UTC().Format("15:04:05.000")
	})
}

func (r *chaosResult) stepsNow() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.steps)
}

func (r *chaosResult) record(route string, res chaosResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(res.err, context.Canceled) {
		r.stopped++
		return
	}
	r.calls++
	r.requests += res.attempts
	if res.attempts > 1 {
		r.retried++
	}
	if !res.ok() {
		if r.failed == nil {
			r.failed = map[string]int{}
		}
		status := fmt.Sprint(res.code)
		if res.err != nil {
			status = "cut" // a connection cut past chaosRetry
		}
		r.failed[route+" "+status]++
	}
	if res.ok() {
		if r.requestIDs == nil {
			r.requestIDs = map[string]string{}
		}
		r.requestIDs[res.requestID] = route
	}
}

// counts are the registrations, payments, SMS sends and publishes
// answered 2xx so far.
func (r *chaosResult) counts() [4]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return [4]int{len(r.phones), len(r.payments), len(r.smsPhones), len(r.slugs)}
}

func (r *chaosResult) add(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// chaosLoad is one client's script, round after round until ctx ends:
// a registration, a payment paid on the sandbox checkout, an SMS send,
// a content item created, submitted, approved and published.
func chaosLoad(ctx context.Context, c *chaosClient, templateID string, w int, res *chaosResult) {
	for ctx.Err() == nil && c.refresh(ctx) != nil {
		sleepCtx(ctx, 200*time.Millisecond)
	}
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("%d%04d", w, n)
		res.step(w, "register "+id)
		// A registration (no Idempotency-Key: a retry after a cut that took
		// effect is answered 409, and counted as no 2xx).
		phone := "+9705992" + id
		var reg struct {
			CitizenID string `json:"citizen_id"`
		}
		r := c.call(ctx, "POST", "/v1/citizens", "", map[string]string{
			"national_id": nationalID("4" + id + "77"), "phone_number": phone,
			"password": password, "given_name": "ليلى", "family_name": "Haddad"}, &reg)
		res.record("register", r)
		if r.ok() {
			res.add(func() {
				if res.accepted == nil {
					res.accepted = map[string]time.Time{}
				}
				res.phones, res.citizens, res.accepted[phone] = append(res.phones, phone), append(res.citizens, reg.CitizenID), time.Now()
			})
		}

		res.step(w, "payment "+id)
		// A payment, paid on the sandbox acquirer's checkout.
		ref := "CHAOS-" + id
		var created struct {
			ID      string `json:"id"`
			NextURL string `json:"next_url"`
		}
		r = c.call(ctx, "POST", "/v1/payments", "chaos-pay-"+id, map[string]any{
			"amount": "1500", "currency": "ILS", "reference": ref, "description": "chaos",
			"return_url": "https://moh.example.ps/done",
			"splits":     []map[string]string{{"account": "dept:land-registry", "amount": "1500"}}}, &created)
		res.record("payment", r)
		if r.ok() {
			res.add(func() {
				if res.payments == nil {
					res.payments = map[string]string{}
				}
				res.payments[ref] = created.ID
			})
			res.step(w, "checkout "+id)
			if c.checkout(ctx, created.NextURL) && c.succeeded(ctx, created.ID) {
				res.add(func() { res.paid = append(res.paid, created.ID) })
			}
		}

		res.step(w, "sms "+id)
		// An SMS from the app's template.
		to := "+9705993" + id
		r = c.call(ctx, "POST", "/v1/notifications/sms", "chaos-sms-"+id, map[string]any{
			"phone_number": to, "template_id": templateID, "personalisation": map[string]string{"n": id}}, nil)
		res.record("sms", r)
		if r.ok() {
			res.add(func() { res.smsPhones = append(res.smsPhones, to) })
		}

		res.step(w, "content "+id)
		// A content item, through the workflow to published.
		slug := "chaos-" + id
		var item struct {
			ID string `json:"id"`
		}
		r = c.call(ctx, "POST", "/v1/content/items", "", map[string]any{
			"type": "news", "ministry": "moh",
			"translations": map[string]any{"en": map[string]any{"slug": slug, "title": "Chaos " + id, "summary": "A round of the chaos test.", "body": "Round **" + id + "**."}},
		}, &item)
		res.record("content create", r)
		published := r.ok()
		for _, step := range []string{":submit", ":approve", ":publish"} {
			if !published {
				break
			}
			res.step(w, "content "+step+" "+id)
			r = c.call(ctx, "POST", "/v1/content/items/"+item.ID+step, "", map[string]string{}, nil)
			res.record("content "+step, r)
			published = r.ok()
		}
		if published {
			res.add(func() { res.slugs = append(res.slugs, slug) })
		}
	}
}

// chaosClient is a ministry app that retries as it is told to: a 503 (or
// 502, 504, a cut connection) again after a moment, with the same
// Idempotency-Key where the call has one; a 401 after a new token.
type chaosClient struct {
	base, secret string
	http         *http.Client
	bearer       string
}

func newChaosClient(base, secret string) *chaosClient {
	return &chaosClient{base: base, secret: secret, http: &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type chaosResponse struct {
	code      int
	err       error
	requestID string
	attempts  int
}

func (r chaosResponse) ok() bool { return r.err == nil && r.code >= 200 && r.code < 300 }

func (c *chaosClient) refresh(ctx context.Context) error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {c.secret}}
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r := c.send(req, &tok); !r.ok() || tok.AccessToken == "" {
		return fmt.Errorf("token: %d %v", r.code, r.err)
	}
	c.bearer = tok.AccessToken
	return nil
}

// call sends a JSON request until it gets an answer that is not "retry
// later", for up to chaosRetry.
func (c *chaosClient) call(ctx context.Context, method, path, key string, body, out any) chaosResponse {
	raw, err := json.Marshal(body)
	if err != nil {
		return chaosResponse{err: err}
	}
	deadline := time.Now().Add(chaosRetry)
	attempts := 0
	for {
		attempts++
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
		if err != nil {
			return chaosResponse{err: err, attempts: attempts}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.bearer)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		r := c.send(req, out)
		r.attempts = attempts
		retry := r.err != nil || r.code == http.StatusServiceUnavailable || r.code == http.StatusBadGateway || r.code == http.StatusGatewayTimeout
		if r.code == http.StatusUnauthorized {
			// The token's signing key is auth's; a new token after a
			// restart that lost nothing is what a client would fetch.
			retry = c.refresh(ctx) == nil
		}
		if !retry || ctx.Err() != nil || time.Now().After(deadline) {
			return r
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

func (c *chaosClient) send(req *http.Request, out any) chaosResponse {
	resp, err := c.http.Do(req)
	if err != nil {
		return chaosResponse{err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := chaosResponse{code: resp.StatusCode, err: err, requestID: resp.Header.Get("X-Request-Id")}
	if err == nil && out != nil && r.ok() {
		r.err = json.Unmarshal(raw, out)
	}
	return r
}

// checkout pays on the sandbox acquirer's page (303 to the return URL),
// pressed again, as a citizen would, while it fails (a 5xx, a cut
// connection); a charge already settled by a press whose answer was lost
// answers its page (200).
func (c *chaosClient) checkout(ctx context.Context, nextURL string) bool {
	form := url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}.Encode()
	for deadline := time.Now().Add(chaosRetry); ctx.Err() == nil && time.Now().Before(deadline); sleepCtx(ctx, 250*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, "POST", nextURL, strings.NewReader(form))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if r := c.send(req, nil); r.err == nil && r.code < 500 {
			return r.code == http.StatusSeeOther || r.code == http.StatusOK
		}
	}
	return false
}

// succeeded polls the payment for up to 20 s until it has succeeded.
func (c *chaosClient) succeeded(ctx context.Context, id string) bool {
	for deadline := time.Now().Add(20 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); sleepCtx(ctx, 100*time.Millisecond) {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/payments/"+id, nil)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer "+c.bearer)
		var got struct {
			State string `json:"state"`
		}
		if r := c.send(req, &got); r.ok() && got.State == "succeeded" {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// checkSink waits until each phone has an SMS at the operator's sink (a
// late relay's after the kills), then a moment longer so that a
// duplicate would show, and fails for each phone without exactly one. It
// returns how many have exactly one.
func checkSink(t *testing.T, topo *distributed.Topology, phones []string, what string) int {
	t.Helper()
	deadline := time.Now().Add(eventDeadline)
	for _, p := range phones {
		for len(topo.SMS().Messages(p)) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // longer than a relay's poll and a redelivery's back-off
	once := 0
	for _, p := range phones {
		if n := len(topo.SMS().Messages(p)); n == 1 {
			once++
		} else {
			t.Errorf("%s to %s reached the sink %d times; want exactly once", what, p, n)
		}
	}
	return once
}

// checkPayments finds each accepted payment exactly once in the payment
// database, and each seen paid succeeded there.
func checkPayments(ctx context.Context, t *testing.T, topo *distributed.Topology, res *chaosResult) (once int) {
	t.Helper()
	conn, err := pgx.Connect(ctx, topo.DSN("payment"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for ref, id := range res.payments {
		var n int
		var gotID string
		if err := conn.QueryRow(ctx, "SELECT count(*), min(id) FROM payments WHERE reference = $1", ref).Scan(&n, &gotID); err != nil || n != 1 || gotID != id {
			t.Errorf("payment %s: %d rows (id %s, want %s), %v; want exactly one", ref, n, gotID, id, err)
		} else {
			once++
		}
	}
	for _, id := range res.paid {
		var state string
		if err := conn.QueryRow(ctx, "SELECT state FROM payments WHERE id = $1", id).Scan(&state); err != nil || state != "succeeded" {
			t.Errorf("paid payment %s is %q (%v); want succeeded", id, state, err)
		}
	}
	auth, err := pgx.Connect(ctx, topo.DSN("auth"))
	if err != nil {
		t.Fatal(err)
	}
	defer auth.Close(ctx)
	var n int
	if err := auth.QueryRow(ctx, "SELECT count(*) FROM citizens WHERE id = ANY($1)", res.citizens).Scan(&n); err != nil || n != len(res.citizens) {
		t.Errorf("accepted registrations in auth's database = %d of %d (%v)", n, len(res.citizens), err)
	}
	return once
}

// checkContent finds each item whose publish was answered 200 published
// once, and readable by the public.
func checkContent(ctx context.Context, t *testing.T, topo *distributed.Topology, slugs []string) (once int) {
	t.Helper()
	conn, err := pgx.Connect(ctx, topo.DSN("content"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, slug := range slugs {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM content_public WHERE slug = $1", slug).Scan(&n); err != nil || n != 1 {
			t.Errorf("published item %s: %d public rows (%v); want exactly one", slug, n, err)
		}
		resp, err := http.Get(topo.URL() + "/v1/public/content/" + slug + "?lang=en")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("public read of %s = %d; want 200", slug, resp.StatusCode)
		} else if n == 1 {
			once++
		}
	}
	return once
}

// checkAudit verifies the gateway's audit chain and finds each 2xx call
// in it exactly once, with its status.
func checkAudit(ctx context.Context, t *testing.T, topo *distributed.Topology, ids map[string]string) (once int) {
	t.Helper()
	if out, err := topo.Tool(ctx, distributed.Gateway, "audit", "verify"); err != nil || !strings.HasPrefix(out, "OK:") {
		t.Errorf("tamkeen audit verify = %v %q; want OK", err, out)
	}
	conn, err := pgx.Connect(ctx, topo.DSN(distributed.Gateway))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for id, route := range ids {
		var n, status int
		err := conn.QueryRow(ctx, "SELECT count(*), coalesce(max(status), 0) FROM gateway_audit WHERE request_id = $1", id).Scan(&n, &status)
		if err != nil || n != 1 || status < 200 || status >= 300 {
			t.Errorf("%s call %q: %d audit records (status %d, %v); want exactly one with its 2xx", route, id, n, status, err)
		} else {
			once++
		}
	}
	return once
}

// lastErrors are the last n WARN and ERROR lines of a log (for a failure).
func lastErrors(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}
