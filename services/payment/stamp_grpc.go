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

// CreateStamps buys stamps for the calling client (payments:write) or
// citizen: the buyer and its ministry come from the token, never from the
// request; a citizen's department and ministry come from the fee type.
func (g *grpcServer) CreateStamps(ctx context.Context, req *paymentv1.CreateStampsRequest) (*paymentv1.StampOrder, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.party(scope.PaymentsWrite, true, true, false), func(p Party) (StampOrder, error) {
		return g.svc.CreateStamps(ctx, buyerID(p), StampInput{
			FeeType: req.GetFeeType(), Value: req.GetValue(), Currency: req.GetCurrency(), Department: req.GetDepartment(),
			Quantity: int(req.GetQuantity()), ReturnURL: req.GetReturnUrl(), IdempotencyKey: req.GetIdempotencyKey(),
			Ministry: p.Ministry, Citizen: p.CitizenID != "",
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

// RegisterStampFeeType registers a fee type for the client's ministry
// (payments:write).
func (g *grpcServer) RegisterStampFeeType(ctx context.Context, req *paymentv1.RegisterStampFeeTypeRequest) (*paymentv1.StampFeeType, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsWrite), func(claims *jwks.Claims) (FeeType, error) {
		return g.svc.RegisterFeeType(ctx, claims.ClientID, claims.Ministry, FeeType{
			ID: req.GetFeeType(), Department: req.GetDepartment(), Value: req.GetValue(), Currency: Currency(req.GetCurrency()),
			NameAR: req.GetNameAr(), NameEN: req.GetNameEn(),
		})
	}, feeTypeToProto)
}

// ListStampFeeTypes is public: the catalogue of what citizens can buy.
func (g *grpcServer) ListStampFeeTypes(ctx context.Context, _ *paymentv1.ListStampFeeTypesRequest) (*paymentv1.ListStampFeeTypesResponse, error) {
	fts, err := g.svc.ListFeeTypes(ctx)
	if err != nil {
		return nil, g.toStatus(ctx, err)
	}
	out := &paymentv1.ListStampFeeTypesResponse{}
	for _, ft := range fts {
		out.FeeTypes = append(out.FeeTypes, feeTypeToProto(ft))
	}
	return out, nil
}

// ListStamps lists the stamps the caller bought (payments:read for a
// client, any signed-in citizen).
func (g *grpcServer) ListStamps(ctx context.Context, req *paymentv1.ListStampsRequest) (*paymentv1.ListStampsResponse, error) {
	type page struct {
		stamps []Stamp
		next   string
	}
	return grpcserver.Unary(ctx, g.toStatus, g.party(scope.PaymentsRead, true, true, false), func(p Party) (page, error) {
		sts, next, err := g.svc.ListStamps(ctx, p, int(req.GetPageSize()), req.GetPageToken())
		return page{sts, next}, err
	}, func(p page) *paymentv1.ListStampsResponse {
		now := g.svc.clock()
		out := &paymentv1.ListStampsResponse{NextPageToken: p.next}
		for _, st := range p.stamps {
			out.Stamps = append(out.Stamps, stampToProto(st, now))
		}
		return out
	})
}

// PrintStamp returns the printable stamp to its buyer or a client of its
// issuing ministry (payments:read); anyone else gets NOT_FOUND.
func (g *grpcServer) PrintStamp(ctx context.Context, req *paymentv1.PrintStampRequest) (*paymentv1.PrintStampResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.party(scope.PaymentsRead, true, true, false), func(p Party) ([]byte, error) {
		return g.svc.PrintStamp(ctx, p, req.GetSerial())
	}, func(pdf []byte) *paymentv1.PrintStampResponse { return &paymentv1.PrintStampResponse{Pdf: pdf} })
}

func feeTypeToProto(ft FeeType) *paymentv1.StampFeeType {
	return &paymentv1.StampFeeType{
		FeeType: ft.ID, Department: ft.Department, Value: ft.Value, Currency: string(ft.Currency),
		NameAr: ft.NameAR, NameEn: ft.NameEN, Ministry: ft.Ministry, UpdateTime: timestamppb.New(ft.UpdatedAt),
	}
}
