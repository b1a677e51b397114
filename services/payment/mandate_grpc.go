package payment

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// StepUpMaxAge is how recent a citizen's loa2 step-up must be to authorise
// a mandate: the gateway's bound for fresh step-ups (RFC 9470 max_age).
const StepUpMaxAge = 300 * time.Second

// party is the caller of a mandate RPC: a ministry client holding scope
// need (its ministry from the token), or a citizen; fresh asks a citizen
// for a loa2 step-up no older than StepUpMaxAge.
func (g *grpcServer) party(need string, clients, citizens, fresh bool) func(context.Context) (Party, error) {
	return func(ctx context.Context) (Party, error) {
		c, err := authn.Verify(ctx, g.svc.verifier, g.svc.Logger)
		if err != nil {
			return Party{}, err
		}
		if c.IsClient() {
			if !clients {
				return Party{}, rpcerr.PermissionDenied("a citizen token is required")
			}
			if err := authn.RequireScope(c, need); err != nil {
				return Party{}, err
			}
			return Party{ClientID: c.ClientID, Ministry: c.Ministry}, nil
		}
		if !citizens || c.ClientID != "" {
			return Party{}, rpcerr.PermissionDenied("a ministry client token is required")
		}
		if fresh {
			if err := g.requireStepUp(c); err != nil {
				return Party{}, err
			}
		}
		return Party{CitizenID: c.Subject}, nil
	}
}

// requireStepUp refuses a citizen token that is not loa2 or whose step-up
// is older than StepUpMaxAge.
func (g *grpcServer) requireStepUp(c *jwks.Claims) error {
	var at time.Time
	if c.AuthTime != nil {
		at = c.AuthTime.Time
	}
	return authn.RequireStepUp(c.ACR, at, g.svc.Now(), StepUpMaxAge)
}

// CreateMandate: a ministry client (payments:write) asks for a mandate;
// the creditor is its ministry, from its token.
func (g *grpcServer) CreateMandate(ctx context.Context, req *paymentv1.CreateMandateRequest) (*paymentv1.Mandate, error) {
	return g.mandateRPC(ctx, g.party(scope.PaymentsWrite, true, false, false), func(p Party) (Mandate, error) {
		return g.svc.CreateMandate(ctx, p, MandateInput{
			DebtorName: req.GetDebtorName(), DebtorIBAN: req.GetDebtorIban(), MaxAmount: req.GetMaxAmount(), Currency: req.GetCurrency(),
			Frequency: req.GetFrequency(), StartDate: req.GetStartDate(), EndDate: req.GetEndDate(), Reference: req.GetReference(),
			Description: req.GetDescription(), CitizenID: req.GetCitizenId(),
			Notify:         Receipt{PhoneNumber: req.GetNotify().GetPhoneNumber(), Language: req.GetNotify().GetLanguage()},
			IdempotencyKey: req.GetIdempotencyKey(),
		})
	})
}

// GetMandate: the ministry client that created it (payments:read) or the
// citizen bound to it.
func (g *grpcServer) GetMandate(ctx context.Context, req *paymentv1.GetMandateRequest) (*paymentv1.Mandate, error) {
	return g.mandateRPC(ctx, g.party(scope.PaymentsRead, true, true, false), func(p Party) (Mandate, error) {
		return g.svc.GetMandate(ctx, p, req.GetId())
	})
}

// ListMandates: a ministry client's own (payments:read), or a citizen's.
func (g *grpcServer) ListMandates(ctx context.Context, req *paymentv1.ListMandatesRequest) (*paymentv1.ListMandatesResponse, error) {
	var who Party
	return grpcserver.List(ctx, g.toStatus, g.party(scope.PaymentsRead, true, true, false), func(p Party) ([]Mandate, string, error) {
		who = p
		return g.svc.ListMandates(ctx, p, req.GetState(), int(req.GetPageSize()), req.GetPageToken())
	}, func(ms []Mandate, next string) *paymentv1.ListMandatesResponse {
		out := &paymentv1.ListMandatesResponse{NextPageToken: next}
		for _, m := range ms {
			out.Mandates = append(out.Mandates, mandateToProto(m, who))
		}
		return out
	})
}

// AuthorizeMandate: a citizen with a fresh loa2 step-up.
func (g *grpcServer) AuthorizeMandate(ctx context.Context, req *paymentv1.AuthorizeMandateRequest) (*paymentv1.Mandate, error) {
	return g.mandateRPC(ctx, g.party("", false, true, true), func(p Party) (Mandate, error) {
		return g.svc.AuthorizeMandate(ctx, p, req.GetId())
	})
}

// RevokeMandate: the citizen bound to the mandate, at any level.
func (g *grpcServer) RevokeMandate(ctx context.Context, req *paymentv1.RevokeMandateRequest) (*paymentv1.Mandate, error) {
	return g.mandateRPC(ctx, g.party("", false, true, false), func(p Party) (Mandate, error) {
		return g.svc.RevokeMandate(ctx, p, req.GetId())
	})
}

// CreateCollection: the ministry client that created the mandate
// (payments:write).
func (g *grpcServer) CreateCollection(ctx context.Context, req *paymentv1.CreateCollectionRequest) (*paymentv1.Collection, error) {
	return grpcserver.Unary(ctx, g.toStatus, g.party(scope.PaymentsWrite, true, false, false), func(p Party) (Collection, error) {
		return g.svc.CreateCollection(ctx, p, req.GetMandateId(), req.GetAmount(), req.GetDueDate())
	}, collectionToProto)
}

// mandateRPC answers a mandate RPC: call's mandate for the caller auth
// admits, shown as that caller may see it.
func (g *grpcServer) mandateRPC(ctx context.Context, auth func(context.Context) (Party, error),
	call func(Party) (Mandate, error)) (*paymentv1.Mandate, error) {
	var who Party
	return grpcserver.Unary(ctx, g.toStatus, auth, func(p Party) (Mandate, error) {
		who = p
		return call(p)
	}, func(m Mandate) *paymentv1.Mandate { return mandateToProto(m, who) })
}

// mandateToProto maps a mandate to its API form for who: the IBAN in full
// only to the citizen bound to it.
func mandateToProto(m Mandate, who Party) *paymentv1.Mandate {
	iban := provider.MaskIBAN(m.DebtorIBAN)
	if who.CitizenID != "" && who.CitizenID == m.CitizenID {
		iban = m.DebtorIBAN
	}
	out := &paymentv1.Mandate{
		Id: m.ID, State: string(m.State), Creditor: m.Ministry, CreditorAccount: m.CreditorAccount, ClientId: m.ClientID,
		CitizenId: m.CitizenID, DebtorName: m.DebtorName, DebtorIban: iban, MaxAmount: m.MaxAmount, Currency: string(m.Currency),
		Frequency: m.Frequency, StartDate: m.Start.Format(time.DateOnly), EndDate: m.End.Format(time.DateOnly),
		Reference: m.Reference, Description: m.Description, CreateTime: timestamppb.New(m.CreatedAt),
		AuthorizeTime: optTime(m.AuthorizedAt), RevokeTime: optTime(m.RevokedAt),
		Collections: grpcserver.Convert(m.Collections, collectionToProto),
	}
	if m.Notify.PhoneNumber != "" || m.Notify.Language != "" {
		out.Notify = &paymentv1.Receipt{PhoneNumber: m.Notify.PhoneNumber, Language: m.Notify.language()}
	}
	return out
}

func collectionToProto(c Collection) *paymentv1.Collection {
	return &paymentv1.Collection{
		Id: c.ID, MandateId: c.MandateID, Amount: c.Amount, Currency: string(c.Currency), DueDate: c.Due.Format(time.DateOnly),
		State: string(c.State), ReasonCode: c.ReasonCode, Reason: c.Reason, CreateTime: timestamppb.New(c.CreatedAt),
		AnnounceTime: optTime(c.AnnouncedAt), SubmitTime: optTime(c.SubmittedAt), SettleTime: optTime(c.SettledAt),
	}
}

// optTime is t as a timestamp, nil when zero.
func optTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
