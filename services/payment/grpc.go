package payment

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// ReasonIdempotencyKeyReused is the ErrorInfo reason of a reused
// Idempotency-Key (RFC draft-ietf-httpapi-idempotency-key-header: 422).
const ReasonIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"

// grpcServer adapts the Service to the generated PaymentService API; it is
// the one place where proto types meet the domain.
type grpcServer struct {
	paymentv1.UnimplementedPaymentServiceServer
	svc *Service
}

// as returns the who of an RPC that needs scope need: the calling client's
// claims, whose client id scopes every payment to the client that created
// it.
func (g *grpcServer) as(need string) func(context.Context) (*jwks.Claims, error) {
	return func(ctx context.Context) (*jwks.Claims, error) {
		claims, err := g.client(ctx)
		if err != nil {
			return nil, err
		}
		if err := authn.RequireScope(claims, need); err != nil {
			return nil, err
		}
		return claims, nil
	}
}

// client verifies the request's token and returns its claims when it is a
// ministry client's.
func (g *grpcServer) client(ctx context.Context) (*jwks.Claims, error) {
	claims, err := authn.Verify(ctx, g.svc.verifier, g.svc.Logger)
	if err != nil {
		return nil, err
	}
	if !claims.IsClient() {
		return nil, rpcerr.PermissionDenied("payments are made by ministry clients, not citizens")
	}
	return claims, nil
}

// ledgerReader is the client reading the ledger and the view it may see.
type ledgerReader struct {
	client string
	view   LedgerView
}

// reader returns the client reading the ledger and its view: the
// platform-wide one with ledger:admin, else (ledger:read) the part of the
// client's ministry, from the token's ministry claim; a client registered
// with no ministry sees none.
func (g *grpcServer) reader(ctx context.Context) (ledgerReader, error) {
	claims, err := g.client(ctx)
	if err != nil {
		return ledgerReader{}, err
	}
	if claims.HasScope(scope.LedgerAdmin) {
		return ledgerReader{claims.ClientID, PlatformLedger}, nil
	}
	if err := authn.RequireScope(claims, scope.LedgerRead); err != nil {
		return ledgerReader{}, err
	}
	if claims.Ministry == "" {
		return ledgerReader{}, rpcerr.PermissionDenied("client " + claims.ClientID + " is registered with no ministry, so it sees no part of the ledger")
	}
	return ledgerReader{claims.ClientID, LedgerView{Ministry: claims.Ministry}}, nil
}

// statusRules are the payment sentinels that FromDomain does not know, in
// the order toStatus checks them.
var statusRules = []rpcerr.Rule{
	{Err: ErrIdempotencyMismatch, Code: codes.InvalidArgument, Reason: ReasonIdempotencyKeyReused, Field: "idempotency_key", FieldCode: "idempotency_key.reused"},
	{Err: ErrProviderUnavailable, Code: codes.Unavailable},
}

// toStatus maps domain errors to gRPC statuses in one place.
func (g *grpcServer) toStatus(ctx context.Context, err error) error {
	if st := rpcerr.Map(err, statusRules); st != nil {
		return st
	}
	if st := rpcerr.Map(err, mandateRules); st != nil {
		return st
	}
	return rpcerr.FromDomain(err, g.svc.Logger, ctx)
}

func (g *grpcServer) CreatePayment(ctx context.Context, req *paymentv1.CreatePaymentRequest) (*paymentv1.Payment, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsWrite), func(claims *jwks.Claims) (Payment, error) {
		in := CreateInput{
			Ministry: claims.Ministry,
			Amount:   req.GetAmount(), Currency: req.GetCurrency(), Reference: req.GetReference(), Description: req.GetDescription(),
			ReturnURL: req.GetReturnUrl(), CitizenID: req.GetCitizenId(), IdempotencyKey: req.GetIdempotencyKey(), Provider: req.GetProvider(),
			Receipt: Receipt{PhoneNumber: req.GetReceipt().GetPhoneNumber(), EmailAddress: req.GetReceipt().GetEmailAddress(), Language: req.GetReceipt().GetLanguage()},
		}
		for _, sp := range req.GetSplits() {
			in.Splits = append(in.Splits, Split{Account: sp.GetAccount(), Amount: sp.GetAmount()})
		}
		return g.svc.CreatePayment(ctx, claims.ClientID, in)
	}, toProto)
}

func (g *grpcServer) GetPayment(ctx context.Context, req *paymentv1.GetPaymentRequest) (*paymentv1.Payment, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsRead), func(claims *jwks.Claims) (Payment, error) {
		return g.svc.GetPayment(ctx, claims.ClientID, req.GetId())
	}, toProto)
}

func (g *grpcServer) ListPayments(ctx context.Context, req *paymentv1.ListPaymentsRequest) (*paymentv1.ListPaymentsResponse, error) {
	f := ListFilter{Reference: req.GetReference(), State: req.GetState(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	if req.GetCreatedAfter() != nil {
		f.CreatedAfter = req.GetCreatedAfter().AsTime()
	}
	if req.GetCreatedBefore() != nil {
		f.CreatedBefore = req.GetCreatedBefore().AsTime()
	}
	return grpcserver.List(ctx, g.toStatus, g.as(scope.PaymentsRead), func(claims *jwks.Claims) ([]Payment, string, error) {
		return g.svc.ListPayments(ctx, claims.ClientID, f)
	}, func(ps []Payment, next string) *paymentv1.ListPaymentsResponse {
		return &paymentv1.ListPaymentsResponse{Payments: grpcserver.Convert(ps, toProto), NextPageToken: next}
	})
}

func (g *grpcServer) CancelPayment(ctx context.Context, req *paymentv1.CancelPaymentRequest) (*paymentv1.Payment, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsWrite), func(claims *jwks.Claims) (Payment, error) {
		return g.svc.CancelPayment(ctx, claims.ClientID, req.GetId())
	}, toProto)
}

func (g *grpcServer) CreateRefund(ctx context.Context, req *paymentv1.CreateRefundRequest) (*paymentv1.Refund, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.as(scope.PaymentsWrite), func(claims *jwks.Claims) (Refund, error) {
		return g.svc.CreateRefund(ctx, claims.ClientID, req.GetPaymentId(), req.GetAmount(), req.GetReason(), req.GetIdempotencyKey())
	}, func(r Refund) *paymentv1.Refund {
		return &paymentv1.Refund{
			Id: r.ID, PaymentId: r.PaymentID, Amount: r.Amount, Currency: string(r.Currency), State: r.State,
			Reason: r.Reason, CreateTime: timestamppb.New(r.CreatedAt),
		}
	})
}

func (g *grpcServer) HandleProviderWebhook(ctx context.Context, req *paymentv1.HandleProviderWebhookRequest) (*paymentv1.HandleProviderWebhookResponse, error) {
	if err := g.svc.HandleWebhook(ctx, req.GetProvider(), req.GetPayload(), req.GetSignature()); err != nil {
		return nil, g.toStatus(ctx, err)
	}
	return &paymentv1.HandleProviderWebhookResponse{}, nil
}

func (g *grpcServer) GetTrialBalance(ctx context.Context, _ *paymentv1.GetTrialBalanceRequest) (*paymentv1.TrialBalance, error) {
	var asOf time.Time
	return grpcserver.Unary(ctx, g.toStatus, g.reader, func(r ledgerReader) (tb []CurrencyTotals, err error) {
		tb, asOf, err = g.svc.TrialBalance(ctx, r.view)
		return tb, err
	}, func(tb []CurrencyTotals) *paymentv1.TrialBalance {
		resp := &paymentv1.TrialBalance{AsOf: timestamppb.New(asOf)}
		for _, c := range tb {
			cb := &paymentv1.CurrencyBalance{Currency: string(c.Currency), Debits: c.Debits, Credits: c.Credits, Balance: c.Net()}
			for _, a := range c.Accounts {
				cb.Accounts = append(cb.Accounts, accountProto(a))
			}
			resp.Currencies = append(resp.Currencies, cb)
		}
		return resp
	})
}

func (g *grpcServer) ListLedgerAccounts(ctx context.Context, req *paymentv1.ListLedgerAccountsRequest) (*paymentv1.ListLedgerAccountsResponse, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.reader, func(r ledgerReader) ([]Balance, error) {
		return g.svc.Balances(ctx, r.view, req.GetCurrency())
	}, func(bals []Balance) *paymentv1.ListLedgerAccountsResponse {
		return &paymentv1.ListLedgerAccountsResponse{Accounts: grpcserver.Convert(bals, accountProto)}
	})
}

func (g *grpcServer) Reconcile(ctx context.Context, req *paymentv1.ReconcileRequest) (*paymentv1.Reconciliation, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.reader, func(r ledgerReader) (Reconciliation, error) {
		return g.svc.Reconcile(ctx, r.client, r.view, req.GetProvider(), req.GetDate())
	}, reconciliationProto)
}

// reconciliationProto maps a reconciliation to its API form.
func reconciliationProto(rec Reconciliation) *paymentv1.Reconciliation {
	items := func(in []ReconItem) []*paymentv1.ReconciliationItem {
		var out []*paymentv1.ReconciliationItem
		for _, i := range in {
			out = append(out, &paymentv1.ReconciliationItem{PaymentId: i.PaymentID, ProviderReference: i.ProviderRef,
				LedgerAmount: i.LedgerAmount, ReportAmount: i.ReportAmount, Currency: i.Currency})
		}
		return out
	}
	return &paymentv1.Reconciliation{
		Id: rec.ID, Provider: rec.Provider, Date: rec.Date, Matched: int32(rec.Matched),
		MissingInReport: items(rec.MissingInReport), MissingInLedger: items(rec.MissingInLedger), Mismatched: items(rec.Mismatched),
	}
}

func accountProto(b Balance) *paymentv1.LedgerAccount {
	return &paymentv1.LedgerAccount{Account: b.Account, Currency: string(b.Currency), Debits: b.Debits, Credits: b.Credits, Balance: b.Net()}
}

// toProto maps a payment to its API form.
func toProto(p Payment) *paymentv1.Payment {
	out := &paymentv1.Payment{
		Id: p.ID, State: string(p.State), Amount: p.Amount, Currency: string(p.Currency), Reference: p.Reference,
		Description: p.Description, ReturnUrl: p.ReturnURL, NextUrl: p.NextURL, RefundedAmount: p.RefundedAmount,
		Provider: p.Provider, CitizenId: p.CitizenID, CreateTime: timestamppb.New(p.CreatedAt),
		Receipt:    receiptToProto(p.Receipt),
		UpdateTime: timestamppb.New(p.UpdatedAt), ExpireTime: timestamppb.New(p.ExpireAt),
	}
	if p.State != Created && p.State != Pending {
		out.NextUrl = "" // nothing left to pay
	}
	for _, sp := range p.Splits {
		out.Splits = append(out.Splits, &paymentv1.Split{Account: sp.Account, Amount: sp.Amount})
	}
	for _, t := range p.Transitions {
		out.Transitions = append(out.Transitions, &paymentv1.PaymentTransition{
			FromState: string(t.From), ToState: string(t.To), Cause: t.Cause, Time: timestamppb.New(t.At),
		})
	}
	return out
}

// receiptToProto maps a payment's receipt contact; nil when it has none.
func receiptToProto(r Receipt) *paymentv1.Receipt {
	if r.PhoneNumber == "" && r.EmailAddress == "" {
		return nil
	}
	return &paymentv1.Receipt{PhoneNumber: r.PhoneNumber, EmailAddress: r.EmailAddress, Language: r.Language}
}
