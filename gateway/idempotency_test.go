package gateway

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// recordingConn records the request messages it is asked to send.
type recordingConn struct {
	grpc.ClientConnInterface
	got []any
}

func (c *recordingConn) Invoke(_ context.Context, _ string, args, _ any, _ ...grpc.CallOption) error {
	c.got = append(c.got, args)
	return nil
}

// TestIdempotencyKeysCopiesTheHeader: the Idempotency-Key header reaches
// the idempotency_key field of every request that has one (over a body
// value), and requests without the field go out unchanged.
func TestIdempotencyKeysCopiesTheHeader(t *testing.T) {
	ctx := context.WithValue(context.Background(), stateKey{}, &reqState{idempotencyKey: "idem-42"})
	for _, tc := range []struct {
		name string
		req  interface{ GetIdempotencyKey() string }
	}{
		{"sms", &notificationv1.SendSmsRequest{PhoneNumber: "+970599000001", IdempotencyKey: "from-body"}},
		{"email", &notificationv1.SendEmailRequest{EmailAddress: "a@b.ps"}},
		{"bulk", &notificationv1.CreateBulkJobRequest{Channel: "sms"}},
		{"payment", &paymentv1.CreatePaymentRequest{Amount: 100}},
		{"refund", &paymentv1.CreateRefundRequest{PaymentId: "pay_1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &recordingConn{}
			if err := (idempotencyKeys{rc}).Invoke(ctx, "/m", tc.req, nil); err != nil {
				t.Fatal(err)
			}
			if got := tc.req.GetIdempotencyKey(); got != "idem-42" || len(rc.got) != 1 {
				t.Errorf("idempotency_key = %q after %d calls; want the header's idem-42 once", got, len(rc.got))
			}
		})
	}
	t.Run("no field", func(t *testing.T) {
		req := &contentv1.GetItemRequest{Id: "cnt_1"}
		rc := &recordingConn{}
		if err := (idempotencyKeys{rc}).Invoke(ctx, "/m", req, nil); err != nil || len(rc.got) != 1 || req.GetId() != "cnt_1" {
			t.Errorf("Invoke = %v, %d calls, id %q; want one call, unchanged", err, len(rc.got), req.GetId())
		}
	})
	t.Run("no header", func(t *testing.T) {
		req := &notificationv1.SendSmsRequest{IdempotencyKey: "from-body"}
		rc := &recordingConn{}
		if err := (idempotencyKeys{rc}).Invoke(context.Background(), "/m", req, nil); err != nil || req.GetIdempotencyKey() != "from-body" {
			t.Errorf("Invoke = %v, key %q; want the body's key kept", err, req.GetIdempotencyKey())
		}
	})
}
