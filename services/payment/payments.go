package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// Payment is a payment and where it stands.
type Payment struct {
	ID       string
	ClientID string
	// Ministry is the creating client's registered ministry ("" when its
	// token named none); the payment's ledger postings belong to it.
	Ministry    string
	Amount      int64
	Currency    Currency
	Reference   string
	Description string
	ReturnURL   string
	CitizenID   string
	Provider    string
	ProviderRef string
	NextURL     string
	State       State
	// RefundedAmount is what refunds have taken or reserved.
	RefundedAmount int64
	Splits         []Split
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ExpireAt       time.Time
	Transitions    []Transition
	// Receipt is where the notification service sends the receipt.
	Receipt Receipt
}

// Receipt is where a payment's receipt goes on success: an SMS, an e-mail,
// both or neither, in Arabic (the default) or English.
type Receipt struct {
	PhoneNumber  string
	EmailAddress string
	Language     string
}

// CreateInput is a request for a new payment.
type CreateInput struct {
	Amount      int64
	Currency    string
	Reference   string
	Description string
	ReturnURL   string
	CitizenID   string
	Splits      []Split
	// IdempotencyKey makes retries safe: the same key and the same request
	// within IdempotencyTTL give the same payment.
	IdempotencyKey string
	// Provider names the acquirer; empty is the default.
	Provider string
	// Receipt is optional.
	Receipt Receipt
	// Ministry is the creating client's ministry, from its token (never
	// from the request). It is not part of the Idempotency-Key
	// fingerprint: it is the same for every request of one client.
	Ministry string `json:"-"`
	// onCreate, when set, runs in the transaction that creates the payment
	// (a stamp order reserves its stamps there).
	onCreate func(ctx context.Context, tx *sql.Tx, paymentID string, cur Currency) error
}

// Errors of the payments API.
var (
	// ErrNotFound: no such payment for this client (another client's
	// payment is "not found" too, so that ids leak nothing).
	ErrNotFound = rpcerr.ErrNotFound
	// ErrIdempotencyMismatch: the Idempotency-Key was used before with a
	// different request. The gRPC boundary answers INVALID_ARGUMENT with
	// reason IDEMPOTENCY_KEY_REUSED (HTTP 422 once the gateway maps it).
	ErrIdempotencyMismatch = errors.New("this Idempotency-Key was already used with a different request")
	// ErrProviderUnavailable: the acquirer did not answer; retry with the
	// same Idempotency-Key.
	ErrProviderUnavailable = errors.New("the payment provider is unavailable; retry with the same Idempotency-Key")
)

var (
	citizenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// validateCreate checks in and returns the currency and the provider.
func (s *Service) validateCreate(in CreateInput) (Currency, provider.Provider, error) {
	cur, fes := ValidateMoney(in.Amount, in.Currency, in.Splits)
	// The description is shown to the payer (checkout page, receipt); the
	// reference is an identifier people read: both refuse bidi controls,
	// zero-width and control characters (libs/textcheck).
	fes = checkText(fes, "reference", in.Reference, 128, textcheck.Address)
	fes = checkText(fes, "description", in.Description, 500, textcheck.OneLine)
	if _, reason := provider.ParseReturnURL(in.ReturnURL); reason != "" {
		fes = append(fes, FieldError{Field: "return_url", Reason: reason, Code: "return_url.invalid"})
	}
	if in.CitizenID != "" && !citizenRE.MatchString(in.CitizenID) {
		fes = append(fes, FieldError{Field: "citizen_id", Reason: "at most 64 letters, digits, '-' or '_'", Code: "citizen_id.format"})
	}
	fes = append(fes, in.Receipt.check()...)
	fes = checkIdempotencyKey(fes, in.IdempotencyKey)
	name := in.Provider
	if name == "" {
		name = s.cfg.DefaultProvider
	}
	prov, ok := s.providers[name]
	if !ok {
		fes = append(fes, FieldError{Field: "provider", Reason: fmt.Sprintf("no payment provider %q is configured", name), Code: "provider.unknown"})
	}
	return cur, prov, fieldErrors(fes)
}

// checkText appends to fes what is wrong with the required text field:
// empty, longer than max bytes, or holding characters kind refuses.
func checkText(fes []FieldError, field, v string, max int, kind textcheck.Kind) []FieldError {
	switch {
	case strings.TrimSpace(v) == "":
		return append(fes, FieldError{Field: field, Reason: "required", Code: rpcerr.FieldCode(field, "required")})
	case len(v) > max:
		return append(fes, FieldError{Field: field, Reason: fmt.Sprintf("at most %d bytes", max),
			Code: rpcerr.FieldCode(field, "too_many_bytes"), Args: rpcerr.ArgList(strconv.Itoa(max))})
	}
	if fe := textcheck.Check(field, v, kind); fe != nil {
		return append(fes, *fe)
	}
	return fes
}

// checkIdempotencyKey checks an Idempotency-Key: at most 255 visible
// ASCII characters.
func checkIdempotencyKey(fes []FieldError, k string) []FieldError {
	if len(k) > 255 || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		fes = append(fes, FieldError{Field: "idempotency_key", Reason: "at most 255 visible ASCII characters", Code: "idempotency_key.format"})
	}
	return fes
}

// claimKey binds an Idempotency-Key to id in tx (store's Claim with the
// configured TTL): it returns the id of an earlier identical request when
// there is one (existing true), or ErrIdempotencyMismatch.
func (s *Service) claimKey(ctx context.Context, tx *sql.Tx, k store.IdempotencyKey, id string, now time.Time) (string, bool, error) {
	got, existing, err := k.Claim(ctx, tx, id, now, s.cfg.IdempotencyTTL)
	if errors.Is(err, store.ErrIdempotencyKeyReused) {
		return "", false, ErrIdempotencyMismatch
	}
	return got, existing, err
}

// Idempotency scopes.
const (
	scopeCreatePayment = "create_payment"
	scopeCreateRefund  = "create_refund"
	scopeCreateMandate = "create_mandate"
)

// CreatePayment creates a payment for clientID and registers its charge
// with the acquirer. With an Idempotency-Key, repeating the same request
// returns the same payment (however many arrive at once), and a different
// request with the key fails with ErrIdempotencyMismatch.
//
// With an acquirer whose charges live in the payment database
// (provider.TxCharger: the sandbox) the Idempotency-Key claim, the
// payment, its splits, its first transition and its charge are one
// transaction, one commit: the request that wins the key's claim is the
// only one that registers a charge, and a create that rolls back takes its
// charge with it. Another acquirer's charge is a remote call, made after
// the commit (ensureCharge).
func (s *Service) CreatePayment(ctx context.Context, clientID string, in CreateInput) (Payment, error) {
	cur, prov, err := s.validateCreate(in)
	if err != nil {
		return Payment{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "pay_")
	if err != nil {
		return Payment{}, err
	}
	now := s.clock()
	expireAt := now.Add(s.cfg.PaymentTTL)
	fingerprint := in
	fingerprint.IdempotencyKey = ""
	fingerprint.Provider = prov.Name()
	key := store.NewIdempotencyKey(clientID, scopeCreatePayment, in.IdempotencyKey, fingerprint)
	txc, chargeInTx := prov.(provider.TxCharger)
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if in.IdempotencyKey != "" {
			got, existing, err := s.claimKey(ctx, tx, key, id, now)
			if err != nil {
				return err
			}
			if existing {
				id = got
				return nil
			}
		}
		var ch provider.Charge
		if chargeInTx {
			var err error
			ch, err = txc.CreateChargeTx(ctx, tx, provider.ChargeRequest{
				PaymentID: id, Amount: in.Amount, Currency: string(cur), Description: in.Description,
				ReturnURL: in.ReturnURL, ExpireAt: expireAt,
			})
			if err != nil {
				return fmt.Errorf("payment %s: %w", id, err)
			}
		}
		if err := insertPayment(ctx, tx, id, clientID, in, cur, prov.Name(), ch, now, expireAt); err != nil {
			return err
		}
		if err := recordTransition(ctx, tx, id, "", Created, "created by client "+clientID, now); err != nil {
			return err
		}
		if in.onCreate != nil {
			if err := in.onCreate(ctx, tx, id, cur); err != nil {
				return err
			}
		}
		s.noteTransition(ctx, Created, cur)
		return nil
	})
	if err != nil {
		return Payment{}, err
	}
	p, err := s.getPayment(ctx, s.DB, clientID, id)
	if err != nil {
		return Payment{}, err
	}
	if p.ProviderRef == "" && p.State == Created {
		// A remote acquirer's charge (or one whose registration failed
		// before: the retry with the same key completes it).
		if err := s.ensureCharge(ctx, prov, p); err != nil {
			return Payment{}, err
		}
		return s.getPayment(ctx, s.DB, clientID, id)
	}
	return p, nil
}

// ensureCharge registers the payment's charge with the acquirer (which
// answers the same for the same payment) and stores its reference and
// checkout URL, unless another request did so first.
func (s *Service) ensureCharge(ctx context.Context, prov provider.Provider, p Payment) error {
	ch, err := prov.CreateCharge(ctx, provider.ChargeRequest{
		PaymentID: p.ID, Amount: p.Amount, Currency: string(p.Currency), Description: p.Description,
		ReturnURL: p.ReturnURL, ExpireAt: p.ExpireAt,
	})
	if err != nil {
		s.Logger.WarnContext(ctx, "payment: create charge failed", "payment_id", p.ID, "provider", prov.Name(), "err", err)
		return ErrProviderUnavailable
	}
	if err := setCharge(ctx, s.DB, p.ID, ch.Ref, ch.NextURL); err != nil {
		return fmt.Errorf("store charge of %s: %w", p.ID, err)
	}
	return nil
}

// move changes a locked payment's state after checking the state machine,
// and records the transition.
func (s *Service) move(ctx context.Context, tx *sql.Tx, p *Payment, to State, cause string, now time.Time) error {
	if err := Move(p.State, to); err != nil {
		return fmt.Errorf("payment %s: %w", p.ID, err)
	}
	if err := setPaymentState(ctx, tx, p.ID, to, now); err != nil {
		return fmt.Errorf("update payment %s: %w", p.ID, err)
	}
	if err := recordTransition(ctx, tx, p.ID, p.State, to, cause, now); err != nil {
		return err
	}
	s.noteTransition(ctx, to, p.Currency)
	p.State, p.UpdatedAt = to, now
	return nil
}

// GetPayment returns one of clientID's payments.
func (s *Service) GetPayment(ctx context.Context, clientID, id string) (Payment, error) {
	if id == "" {
		return Payment{}, &FieldError{Field: "id", Reason: "required", Code: "id.required"}
	}
	return s.getPayment(ctx, s.DB, clientID, id)
}

// ListFilter selects payments.
type ListFilter struct {
	Reference     string
	State         string
	CreatedAfter  time.Time
	CreatedBefore time.Time
	PageSize      int
	PageToken     string
}

// DefaultPageSize and MaxPageSize bound ListPayments pages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// ListPayments lists clientID's payments, newest first, one page at a time.
func (s *Service) ListPayments(ctx context.Context, clientID string, f ListFilter) ([]Payment, string, error) {
	var fes []FieldError
	if f.State != "" && !State(f.State).Valid() {
		fes = append(fes, FieldError{Field: "state", Reason: fmt.Sprintf("%q is not a payment state", f.State), Code: "state.unsupported"})
	}
	pg, fes := readPage(fes, f.PageSize, f.PageToken)
	if err := fieldErrors(fes); err != nil {
		return nil, "", err
	}
	afterT, afterID, size := pg.afterT, pg.afterID, pg.size
	out, err := listPayments(ctx, s.DB, clientID, f, afterT, afterID, size)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, size, func(p Payment) string { return store.KeysetToken(p.CreatedAt, p.ID) })
	page := make([]*Payment, len(out))
	for i := range out {
		page[i] = &out[i]
	}
	if err := s.loadDetails(ctx, s.DB, page...); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// page is where a list page starts (after the row of afterT, afterID;
// zero for the first page) and how many rows it holds.
type page struct {
	afterT  time.Time
	afterID string
	size    int
}

// readPage checks a list request's page_size and page_token.
func readPage(fes []FieldError, size int, token string) (page, []FieldError) {
	var pg page
	if size < 0 || size > MaxPageSize {
		fes = append(fes, FieldError{Field: "page_size", Reason: fmt.Sprintf("must be 0..%d", MaxPageSize), Code: "page_size.range", Args: rpcerr.ArgList(strconv.Itoa(MaxPageSize))})
	}
	if token != "" {
		var ok bool
		if pg.afterT, pg.afterID, ok = store.ParseKeysetToken(token); !ok {
			fes = append(fes, FieldError{Field: "page_token", Reason: "not a token this API gave", Code: "page_token.unknown"})
		}
	}
	pg.size = size
	if pg.size == 0 {
		pg.size = DefaultPageSize
	}
	return pg, fes
}

// CancelPayment cancels one of clientID's payments that is not yet paid:
// the charge is voided at the acquirer first, so that it cannot be paid
// after all.
func (s *Service) CancelPayment(ctx context.Context, clientID, id string) (Payment, error) {
	p, err := s.GetPayment(ctx, clientID, id)
	if err != nil {
		return Payment{}, err
	}
	if err := Move(p.State, Cancelled); err != nil {
		return Payment{}, fmt.Errorf("payment %s: %w", id, err)
	}
	if err := s.voidCharge(ctx, p); err != nil {
		return Payment{}, err
	}
	now := s.clock()
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		p, err := s.lockPayment(ctx, tx, clientID, id)
		if err != nil {
			return err
		}
		return s.move(ctx, tx, &p, Cancelled, "cancelled by client "+clientID, now)
	})
	if err != nil {
		return Payment{}, err
	}
	return s.getPayment(ctx, s.DB, clientID, id)
}

// ErrPaidMeanwhile: the acquirer took the money before the cancel or the
// expiry reached it; the payment will become succeeded.
var ErrPaidMeanwhile = fmt.Errorf("the payment was paid at the acquirer before it could be cancelled: %w", rpcerr.ErrFailedPrecondition)

// voidCharge voids the payment's charge at the acquirer.
func (s *Service) voidCharge(ctx context.Context, p Payment) error {
	if p.ProviderRef == "" {
		return nil
	}
	prov, ok := s.providers[p.Provider]
	if !ok {
		return fmt.Errorf("payment %s: provider %q is not configured", p.ID, p.Provider)
	}
	err := prov.Cancel(ctx, p.ProviderRef)
	if errors.Is(err, provider.ErrAlreadyPaid) {
		// Converge now instead of waiting for the webhook.
		if _, serr := s.syncPayment(ctx, p.ID); serr != nil {
			s.Logger.WarnContext(ctx, "payment: sync after late payment", "payment_id", p.ID, "err", serr)
		}
		return fmt.Errorf("payment %s: %w", p.ID, ErrPaidMeanwhile)
	}
	if err != nil {
		s.Logger.WarnContext(ctx, "payment: void charge failed", "payment_id", p.ID, "err", err)
		return ErrProviderUnavailable
	}
	return nil
}

var (
	// receiptEmailRE is deliberately simple: one @, no spaces, a dot in
	// the domain; the mail server is the real judge.
	receiptEmailRE = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$`)
)

// check returns the receipt's problems as field errors.
func (r Receipt) check() []FieldError {
	var fes []FieldError
	if r.PhoneNumber != "" && !phone.IsE164(r.PhoneNumber) {
		fes = append(fes, FieldError{Field: "receipt.phone_number", Reason: "must be in international format, e.g. +970599123456", Code: "receipt.phone_number.international_format"})
	}
	if r.EmailAddress != "" {
		if fe := textcheck.Check("receipt.email_address", r.EmailAddress, textcheck.Address); fe != nil {
			fes = append(fes, *fe)
		} else if len(r.EmailAddress) > 254 || !receiptEmailRE.MatchString(r.EmailAddress) {
			fes = append(fes, FieldError{Field: "receipt.email_address", Reason: "must be an e-mail address", Code: "receipt.email_address.invalid"})
		}
	}
	if r.Language != "" && r.Language != "ar" && r.Language != "en" {
		fes = append(fes, FieldError{Field: "receipt.language", Reason: `must be "ar" or "en"`, Code: "receipt.language.unsupported"})
	}
	return fes
}

// language is the receipt's language, Arabic unless English was asked.
func (r Receipt) language() string {
	if r.Language == "en" {
		return "en"
	}
	return "ar"
}
