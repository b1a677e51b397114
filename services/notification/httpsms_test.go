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
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
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
			t.Errorf("SendSMS after a timeout = %v; want ErrOutcomeUnknown (sent perhaps: retried with the same key)", err)
		}
	})

	t.Run("a cut connection is outcome unknown", func(t *testing.T) {
		gw := &cuttingGateway{cut: 1}
		srv := httptest.NewServer(gw)
		defer srv.Close()
		p := NewHTTPSMSProvider(HTTPSMSConfig{URL: srv.URL, Timeout: 5 * time.Second}, nil)
		if _, err := p.SendSMS(context.Background(), SMS{To: "+970599000001", Body: "x", Reference: "ntf_3"}); !errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("SendSMS through a cut connection = %v; want ErrOutcomeUnknown", err)
		}
		if got := gw.got(); len(got) != 1 || got[0] != "ntf_3" {
			t.Errorf("gateway got keys %v; want the one request, keyed ntf_3", got)
		}
	})

	t.Run("no connection is a plain temporary error", func(t *testing.T) {
		p := NewHTTPSMSProvider(HTTPSMSConfig{URL: "http://" + closedAddr(t), Timeout: 5 * time.Second}, nil)
		_, err := p.SendSMS(context.Background(), SMS{To: "+970599000001", Body: "x", Reference: "ntf_4"})
		if err == nil || errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrPermanentSend) {
			t.Errorf("SendSMS to nothing = %v; want a temporary error (nothing was sent)", err)
		}
	})

	if !isIdempotent(NewHTTPSMSProvider(HTTPSMSConfig{}, nil)) {
		t.Error("the HTTP SMS provider is not declared idempotent; its calls carry the Idempotency-Key")
	}
}

// cuttingGateway is an HTTP SMS gateway that reads each request and then,
// for the first cut ones, cuts the connection without answering (or,
// hang, waits until the caller gives up); later requests are answered
// with an id derived from the Idempotency-Key, as a gateway that
// deduplicates by it answers a repeated key.
type cuttingGateway struct {
	cut  int
	hang bool

	mu   sync.Mutex
	keys []string
}

func (g *cuttingGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	g.mu.Lock()
	g.keys = append(g.keys, key)
	n := len(g.keys)
	g.mu.Unlock()
	if n <= g.cut {
		if g.hang {
			<-r.Context().Done()
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"gw-`+key+`"}`)
}

// got returns the Idempotency-Keys of the requests so far.
func (g *cuttingGateway) got() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.keys...)
}

// TestHTTPSMSInterruptedSubmitIsRetried: the HTTP gateway reads the
// submit and the connection is cut (or the answer times out); the lane
// sends it again with the same Idempotency-Key instead of failing it
// (technical-failure/outcome-unknown), and the message ends accepted
// under the gateway's id.
func TestHTTPSMSInterruptedSubmitIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		gw   *cuttingGateway
	}{
		{"connection cut after the request", &cuttingGateway{cut: 1}},
		{"answer timed out", &cuttingGateway{cut: 1, hang: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.gw)
			t.Cleanup(srv.Close)
			a := startAPI(t, storetest.SQLite(t), func(c *Config) {
				c.SMSProvider = ProviderHTTP
				c.HTTPSMS = HTTPSMSConfig{URL: srv.URL, ReceiptSecret: "receipt-secret-of-the-gateway", Timeout: 300 * time.Millisecond}
			})
			moh := a.iss.as(t, "moh")
			tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello ((name))"})
			if err != nil {
				t.Fatal(err)
			}
			n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000051", TemplateId: tpl.GetId(),
				Personalisation: map[string]string{"name": "Sara"}, IdempotencyKey: "k-51"})
			if err != nil {
				t.Fatal(err)
			}
			var row Notification
			waitFor(t, 10*time.Second, "the submit to be accepted or to fail", func() bool {
				row, err = getNotification(context.Background(), a.db, "id", n.GetId())
				return err == nil && (row.ProviderMessageID != "" || row.final())
			})
			if row.Status != StatusSending || row.ProviderMessageID != "gw-"+n.GetId() || row.Attempts != 2 {
				t.Fatalf("row = status %s (%s), provider id %q, attempts %d; want sending under gw-%s after 2 attempts",
					row.Status, row.FailureReason, row.ProviderMessageID, row.Attempts, n.GetId())
			}
			if got := tc.gw.got(); len(got) != 2 || got[0] != n.GetId() || got[1] != n.GetId() {
				t.Fatalf("gateway got Idempotency-Keys %v; want %s twice", got, n.GetId())
			}
		})
	}
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
