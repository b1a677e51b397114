package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestPaymentReceiptAndOneTrace: a payment paid on the sandbox checkout
// succeeds through the acquirer's signed webhook, and the notification
// enabler sends the receipt (SMS and e-mail, Arabic) to the dev inbox. One
// trace spans the webhook's HTTP request at the gateway, the payment
// service, the payment.succeeded event on NATS and the notification
// service that consumed it (issue 8's tracing).
func TestPaymentReceiptAndOneTrace(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	spans := tracetest.NewInMemoryExporter()
	base, _ := startDevHooks(t, t.TempDir(), devHooks{spans: spans}, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)

	var p struct {
		ID      string `json:"id"`
		NextURL string `json:"next_url"`
	}
	if resp, raw := (apiCall{t: t, base: base, method: "POST", path: "/v1/payments", token: token, body: map[string]any{
		"amount": "15050", "currency": "ILS", "reference": "LIC-2026-77", "description": "رسوم رخصة بناء",
		"return_url": "https://mol.example.ps/done", "splits": []map[string]any{{"account": "dept:municipality", "amount": "15050"}},
		"receipt": map[string]string{"phone_number": "+970599777888", "email_address": "layla@example.ps", "language": "ar"},
	}}).do(&p); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create payment = %d %s", resp.StatusCode, raw)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(p.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "https://mol.example.ps/done") {
		t.Fatalf("checkout POST = %d to %q; want 303 to the return URL", resp.StatusCode, resp.Header.Get("Location"))
	}

	deadline := time.Now().Add(15 * time.Second)
	var state string
	for time.Now().Before(deadline) {
		var got struct {
			State string `json:"state"`
		}
		(apiCall{t: t, base: base, method: "GET", path: "/v1/payments/" + p.ID, token: token}).do(&got)
		if state = got.State; state == "succeeded" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if state != "succeeded" {
		t.Fatalf("payment state = %q after 15 s; want succeeded", state)
	}

	inbox := func(to string) []map[string]string {
		t.Helper()
		r, err := http.Get(base + "/dev/inbox?to=" + url.QueryEscape(to))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var body struct{ Messages []map[string]string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Messages
	}
	var sms, mail []map[string]string
	for time.Now().Before(deadline) && (len(sms) == 0 || len(mail) == 0) {
		sms, mail = inbox("+970599777888"), inbox("layla@example.ps")
		time.Sleep(50 * time.Millisecond)
	}
	if len(sms) != 1 || !strings.Contains(sms[0]["body"], "150.50 شيكل") || !strings.Contains(sms[0]["body"], "LIC-2026-77") {
		t.Errorf("SMS receipts = %v; want one Arabic receipt for 150.50 شيكل, reference LIC-2026-77", sms)
	}
	if len(mail) != 1 || !strings.Contains(mail[0]["subject"], "LIC-2026-77") || !strings.Contains(mail[0]["html"], `dir="rtl"`) {
		t.Errorf("e-mail receipts = %v; want one RTL Arabic receipt", mail)
	}

	// The receipt's trace: the consumer span of payment.succeeded in the
	// notification service, and in the same trace the gateway's HTTP span,
	// the payment service's gRPC span and the NATS publish.
	var consumed *tracetest.SpanStub
	for time.Now().Before(deadline) && consumed == nil {
		for _, s := range spans.GetSpans() {
			if s.Name == "tamkeen.payment.succeeded process" {
				consumed = &s
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if consumed == nil {
		t.Fatal("no span of the notification service consuming tamkeen.payment.succeeded")
	}
	traceID := consumed.SpanContext.TraceID()
	var gatewayHTTP, paymentRPC, published bool
	for _, s := range spans.GetSpans() {
		if s.SpanContext.TraceID() != traceID {
			continue
		}
		switch {
		case strings.HasPrefix(s.Name, "POST /v1/payments/providers/"):
			gatewayHTTP = true
		case s.Name == "tamkeen.payment.v1.PaymentService/HandleProviderWebhook":
			paymentRPC = true
		case s.Name == "tamkeen.payment.succeeded publish":
			published = true
		}
	}
	if !gatewayHTTP || !paymentRPC || !published {
		var names []string
		for _, s := range spans.GetSpans() {
			if s.SpanContext.TraceID() == traceID {
				names = append(names, s.Name)
			}
		}
		t.Errorf("trace %s has gateway HTTP %v, payment gRPC %v, NATS publish %v; spans: %v", traceID, gatewayHTTP, paymentRPC, published, names)
	}
}
