package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/scope"
)

// verifyTamkeenSignature is the recipe docs/guides/webhooks.md gives a
// ministry, written with the standard library only: split the
// Tamkeen-Signature header on ",", take t and every v1, compute
// HMAC-SHA256(secret, t + "." + raw body) in hex, accept when one v1
// equals it (constant-time) and t is within 5 minutes of now.
func verifyTamkeenSignature(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("stale timestamp")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// hookPost is one POST a ministry's webhook endpoint received.
type hookPost struct {
	header string
	body   []byte
}

// hookSink is a ministry's webhook endpoint on a local server: it answers
// the first fail POSTs with 500 and the rest with 200, and received
// returns every POST so far.
func hookSink(t *testing.T, fail int) (srv *httptest.Server, received func() []hookPost) {
	t.Helper()
	var (
		mu    sync.Mutex
		posts []hookPost
	)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		posts = append(posts, hookPost{header: r.Header.Get("Tamkeen-Signature"), body: body})
		if len(posts) <= fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []hookPost {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookPost(nil), posts...)
	}
}

// TestWebhookPaymentSucceededThroughDev: a ministry registers a webhook
// endpoint on a local HTTP server, a payment is paid on the sandbox
// checkout, and the endpoint receives payment.succeeded signed with the
// secret it was shown once, verified with the documented recipe. It
// answers the first POST with 500: the log shows the attempt and the next
// one a minute later (the documented back-off's first step), which comes
// when dev's clock has moved that minute; the endpoint takes it, and
// nothing more comes. A replay from the delivery log delivers the same
// event again; a forged or stale signature fails the recipe; another
// ministry's client gets 404 on the endpoint, its log and the replay.
func TestWebhookPaymentSucceededThroughDev(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	dir := t.TempDir()
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevIn(t, dir, clock, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)
	call := func(method, path, tok string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: tok, body: body}
	}

	ministry, received := hookSink(t, 1) // the first POST gets a 500

	if resp, raw := call("POST", "/v1/webhook-endpoints", token, map[string]any{"url": "http://mol.example.ps/hooks", "events": []string{"payment.succeeded"}}).do(nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain http to a non-loopback host = %d %s; want 400", resp.StatusCode, raw)
	}
	var ep struct {
		ID     string   `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	if resp, raw := call("POST", "/v1/webhook-endpoints", token, map[string]any{"url": ministry.URL + "/hooks/tamkeen",
		"events": []string{"payment.succeeded", "payment.refunded"}}).do(&ep); resp.StatusCode != http.StatusCreated || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create endpoint = %d %s; want 201 with a whsec_ secret", resp.StatusCode, raw)
	}
	if resp, raw := call("GET", "/v1/webhook-endpoints/"+ep.ID, token, nil).do(nil); resp.StatusCode != http.StatusOK || strings.Contains(string(raw), ep.Secret) {
		t.Errorf("get endpoint = %d %s; want 200 without the secret", resp.StatusCode, raw)
	}

	// A payment paid on the sandbox checkout.
	var p struct {
		ID      string `json:"id"`
		NextURL string `json:"next_url"`
	}
	if resp, raw := call("POST", "/v1/payments", token, map[string]any{
		"amount": "15050", "currency": "ILS", "reference": "LIC-2026-WH", "description": "رسوم رخصة بناء",
		"return_url": "https://mol.example.ps/done", "splits": []map[string]any{{"account": "dept:municipality", "amount": "15050"}},
	}).do(&p); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create payment = %d %s", resp.StatusCode, raw)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(p.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("checkout POST = %d; want 303", resp.StatusCode)
	}

	// The 500, then the retry it takes; the log says delivered.
	type attempt struct {
		StatusCode int       `json:"status_code"`
		Time       time.Time `json:"time"`
	}
	type delivery struct {
		ID           string    `json:"id"`
		EventID      string    `json:"event_id"`
		EventType    string    `json:"event_type"`
		State        string    `json:"state"`
		AttemptCount int       `json:"attempt_count"`
		Attempts     []attempt `json:"attempts"`
		ReplayOf     string    `json:"replay_of"`
		NextAttempt  time.Time `json:"next_attempt_time"`
	}
	var log struct {
		Deliveries []delivery `json:"deliveries"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		log.Deliveries = nil
		call("GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", token, nil).do(&log)
		if len(log.Deliveries) == 1 && log.Deliveries[0].AttemptCount == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log after 20 s = %+v; want one delivery tried once", log.Deliveries)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := log.Deliveries[0]; d.State != "pending" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 500 ||
		!d.NextAttempt.Equal(d.Attempts[0].Time.Add(time.Minute)) {
		t.Fatalf("delivery after the 500 = %+v; want pending, the next attempt a minute after the first", d)
	}
	clock.Advance(time.Minute)
	for {
		log.Deliveries = nil
		call("GET", "/v1/webhook-endpoints/"+ep.ID+"/deliveries", token, nil).do(&log)
		if len(log.Deliveries) == 1 && log.Deliveries[0].State == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log after 20 s = %+v, %d posts; want one delivered", log.Deliveries, len(received()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := log.Deliveries[0]
	if d.EventType != "payment.succeeded" || d.AttemptCount != 2 || len(d.Attempts) != 2 || d.Attempts[0].StatusCode != 500 || d.Attempts[1].StatusCode != 200 {
		t.Errorf("delivery = %+v; want payment.succeeded tried twice: 500, then 200", d)
	}
	got := received()
	if len(got) != 2 {
		t.Fatalf("the endpoint got %d posts; want 2 (the 500 and the retry)", len(got))
	}
	for i, post := range got {
		if err := verifyTamkeenSignature(ep.Secret, post.header, post.body, time.Now()); err != nil {
			t.Errorf("post %d: the recipe refuses %q: %v", i, post.header, err)
		}
		var b struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				PaymentID string `json:"payment_id"`
				Reference string `json:"reference"`
				Amount    string `json:"amount"`
				Currency  string `json:"currency"`
			} `json:"data"`
		}
		if err := json.Unmarshal(post.body, &b); err != nil {
			t.Fatal(err)
		}
		if b.ID != d.EventID || b.Type != "payment.succeeded" || b.Data.PaymentID != p.ID || b.Data.Reference != "LIC-2026-WH" ||
			b.Data.Amount != "15050" || b.Data.Currency != "ILS" {
			t.Errorf("post %d = %s; want payment.succeeded of %s with event id %s", i, post.body, p.ID, d.EventID)
		}
	}

	// Forged and stale: what the recipe refuses.
	first := got[1]
	for name, tc := range map[string]struct {
		secret, header string
		body           []byte
		now            time.Time
	}{
		"another secret":  {"whsec_forged", first.header, first.body, time.Now()},
		"another body":    {ep.Secret, first.header, []byte(strings.Replace(string(first.body), "15050", "1", 1)), time.Now()},
		"a stale t":       {ep.Secret, first.header, first.body, time.Now().Add(6 * time.Minute)},
		"no v1":           {ep.Secret, strings.Split(first.header, ",")[0], first.body, time.Now()},
		"a t moved ahead": {ep.Secret, "t=" + strconv.FormatInt(time.Now().Unix()+1, 10) + "," + strings.SplitN(first.header, ",", 2)[1], first.body, time.Now()},
	} {
		if err := verifyTamkeenSignature(tc.secret, tc.header, tc.body, tc.now); err == nil {
			t.Errorf("%s: the recipe accepts it", name)
		}
	}

	// Another ministry's client, with webhooks:manage, gets 404
	// everywhere and replays nothing.
	mof := createMatrixClient(t, dir, "mof-app", "mof", []string{scope.WebhooksManage})
	clock.Advance(3 * time.Second) // the gateway reloads access rights every 2 s of its clock
	mofTok := mof.token(t, base, []string{scope.WebhooksManage})
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, _ := call("GET", "/v1/webhook-endpoints", mofTok, nil).do(nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mof-app's rights not applied after 10 s: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/webhook-endpoints/" + ep.ID},
		{"GET", "/v1/webhook-endpoints/" + ep.ID + "/deliveries"},
		{"POST", "/v1/webhook-endpoints/" + ep.ID + "/deliveries/" + d.ID + ":replay"},
		{"POST", "/v1/webhook-endpoints/" + ep.ID + ":rotate-secret"},
		{"DELETE", "/v1/webhook-endpoints/" + ep.ID},
	} {
		var body any
		if c.method == "POST" {
			body = map[string]any{}
		}
		if resp, raw := call(c.method, c.path, mofTok, body).do(nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("mof's %s %s = %d %s; want 404", c.method, c.path, resp.StatusCode, raw)
		}
	}
	var mofList struct {
		WebhookEndpoints []json.RawMessage `json:"webhook_endpoints"`
	}
	if resp, raw := call("GET", "/v1/webhook-endpoints", mofTok, nil).do(&mofList); resp.StatusCode != http.StatusOK || len(mofList.WebhookEndpoints) != 0 {
		t.Errorf("mof's list = %d %s; want 200 and empty", resp.StatusCode, raw)
	}
	if n := len(received()); n != 2 {
		t.Errorf("posts after mof's calls = %d; want still 2", n)
	}

	// The CLI manages the same endpoints, as the client.
	cli := []string{"--api", base, "--client", "demo-ministry", "--client-secret", secret}
	code, out, errOut := runTool(t, append([]string{"webhooks", "create", "--url", "https://mol.example.ps/hooks/cli", "--events", "payment.failed,payment.expired"}, cli...)...)
	cliSecret := regexp.MustCompile(`(?m)^secret: (whsec_[0-9a-f]{64})$`).FindStringSubmatch(out)
	cliID := regexp.MustCompile(`created (whe_\S+)`).FindStringSubmatch(out)
	if code != 0 || cliSecret == nil || cliID == nil {
		t.Fatalf("tamkeen webhooks create = %d\n%s\n%s; want the id and the secret", code, out, errOut)
	}
	code, out, errOut = runTool(t, append([]string{"webhooks", "list", "-o", "json"}, cli...)...)
	var listed []struct {
		ID     string   `json:"id"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	if err := json.Unmarshal([]byte(out), &listed); code != 0 || err != nil || len(listed) != 2 || listed[1].ID != cliID[1] ||
		strings.Join(listed[1].Events, ",") != "payment.failed,payment.expired" || listed[0].Secret != "" || listed[1].Secret != "" {
		t.Errorf("tamkeen webhooks list -o json = %d %v\n%s\n%s; want both endpoints, oldest first, no secret", code, err, out, errOut)
	}
	if code, out, errOut := runTool(t, append([]string{"webhooks", "create", "--url", "http://mol.example.ps/x", "--events", "payment.failed"}, cli...)...); code != 1 || !strings.Contains(errOut, "400") {
		t.Errorf("tamkeen webhooks create of a plain-http URL = %d\n%s\n%s; want exit 1 with the 400", code, out, errOut)
	}
	if code, out, errOut := runTool(t, append([]string{"webhooks", "delete", "--id", cliID[1]}, cli...)...); code != 0 || !strings.Contains(out, "deleted "+cliID[1]) {
		t.Errorf("tamkeen webhooks delete = %d\n%s\n%s", code, out, errOut)
	}
	if code, out, _ := runTool(t, append([]string{"webhooks", "list"}, cli...)...); code != 0 || strings.Contains(out, cliID[1]) || !strings.Contains(out, ep.ID) {
		t.Errorf("tamkeen webhooks list after delete = %d\n%s; want only %s", code, out, ep.ID)
	}
	if code, _, errOut := runTool(t, "webhooks", "delete", "--client", "demo-ministry", "--client-secret", secret, "--api", base); code != 2 {
		t.Errorf("delete without --id = %d %s; want 2", code, errOut)
	}

	// The owner replays it: the same event once more.
	var rep delivery
	if resp, raw := call("POST", "/v1/webhook-endpoints/"+ep.ID+"/deliveries/"+d.ID+":replay", token, map[string]any{}).do(&rep); resp.StatusCode != http.StatusOK || rep.ReplayOf != d.ID || rep.EventID != d.EventID {
		t.Fatalf("replay = %d %s; want 200, a new delivery of event %s", resp.StatusCode, raw, d.EventID)
	}
	for deadline := time.Now().Add(10 * time.Second); len(received()) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the replay did not arrive in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	replayed := received()[2]
	if err := verifyTamkeenSignature(ep.Secret, replayed.header, replayed.body, time.Now()); err != nil {
		t.Errorf("the replay's signature: %v", err)
	}
	if !strings.Contains(string(replayed.body), `"id":"`+d.EventID+`"`) {
		t.Errorf("replayed body = %s; want event id %s (the receiver's de-duplication key)", replayed.body, d.EventID)
	}
}
