package payment

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// grpcClient serves h's service on a loopback gRPC server.
func grpcClient(t *testing.T, h *harness) paymentv1.PaymentServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h.svc.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return paymentv1.NewPaymentServiceClient(conn)
}

func withToken(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func createReq(key string) *paymentv1.CreatePaymentRequest {
	return &paymentv1.CreatePaymentRequest{
		Amount: 100000, Currency: "JOD", Reference: "PT-1", Description: "Property tax", ReturnUrl: "https://m.example/r",
		IdempotencyKey: key,
		Splits: []*paymentv1.Split{{Account: "dept:land-registry", Amount: 50000}, {Account: "dept:municipality", Amount: 30000},
			{Account: "dept:treasury", Amount: 20000}},
	}
}

func TestGRPC(t *testing.T) {
	clk := newClock()
	tk := newTokens(t, clk)
	h := newHarness(t, storetest.SQLite(t), func(_ *Config, d *Deps) { d.Verifier = tk.verifier(t); d.Now = clk.Now })
	h.clk = clk
	c := grpcClient(t, h)
	writer := withToken(tk.client(t, ministryA, scope.PaymentsWrite, scope.PaymentsRead))
	p, err := c.CreatePayment(writer, createReq("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.GetState() != "created" || p.GetNextUrl() == "" || len(p.GetTransitions()) != 1 {
		t.Fatalf("created %v", p)
	}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		call   func(context.Context) error
		code   codes.Code
		reason string
		field  string
	}{
		{"no token", context.Background(), func(ctx context.Context) error { _, err := c.CreatePayment(ctx, createReq("")); return err }, codes.Unauthenticated, "", ""},
		{"bad token", withToken("e30.e30.sig"), func(ctx context.Context) error {
			_, err := c.GetPayment(ctx, &paymentv1.GetPaymentRequest{Id: p.GetId()})
			return err
		}, codes.Unauthenticated, "", ""},
		{"citizen token", withToken(tk.citizen(t)), func(ctx context.Context) error { _, err := c.CreatePayment(ctx, createReq("")); return err }, codes.PermissionDenied, "", ""},
		{"read scope cannot write", withToken(tk.client(t, ministryA, scope.PaymentsRead)), func(ctx context.Context) error { _, err := c.CreatePayment(ctx, createReq("")); return err }, codes.PermissionDenied, "", ""},
		{"payments scope cannot read the ledger", writer, func(ctx context.Context) error {
			_, err := c.GetTrialBalance(ctx, &paymentv1.GetTrialBalanceRequest{})
			return err
		}, codes.PermissionDenied, "", ""},
		{"another ministry", withToken(tk.client(t, ministryB, scope.PaymentsRead)), func(ctx context.Context) error {
			_, err := c.GetPayment(ctx, &paymentv1.GetPaymentRequest{Id: p.GetId()})
			return err
		}, codes.NotFound, "", ""},
		{"same key, different body", writer, func(ctx context.Context) error {
			r := createReq("k1")
			r.Description = "something else"
			_, err := c.CreatePayment(ctx, r)
			return err
		}, codes.InvalidArgument, ReasonIdempotencyKeyReused, "idempotency_key"},
		{"splits do not add up", writer, func(ctx context.Context) error {
			r := createReq("")
			r.Splits[2].Amount = 19999
			_, err := c.CreatePayment(ctx, r)
			return err
		}, codes.InvalidArgument, rpcerr.ReasonInvalidArgument, "splits"},
		{"cancel twice", writer, func(ctx context.Context) error {
			if _, err := c.CancelPayment(ctx, &paymentv1.CancelPaymentRequest{Id: p.GetId()}); err != nil {
				return err
			}
			_, err := c.CancelPayment(ctx, &paymentv1.CancelPaymentRequest{Id: p.GetId()})
			return err
		}, codes.FailedPrecondition, rpcerr.ReasonFailedPrecondition, ""},
		{"forged webhook", context.Background(), func(ctx context.Context) error {
			_, err := c.HandleProviderWebhook(ctx, &paymentv1.HandleProviderWebhookRequest{Provider: "sandbox", Payload: []byte(`{}`), Signature: "t=1,v1=" + strings.Repeat("00", 32)})
			return err
		}, codes.Unauthenticated, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(tc.ctx)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v (%v); want %v", status.Code(err), err, tc.code)
			}
			if tc.reason != "" && rpcerr.Reason(err) != tc.reason {
				t.Errorf("reason %q; want %q", rpcerr.Reason(err), tc.reason)
			}
			if tc.field != "" {
				vs := rpcerr.FieldViolations(err)
				if len(vs) != 1 || vs[0].Field != tc.field {
					t.Errorf("violations %+v; want one on %s", vs, tc.field)
				}
			}
		})
	}
	// The payments above were made by a client whose token names no
	// ministry: only the platform-wide view (ledger:admin) holds them.
	finance := withToken(tk.client(t, "finance", scope.LedgerAdmin))
	paid := h.pay(fee("G"))
	tb, err := c.GetTrialBalance(finance, &paymentv1.GetTrialBalanceRequest{})
	if err != nil || len(tb.GetCurrencies()) != 1 || tb.GetCurrencies()[0].GetBalance() != 0 || tb.GetCurrencies()[0].GetDebits() != 100000 {
		t.Fatalf("trial balance %v, %v", tb, err)
	}
	accts, err := c.ListLedgerAccounts(finance, &paymentv1.ListLedgerAccountsRequest{Currency: "JOD"})
	if err != nil || len(accts.GetAccounts()) != 4 {
		t.Fatalf("accounts %v, %v", accts, err)
	}
	rf, err := c.CreateRefund(writer, &paymentv1.CreateRefundRequest{PaymentId: paid.ID, Amount: 1000, Reason: "duplicate"})
	if err != nil || rf.GetState() != RefundSucceeded || rf.GetCurrency() != "JOD" {
		t.Fatalf("refund %v, %v", rf, err)
	}
	rec, err := c.Reconcile(finance, &paymentv1.ReconcileRequest{Provider: "sandbox", Date: clk.Now().Format(time.DateOnly)})
	if err != nil || rec.GetMatched() != 2 {
		t.Fatalf("reconcile %v, %v", rec, err)
	}
	list, err := c.ListPayments(writer, &paymentv1.ListPaymentsRequest{State: "partially_refunded"})
	if err != nil || len(list.GetPayments()) != 1 || list.GetPayments()[0].GetRefundedAmount() != 1000 {
		t.Fatalf("list %v, %v", list, err)
	}
}

// TestEventsReachTheStream: the outbox relay publishes payment.succeeded
// with the receipt's data, as the notification service will consume it.
func TestEventsReachTheStream(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.bus.EnsureStream(ctx, h.svc.cfg.ServiceStream(Name)); err != nil {
		t.Fatal(err)
	}
	in := fee("EV")
	in.Receipt = Receipt{PhoneNumber: "+970599123456", EmailAddress: "layla@example.ps", Language: "ar"}
	p := h.pay(in)
	if _, err := h.svc.Relay.PublishPending(ctx); err != nil {
		t.Fatal(err)
	}
	got := make(chan events.Event, 4)
	stop, err := h.bus.Consume(ctx, events.ConsumerConfig{Stream: "PAYMENT", Durable: "test", FilterSubjects: []string{"tamkeen.payment.succeeded"}},
		func(_ context.Context, ev events.Event) error { got <- ev; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case ev := <-got:
		var m eventsv1.PaymentSucceeded
		if err := ev.UnmarshalData(&m); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "tamkeen.payment.succeeded.v1" || m.GetPaymentId() != p.ID || m.GetAmount() != 100000 || m.GetCurrency() != "JOD" ||
			m.GetClientId() != ministryA || m.GetCitizenId() != "cit_1" || m.GetReference() != "EV" ||
			m.GetReceiptPhoneNumber() != "+970599123456" || m.GetReceiptEmailAddress() != "layla@example.ps" ||
			m.GetReceiptLanguage() != "ar" || m.GetDescription() != in.Description {
			t.Errorf("event %s %+v", ev.Type, &m)
		}
	case <-ctx.Done():
		t.Fatal("no payment.succeeded event on the stream")
	}
}
