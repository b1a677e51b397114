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

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// receiver is a ministry's webhook endpoint: it records each POST and
// answers with the next of its queued statuses (200 when none is left).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer []int
}

type received struct {
	sig  string
	body []byte
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answer: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got = append(r.got, received{sig: req.Header.Get("Tamkeen-Signature"), body: body})
		code := http.StatusOK
		if len(r.answer) > 0 {
			code, r.answer = r.answer[0], r.answer[1:]
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) posts() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// startWebhooks runs the service in dev mode (plain http to loopback
// allowed) with a short back-off.
func startWebhooks(t *testing.T, db *store.DB) *apiEnv {
	return startAPI(t, db, func(c *Config) {
		c.DevMode, c.CallbackKey = true, "callback-key-for-tests"
		c.Webhooks.Backoff = []string{"50ms", "50ms"}
	})
}

func TestWebhookEndpointsAPI(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := startWebhooks(t, db)
		moh := a.iss.as(t, "moh", scope.WebhooksManage)
		mof := a.iss.as(t, "mof", scope.WebhooksManage)

		for _, tc := range []struct {
			name, url string
			events    []string
			field     string
		}{
			{"ftp", "ftp://moh.example.ps/hook", []string{"payment.succeeded"}, "url"},
			{"http not loopback", "http://moh.example.ps/hook", []string{"payment.succeeded"}, "url"},
			{"user info", "https://u:p@moh.example.ps/hook", []string{"payment.succeeded"}, "url"},
			{"relative", "/hook", []string{"payment.succeeded"}, "url"},
			{"no events", "https://moh.example.ps/hook", nil, "events"},
			{"unknown event", "https://moh.example.ps/hook", []string{"payment.succeeded", "payment.created"}, "events[1]"},
		} {
			_, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{Url: tc.url, Events: tc.events})
			if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: create = %v; want InvalidArgument on %s", tc.name, err, tc.field)
			}
		}
		if _, err := a.api.CreateWebhookEndpoint(a.iss.as(t, "moh", scope.NotificationsSend), &notificationv1.CreateWebhookEndpointRequest{
			Url: "https://moh.example.ps/hook", Events: []string{"payment.succeeded"}}); code(err) != codes.PermissionDenied {
			t.Errorf("create without webhooks:manage = %v; want PermissionDenied", err)
		}

		ep, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{
			Url: "https://moh.example.ps/hook", Events: []string{"payment.succeeded", "payment.succeeded", "payment.refunded"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(ep.GetSecret(), "whsec_") || len(ep.GetEvents()) != 2 {
			t.Errorf("created = %v; want a whsec_ secret and the two distinct events", ep)
		}
		got, err := a.api.GetWebhookEndpoint(moh, &notificationv1.GetWebhookEndpointRequest{Id: ep.GetId()})
		if err != nil || got.GetSecret() != "" || got.GetUrl() != "https://moh.example.ps/hook" {
			t.Errorf("get = %v, %v; want the endpoint without its secret", got, err)
		}
		list, err := a.api.ListWebhookEndpoints(moh, &notificationv1.ListWebhookEndpointsRequest{})
		if err != nil || len(list.GetWebhookEndpoints()) != 1 || list.GetWebhookEndpoints()[0].GetSecret() != "" {
			t.Errorf("list = %v, %v; want the one endpoint without its secret", list, err)
		}
		rot, err := a.api.RotateWebhookSecret(moh, &notificationv1.RotateWebhookSecretRequest{Id: ep.GetId()})
		if err != nil || rot.GetSecret() == ep.GetSecret() || !strings.HasPrefix(rot.GetSecret(), "whsec_") ||
			rot.GetPreviousSecretExpireTime().AsTime().Sub(rot.GetSecretRotateTime().AsTime()) != 24*time.Hour {
			t.Errorf("rotate = %v, %v; want a new secret, the old one live 24 h more", rot, err)
		}

		// Another client sees none of it and changes nothing.
		if l, err := a.api.ListWebhookEndpoints(mof, &notificationv1.ListWebhookEndpointsRequest{}); err != nil || len(l.GetWebhookEndpoints()) != 0 {
			t.Errorf("mof's list = %v, %v; want empty", l, err)
		}
		for name, call := range map[string]func() error{
			"get": func() error {
				_, err := a.api.GetWebhookEndpoint(mof, &notificationv1.GetWebhookEndpointRequest{Id: ep.GetId()})
				return err
			},
			"rotate": func() error {
				_, err := a.api.RotateWebhookSecret(mof, &notificationv1.RotateWebhookSecretRequest{Id: ep.GetId()})
				return err
			},
			"delete": func() error {
				_, err := a.api.DeleteWebhookEndpoint(mof, &notificationv1.DeleteWebhookEndpointRequest{Id: ep.GetId()})
				return err
			},
			"deliveries": func() error {
				_, err := a.api.ListWebhookDeliveries(mof, &notificationv1.ListWebhookDeliveriesRequest{EndpointId: ep.GetId()})
				return err
			},
			"replay": func() error {
				_, err := a.api.ReplayWebhookDelivery(mof, &notificationv1.ReplayWebhookDeliveryRequest{EndpointId: ep.GetId(), Id: "whd_x"})
				return err
			},
		} {
			if err := call(); code(err) != codes.NotFound {
				t.Errorf("mof's %s of moh's endpoint = %v; want NotFound", name, err)
			}
		}
		if _, err := a.api.GetWebhookEndpoint(moh, &notificationv1.GetWebhookEndpointRequest{Id: ep.GetId()}); err != nil {
			t.Errorf("moh's endpoint after mof's attempts: %v", err)
		}
		if _, err := a.api.DeleteWebhookEndpoint(moh, &notificationv1.DeleteWebhookEndpointRequest{Id: ep.GetId()}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.api.GetWebhookEndpoint(moh, &notificationv1.GetWebhookEndpointRequest{Id: ep.GetId()}); code(err) != codes.NotFound {
			t.Errorf("get after delete = %v; want NotFound", err)
		}
	})
}

func TestWebhookURLNeedsHTTPSOutsideDevMode(t *testing.T) {
	t.Parallel()
	a := startAPI(t, storetest.SQLite(t), func(c *Config) { c.CallbackKey = "callback-key-for-tests" })
	moh := a.iss.as(t, "moh", scope.WebhooksManage)
	if _, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{
		Url: "http://127.0.0.1:9/hook", Events: []string{"payment.succeeded"}}); code(err) != codes.InvalidArgument {
		t.Errorf("http loopback without dev mode = %v; want InvalidArgument", err)
	}
	for _, u := range []string{"https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook", "https://[::1]/hook", "https://169.254.169.254/latest"} {
		if _, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{
			Url: u, Events: []string{"payment.succeeded"}}); code(err) != codes.InvalidArgument {
			t.Errorf("%s without dev mode = %v; want InvalidArgument", u, err)
		}
	}
	off := startAPI(t, storetest.SQLite(t), nil)
	if _, err := off.api.CreateWebhookEndpoint(off.iss.as(t, "moh", scope.WebhooksManage), &notificationv1.CreateWebhookEndpointRequest{
		Url: "https://moh.example.ps/hook", Events: []string{"payment.succeeded"}}); code(err) != codes.FailedPrecondition {
		t.Errorf("create without a callback key = %v; want FailedPrecondition", err)
	}
}

func TestWebhookPaymentEventsDeliveredSignedRetriedAndReplayed(t *testing.T) {
	t.Parallel()
	a := startWebhooks(t, storetest.SQLite(t))
	ctx := context.Background()
	moh := a.iss.as(t, "moh", scope.WebhooksManage)
	r := newReceiver(t, http.StatusInternalServerError)
	ep, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{
		Url: r.srv.URL + "/tamkeen", Events: []string{"payment.succeeded", "payment.disputed"}})
	if err != nil {
		t.Fatal(err)
	}
	now := timestamppb.Now()
	succeeded, err := events.NewEvent("tamkeen/payment", "tamkeen.payment.succeeded.v1", &eventsv1.PaymentSucceeded{
		PaymentId: "pay_1", ClientId: "moh", Reference: "LIC-1", Amount: 15050, Currency: "ILS", Time: now,
		ReceiptPhoneNumber: "+970599777888"})
	if err != nil {
		t.Fatal(err)
	}
	// Handled twice (a redelivery): one delivery.
	for range 2 {
		if err := a.svc.handlePaymentWebhook(ctx, succeeded); err != nil {
			t.Fatal(err)
		}
	}
	// Another client's payment and a refund the endpoint does not want.
	other, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.succeeded.v1", &eventsv1.PaymentSucceeded{PaymentId: "pay_2", ClientId: "mof", Time: now})
	refunded, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.refunded.v1", &eventsv1.PaymentRefunded{PaymentId: "pay_1", ClientId: "moh", Time: now})
	// disputed carries no client id: the owner is the one remembered.
	disputed, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.disputed.v1", &paymentv1.Payment{Id: "pay_1", State: "disputed", UpdateTime: now})
	unknown, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.disputed.v1", &paymentv1.Payment{Id: "pay_9", State: "disputed", UpdateTime: now})
	for _, ev := range []events.Event{other, refunded, disputed, unknown} {
		if err := a.svc.handlePaymentWebhook(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}

	// succeeded: 500, then 200 on the back-off; disputed: 200.
	waitFor(t, 10*time.Second, "three posts", func() bool { return len(r.posts()) >= 3 })
	byEvent := map[string][]WebhookBody{}
	for _, p := range r.posts() {
		if err := VerifyCallback(ep.GetSecret(), p.sig, p.body, time.Now(), 0); err != nil {
			t.Errorf("post %s does not verify with the endpoint's secret: %v", p.body, err)
		}
		var b WebhookBody
		if err := json.Unmarshal(p.body, &b); err != nil {
			t.Fatal(err)
		}
		byEvent[b.Type] = append(byEvent[b.Type], b)
	}
	if s := byEvent["payment.succeeded"]; len(s) != 2 || s[0].ID != succeeded.ID || s[1].ID != succeeded.ID ||
		!strings.Contains(string(s[0].Data), `"amount":"15050"`) || strings.Contains(string(s[0].Data), "+970") {
		t.Errorf("payment.succeeded posts = %+v; want the event %s twice (500, then retried), with its amount and no phone number", s, succeeded.ID)
	}
	if d := byEvent["payment.disputed"]; len(d) != 1 || d[0].ID != disputed.ID || !strings.Contains(string(d[0].Data), `"state":"disputed"`) {
		t.Errorf("payment.disputed posts = %+v; want %s once", d, disputed.ID)
	}
	if len(byEvent) != 2 {
		t.Errorf("event types posted = %v; want only succeeded and disputed", byEvent)
	}

	// The log: newest first, the retried one with its two attempts.
	var log *notificationv1.ListWebhookDeliveriesResponse
	waitFor(t, 5*time.Second, "both deliveries delivered", func() bool {
		log, err = a.api.ListWebhookDeliveries(moh, &notificationv1.ListWebhookDeliveriesRequest{EndpointId: ep.GetId()})
		if err != nil || len(log.GetDeliveries()) != 2 {
			return false
		}
		for _, d := range log.GetDeliveries() {
			if d.GetState() != deliveryDelivered {
				return false
			}
		}
		return true
	})
	var first *notificationv1.WebhookDelivery
	for _, d := range log.GetDeliveries() {
		if d.GetEventType() == "payment.succeeded" {
			first = d
		}
	}
	if first == nil || first.GetAttemptCount() != 2 || len(first.GetAttempts()) != 2 ||
		first.GetAttempts()[0].GetStatusCode() != 500 || first.GetAttempts()[1].GetStatusCode() != 200 {
		t.Fatalf("log of payment.succeeded = %v; want attempts 500 then 200", first)
	}

	// Replay: the same event (same id) once more, as a new delivery.
	rep, err := a.api.ReplayWebhookDelivery(moh, &notificationv1.ReplayWebhookDeliveryRequest{EndpointId: ep.GetId(), Id: first.GetId()})
	if err != nil || rep.GetReplayOf() != first.GetId() || rep.GetEventId() != succeeded.ID {
		t.Fatalf("replay = %v, %v", rep, err)
	}
	waitFor(t, 5*time.Second, "the replay", func() bool { return len(r.posts()) == 4 })
	last := r.posts()[3]
	var b WebhookBody
	if err := json.Unmarshal(last.body, &b); err != nil || b.ID != succeeded.ID {
		t.Errorf("replayed body = %s; want event %s", last.body, succeeded.ID)
	}
}

func TestWebhookFailsAfterTheBackoffAndRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	a := startWebhooks(t, storetest.SQLite(t))
	moh := a.iss.as(t, "moh", scope.WebhooksManage)
	r := newReceiver(t, 500, 503, 500, 500)
	ep, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{Url: r.srv.URL, Events: []string{"payment.failed"}})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := a.api.RotateWebhookSecret(moh, &notificationv1.RotateWebhookSecretRequest{Id: ep.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	failed, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.failed.v1", &eventsv1.PaymentFailed{PaymentId: "pay_3", ClientId: "moh", Reason: "declined", Time: timestamppb.Now()})
	if err := a.svc.handlePaymentWebhook(context.Background(), failed); err != nil {
		t.Fatal(err)
	}
	// payment.expired is the payment enabler's PaymentFailed on its own
	// subject; the endpoint did not ask for it.
	expired, _ := events.NewEvent("tamkeen/payment", "tamkeen.payment.expired.v1", &eventsv1.PaymentFailed{PaymentId: "pay_4", ClientId: "moh", Reason: "expired unpaid", Time: timestamppb.Now()})
	if err := a.svc.handlePaymentWebhook(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	// Backoff has two waits: three attempts, then failed.
	var d *notificationv1.WebhookDelivery
	waitFor(t, 10*time.Second, "the delivery failed", func() bool {
		l, err := a.api.ListWebhookDeliveries(moh, &notificationv1.ListWebhookDeliveriesRequest{EndpointId: ep.GetId()})
		if err != nil || len(l.GetDeliveries()) != 1 {
			return false
		}
		d = l.GetDeliveries()[0]
		return d.GetState() == deliveryFailed
	})
	if d.GetAttemptCount() != 3 || len(r.posts()) != 3 || d.GetNextAttemptTime() != nil {
		t.Errorf("failed delivery = %v after %d posts; want 3 attempts, no next one", d, len(r.posts()))
	}
	for _, p := range r.posts() {
		if strings.Count(p.sig, "v1=") != 2 {
			t.Errorf("signature %q; want a v1 per live secret (2)", p.sig)
		}
		for name, secret := range map[string]string{"old": ep.GetSecret(), "new": rot.GetSecret()} {
			if err := VerifyCallback(secret, p.sig, p.body, time.Now(), 0); err != nil {
				t.Errorf("the %s secret does not verify %q: %v", name, p.sig, err)
			}
		}
		if err := VerifyCallback("whsec_forged", p.sig, p.body, time.Now(), 0); !errors.Is(err, ErrBadSignature) {
			t.Errorf("a forged secret verifies: %v", err)
		}
		if err := VerifyCallback(rot.GetSecret(), p.sig, p.body, time.Now().Add(6*time.Minute), 0); !errors.Is(err, ErrBadSignature) {
			t.Errorf("a stale signature verifies: %v", err)
		}
	}
}

func TestWebhookNotificationStatuses(t *testing.T) {
	t.Parallel()
	a := startWebhooks(t, storetest.SQLite(t))
	moh := a.iss.as(t, "moh", scope.WebhooksManage, scope.TemplatesWrite, scope.NotificationsSend)
	r := newReceiver(t)
	ep, err := a.api.CreateWebhookEndpoint(moh, &notificationv1.CreateWebhookEndpointRequest{Url: r.srv.URL, Events: []string{"notification.delivered"}})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := a.api.CreateTemplate(moh, &notificationv1.CreateTemplateRequest{Name: "t", Channel: "sms", Language: "en", Body: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.api.SendSms(moh, &notificationv1.SendSmsRequest{PhoneNumber: "+970599000016", TemplateId: tpl.GetId(), Reference: "ref-16"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the delivered webhook", func() bool { return len(r.posts()) >= 1 })
	p := r.posts()[0]
	if err := VerifyCallback(ep.GetSecret(), p.sig, p.body, time.Now(), 0); err != nil {
		t.Errorf("does not verify: %v", err)
	}
	var b struct {
		ID   string                  `json:"id"`
		Type string                  `json:"type"`
		Data NotificationWebhookData `json:"data"`
	}
	if err := json.Unmarshal(p.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Type != "notification.delivered" || b.Data.ID != n.GetId() || b.Data.Reference != "ref-16" || !strings.HasPrefix(b.ID, "evt_") ||
		strings.Contains(string(p.body), "+970599000016") {
		t.Errorf("body = %s; want notification.delivered of %s with an event id and no phone number", p.body, n.GetId())
	}
}

func TestPaymentWebhookReadsEveryPaymentEvent(t *testing.T) {
	t.Parallel()
	now := timestamppb.Now()
	for _, tc := range []struct {
		typ        string
		msg        proto.Message
		want       string
		wantClient string
		wantState  string
	}{
		{"tamkeen.payment.succeeded.v1", &eventsv1.PaymentSucceeded{PaymentId: "pay_1", ClientId: "moh", Amount: 100, Currency: "ILS", Time: now}, WebhookPaymentSucceeded, "moh", "succeeded"},
		{"tamkeen.payment.failed.v1", &eventsv1.PaymentFailed{PaymentId: "pay_1", ClientId: "moh", Reason: "declined", Time: now}, WebhookPaymentFailed, "moh", "failed"},
		{"tamkeen.payment.expired.v1", &eventsv1.PaymentFailed{PaymentId: "pay_1", ClientId: "moh", Reason: "expired unpaid", Time: now}, WebhookPaymentExpired, "moh", "expired"},
		{"tamkeen.payment.refunded.v1", &eventsv1.PaymentRefunded{PaymentId: "pay_1", RefundId: "ref_1", ClientId: "moh", Amount: 50, Time: now}, WebhookPaymentRefunded, "moh", "refunded"},
		{"tamkeen.payment.disputed.v1", &paymentv1.Payment{Id: "pay_1", State: "lost", UpdateTime: now}, WebhookPaymentDisputed, "", "lost"},
	} {
		ev, err := events.NewEvent("tamkeen/payment", tc.typ, tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		typ, client, data, err := paymentWebhook(ev)
		if err != nil || typ != tc.want || client != tc.wantClient || data.PaymentID != "pay_1" || data.State != tc.wantState {
			t.Errorf("%s: = %q %q %+v %v; want %s of %q, state %s", tc.typ, typ, client, data, err, tc.want, tc.wantClient, tc.wantState)
		}
	}
	for name, ev := range map[string]func() (events.Event, error){
		"unknown type": func() (events.Event, error) {
			return events.NewEvent("tamkeen/payment", "tamkeen.payment.created.v1", &eventsv1.PaymentFailed{PaymentId: "pay_1"})
		},
		"no payment id": func() (events.Event, error) {
			return events.NewEvent("tamkeen/payment", "tamkeen.payment.failed.v1", &eventsv1.PaymentFailed{ClientId: "moh"})
		},
	} {
		e, err := ev()
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := paymentWebhook(e); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestWebhookClientRefusesInternalAddresses: out of dev mode the
// deliveries' client does not connect to the platform's own network,
// whatever a host name resolves to; in dev mode it does (loopback
// receivers).
func TestWebhookClientRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	resp, err := webhookClient(nil, false).Post(r.srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, errInternalAddress) || len(r.posts()) != 0 {
		t.Errorf("post to %s out of dev mode = %v, %d posts; want errInternalAddress and none", r.srv.URL, err, len(r.posts()))
	}
	resp, err = webhookClient(nil, true).Post(r.srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("post in dev mode: %v", err)
	}
	resp.Body.Close()
	if len(r.posts()) != 1 {
		t.Errorf("posts in dev mode = %d; want 1", len(r.posts()))
	}
}
