package payment

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/scope"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// CreateStamps buys stamps for the calling client (payments:write): the
// buyer and its ministry come from the token, never from the request.
func (g *grpcServer) CreateStamps(ctx context.Context, req *paymentv1.CreateStampsRequest) (*paymentv1.StampOrder, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsWrite), func(claims *jwks.Claims) (StampOrder, error) {
		return g.svc.CreateStamps(ctx, claims.ClientID, StampInput{
			FeeType: req.GetFeeType(), Value: req.GetValue(), Currency: req.GetCurrency(), Department: req.GetDepartment(),
			Quantity: int(req.GetQuantity()), ReturnURL: req.GetReturnUrl(), IdempotencyKey: req.GetIdempotencyKey(),
			Ministry: claims.Ministry,
		})
	}, func(o StampOrder) *paymentv1.StampOrder {
		now := g.svc.clock()
		out := &paymentv1.StampOrder{Payment: toProto(o.Payment)}
		for _, st := range o.Stamps {
			out.Stamps = append(out.Stamps, stampToProto(st, now))
		}
		return out
	})
}

// GetStamp is public: anyone holding a stamp's serial may verify it. The
// document it was used for and the buyer's payment are not shown.
func (g *grpcServer) GetStamp(ctx context.Context, req *paymentv1.GetStampRequest) (*paymentv1.Stamp, error) {
	st, err := g.svc.GetStamp(ctx, req.GetSerial())
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	out := stampToProto(st, g.svc.clock())
	out.DocumentRef, out.PaymentId = "", ""
	return out, nil
}

// CancelStamp uses a stamp for a document (stamps:cancel).
func (g *grpcServer) CancelStamp(ctx context.Context, req *paymentv1.CancelStampRequest) (*paymentv1.Stamp, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.StampsCancel), func(claims *jwks.Claims) (Stamp, error) {
		return g.svc.CancelStamp(ctx, claims.ClientID, req.GetSerial(), req.GetDocumentRef())
	}, func(st Stamp) *paymentv1.Stamp { return stampToProto(st, g.svc.clock()) })
}

// stampToProto maps a stamp to its API form, with its status at now.
func stampToProto(st Stamp, now time.Time) *paymentv1.Stamp {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	return &paymentv1.Stamp{
		Serial: st.Serial, Status: string(st.StatusAt(now)), Value: st.Value, Currency: string(st.Currency),
		FeeType: st.FeeType, Department: st.Department, Buyer: st.Buyer, PaymentId: st.PaymentID,
		IssueTime: ts(st.IssuedAt), ExpireTime: ts(st.ExpireAt), UsedBy: st.UsedBy, DocumentRef: st.DocumentRef,
		UseTime: ts(st.UsedAt), SignedStamp: st.SignedStamp,
	}
}
