package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// clientToken gets an access token for the demo client with every scope.
func clientToken(t *testing.T, base, secret string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {demo.ClientID}, "client_secret": {secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("client token: %d %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// TestPaymentThroughGateway: a ministry app creates a payment with an
// Idempotency-Key (a retry gets the same payment; the key with another body
// is 422), and next_url is the sandbox acquirer's Arabic checkout page,
// served through the gateway.
func TestPaymentThroughGateway(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	base, _ := startDevWithClock(t, clocktest.New(time.Now().UTC()), map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)

	create := func(key, body string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/v1/payments", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	const body = `{"amount": "100000", "currency": "JOD", "reference": "PT-2026-0001",
		"description": "ضريبة الأملاك", "return_url": "https://moh.example.ps/done",
		"splits": [{"account": "dept:land-registry", "amount": "60000"}, {"account": "dept:municipality", "amount": "40000"}]}`
	resp, first := create("key-0001", body)
	if resp.StatusCode != http.StatusCreated || first["id"] == nil {
		t.Fatalf("create payment = %d %v; want 201", resp.StatusCode, first)
	}
	resp, again := create("key-0001", body)
	if resp.StatusCode >= 300 || again["id"] != first["id"] {
		t.Errorf("same key and body = %d %v; want the same payment %v", resp.StatusCode, again["id"], first["id"])
	}
	resp, other := create("key-0001", strings.Replace(body, "PT-2026-0001", "PT-2026-0002", 1))
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("same key, other body = %d %v; want 422", resp.StatusCode, other)
	}

	next, _ := first["next_url"].(string)
	if !strings.HasPrefix(next, base+"/sandbox/checkout/") {
		t.Fatalf("next_url = %q; want the sandbox checkout under %s", next, base)
	}
	page, err := http.Get(next)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != 200 || !strings.Contains(string(html), `dir="rtl"`) || !strings.Contains(string(html), "100.000") {
		t.Errorf("checkout page = %d, %.300q; want the Arabic page with the amount 100.000", page.StatusCode, html)
	}
	if strings.Contains(string(html), "http://") && strings.Contains(string(html), "<script src=") {
		t.Error("the checkout page loads a script from elsewhere")
	}
}
