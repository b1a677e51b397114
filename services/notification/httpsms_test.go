package notification

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// httpGateway is an HTTP SMS gateway in the test: it records what it is
// sent and answers as told.
type httpGateway struct {
	mu       sync.Mutex
	requests []map[string]any
	headers  []http.Header
	answer   func(n int) (int, string)
}

func (g *httpGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	g.mu.Lock()
	g.requests = append(g.requests, m)
	g.headers = append(g.headers, r.Header.Clone())
	n := len(g.requests)
	g.mu.Unlock()
	code, reply := g.answer(n)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, reply)
}

func (g *httpGateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.requests)
}

func TestHTTPSMSProviderAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int
		reply  string
		wantID string
		want   error
	}{
		{"accepted", 202, `{"id":"gw-1"}`, "gw-1", nil},
		{"refused", 400, `{"error":"bad number"}`, "", ErrPermanentSend},
		{"accepted without id", 200, `{}`, "", ErrOutcomeUnknown},
		{"busy", 503, ``, "", nil},
		{"rate limited", 429, ``, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := &httpGateway{answer: func(int) (int, string) { return tc.code, tc.reply }}
			srv := httptest.NewServer(gw)
			defer srv.Close()
			p := NewHTTPSMSProvider(HTTPSMSConfig{URL: srv.URL, Authorization: "Bearer gw-token", Timeout: 5 * time.Second}, nil)
			id, err := p.SendSMS(context.Background(), SMS{To: "+970599000001", Body: "مرحبا", Encoding: UCS2, Segments: 1, Reference: "ntf_1"})
			switch {
			case tc.wantID != "" && (err != nil || id != tc.wantID):
				t.Errorf("SendSMS = %q, %v; want %q", id, err, tc.wantID)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("SendSMS error = %v; want %v", err, tc.want)
			case tc.wantID == "" && tc.want == nil && (err == nil || errors.Is(err, ErrPermanentSend) || errors.Is(err, ErrOutcomeUnknown)):
				t.Errorf("SendSMS error = %v; want a retryable error", err)
			}
			if gw.count() != 1 {
				t.Fatalf("gateway got %d requests; want 1", gw.count())
			}
			h, m := gw.headers[0], gw.requests[0]
			if h.Get("Authorization") != "Bearer gw-token" || h.Get("Idempotency-Key") != "ntf_1" || h.Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v", h)
			}
			if m["to"] != "+970599000001" || m["text"] != "مرحبا" || m["encoding"] != "ucs2" || m["reference"] != "ntf_1" {
				t.Errorf("body = %v", m)
			}
		})
	}

	t.Run("timeout is outcome unknown", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
		defer srv.Close()
		p := NewHTTPSMSProvider(HTTPSMSConfig{URL: srv.URL, Timeout: 50 * time.Millisecond}, nil)
		if _, err := p.SendSMS(context.Background(), SMS{To: "+970599000001", Body: "x", Reference: "ntf_2"}); !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("SendSMS after a timeout = %v; want ErrOutcomeUnknown (at most once)", err)
		}
	})
}

// TestHTTPSMSProviderEndToEnd: an OTP command goes out through the HTTP
// SMS gateway, and the gateway's signed delivery receipt turns the
// notification delivered; forged or malformed receipts change nothing.
func TestHTTPSMSProviderEndToEnd(t *testing.T) {
	const secret = "receipt-secret-of-the-gateway"
	gw := &httpGateway{answer: func(n int) (int, string) { return 200, `{"id":"gw-77"}` }}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.SMSProvider = ProviderHTTP
	cfg.HTTPSMS = HTTPSMSConfig{URL: srv.URL, Authorization: "Bearer gw-token", ReceiptSecret: secret, Timeout: 5 * time.Second}
	e := startService(t, storetest.SQLite(t), cfg, Deps{})
	ctx := context.Background()

	ev := otpCommand(t, "+970599000777", "482913", "ar", time.Now().Add(5*time.Minute))
	e.publish(t, SubjectOTPSMS, ev)
	waitFor(t, 10*time.Second, "the HTTP gateway to be called", func() bool { return gw.count() == 1 })
	if text, _ := gw.requests[0]["text"].(string); !strings.Contains(text, "482913") {
		t.Errorf("text sent = %q; want the Arabic OTP with its code", text)
	}
	n := e.row(t, ev.ID)
	e.waitStatus(t, n.ID, StatusSending)

	receipt := []byte(`{"id":"gw-77","status":"delivered"}`)
	for name, tc := range map[string]struct {
		sig  string
		body []byte
	}{
		"forged signature":  {SignCallback("not-the-secret-at-all", time.Now(), receipt), receipt},
		"stale signature":   {SignCallback(secret, time.Now().Add(-time.Hour), receipt), receipt},
		"no signature":      {"", receipt},
		"unknown status":    {SignCallback(secret, time.Now(), []byte(`{"id":"gw-77","status":"teleported"}`)), []byte(`{"id":"gw-77","status":"teleported"}`)},
		"signature of else": {SignCallback(secret, time.Now(), []byte(`{"id":"gw-78","status":"delivered"}`)), receipt},
	} {
		if err := e.svc.ReceiveHTTPReceipt(ctx, ProviderHTTP, tc.body, tc.sig); err == nil {
			t.Errorf("%s: receipt accepted; want refused", name)
		}
	}
	if got := e.row(t, ev.ID).Status; got == StatusDelivered {
		t.Fatal("a refused receipt delivered the message")
	}
	if err := e.svc.ReceiveHTTPReceipt(ctx, ProviderHTTP, receipt, SignCallback(secret, time.Now(), receipt)); err != nil {
		t.Fatalf("signed receipt = %v; want accepted", err)
	}
	e.waitStatus(t, n.ID, StatusDelivered)
}
