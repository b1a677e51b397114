package payment

import (
	"context"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// Electronic revenue stamps (طوابع إيرادات إلكترونية, issue 18.2).
//
// A client buys quantity stamps of one value and fee type for an issuing
// department through an ordinary payment (CreateStamps): the stamps are
// reserved with the payment (status unpaid) and issued in the transaction
// that moves the payment to succeeded (onEnter), with their validity
// starting then. A ministry accepting a stamp uses it exactly once
// (CancelStamp), bound to the document it pays for; a second use is
// refused naming who used it and when. Anyone verifies a stamp by its
// serial (GetStamp).
//
// The ledger rule:
//   - the payment's capture credits the department's account as every
//     payment does; in the same transaction the stamp sale moves that
//     amount to the department's stamps liability account
//     ("stamps:dept:<name>"), because the money is owed until a stamp is
//     used (kind stamp_sale, ref: the payment);
//   - using a stamp moves its value from the liability to the department's
//     revenue (kind stamp_use, ref: the serial);
//   - a stamp unused at its expiry is forfeited: the sweep moves its value
//     from the liability to the platform's general revenue account for
//     unused stamps, "revenue:unused-stamps" (kind stamp_expiry, ref: the
//     serial). A stamp is never refunded once expired;
//   - a stamp order is not refunded as a payment (CreateRefund refuses
//     it); when the payer wins a chargeback (the dispute is lost), its
//     valid stamps are revoked and each moves its value from the liability
//     back to the department's account, which offsets the lost dispute's
//     debit to the department's disputes account (kind stamp_revoke, ref:
//     the serial).

// Ledger accounts and kinds of stamps.
const (
	// stampsPrefix + department account: what the department owes for
	// sold, unused stamps (a liability).
	stampsPrefix = "stamps:"
	// UnusedStampsAccount receives the value of stamps that expired unused.
	UnusedStampsAccount = "revenue:unused-stamps"

	KindStampSale   = "stamp_sale"   // ref: payment id
	KindStampUse    = "stamp_use"    // ref: stamp serial
	KindStampExpiry = "stamp_expiry" // ref: stamp serial
	KindStampRevoke = "stamp_revoke" // ref: stamp serial
)

// StampsAccount is the department's liability account for sold stamps.
func StampsAccount(dept string) string { return stampsPrefix + dept }

// DefaultStampValidity is how long a stamp is valid from its issue when
// the configuration names no validity.
const DefaultStampValidity = 365 * 24 * time.Hour

// MaxStampQuantity bounds the stamps of one order.
const MaxStampQuantity = 100

// StampStatus is where a stamp stands.
type StampStatus string

// The stamp statuses.
const (
	StampUnpaid  StampStatus = "unpaid"
	StampValid   StampStatus = "valid"
	StampUsed    StampStatus = "used"
	StampExpired StampStatus = "expired"
	StampRevoked StampStatus = "revoked"
)

// Stamp is an electronic revenue stamp.
type Stamp struct {
	Serial     string
	PaymentID  string
	FeeType    string
	Value      int64
	Currency   Currency
	Department string
	// Buyer is the client that bought it (from its token).
	Buyer string
	// Ministry is the buyer's ministry; the stamp's postings belong to it.
	Ministry    string
	Validity    time.Duration
	IssuedAt    time.Time
	ExpireAt    time.Time
	UsedBy      string
	DocumentRef string
	UsedAt      time.Time
	ExpiredAt   time.Time
	RevokedAt   time.Time
	SignedStamp string
	// CreatedAt is when it was ordered.
	CreatedAt time.Time
}

// StatusAt is the stamp's status at now: a stamp past its expiry is
// expired even before the sweep has recorded it.
func (st Stamp) StatusAt(now time.Time) StampStatus {
	switch {
	case st.IssuedAt.IsZero():
		return StampUnpaid
	case !st.RevokedAt.IsZero():
		return StampRevoked
	case !st.UsedAt.IsZero():
		return StampUsed
	case !st.ExpiredAt.IsZero() || !now.Before(st.ExpireAt):
		return StampExpired
	}
	return StampValid
}

// StampOrder is a purchase: its payment and its stamps.
type StampOrder struct {
	Payment Payment
	Stamps  []Stamp
}

// StampInput is a request to buy stamps.
type StampInput struct {
	FeeType    string
	Value      int64
	Currency   string
	Department string
	Quantity   int
	ReturnURL  string
	// IdempotencyKey makes retries safe, as for payments.
	IdempotencyKey string
	// Ministry is the buyer's ministry, from its token.
	Ministry string
	// Citizen says the buyer is a citizen (clientID is its subject): it
	// names only a registered fee type, whose registration gives the
	// value, currency, department and ministry.
	Citizen bool
}

// Errors of the stamps API.
var (
	// ErrStampNotFound: no issued stamp has this serial.
	ErrStampNotFound = fmt.Errorf("stamp: %w", rpcerr.ErrNotFound)
	// ErrStampNotUsable: the stamp is expired or revoked.
	ErrStampNotUsable = fmt.Errorf("stamp cannot be used: %w", rpcerr.ErrFailedPrecondition)
)

// StampUsedError is a second use of a stamp: it names who used it and when
// (the answer a clerk needs), not the document, which is the user's.
type StampUsedError struct {
	Serial string
	UsedBy string
	UsedAt time.Time
}

func (e *StampUsedError) Error() string {
	return fmt.Sprintf("stamp %s was already used by %s at %s", e.Serial, e.UsedBy, e.UsedAt.UTC().Format(time.RFC3339))
}

// Unwrap makes the error a conflict (HTTP 409).
func (e *StampUsedError) Unwrap() error { return rpcerr.ErrAlreadyExists }

var feeTypeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// stampAlphabet is Crockford's base32 (no I, L, O, U): serials are read
// aloud and typed from paper.
var stampAlphabet = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// newSerial is "PS-" and 100 random bits in four groups of five Crockford
// base32 characters, e.g. PS-7K2QD-M9X4T-0B8ZN-W3RJF: unguessable and
// printable.
func newSerial(rand io.Reader) (string, error) {
	b := make([]byte, 13)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("stamp serial: %w", err)
	}
	s := stampAlphabet.EncodeToString(b)[:20]
	return "PS-" + s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20], nil
}

var serialRE = regexp.MustCompile(`^PS-[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}$`)

// normalSerial reads a serial as typed from paper: any case, and the
// letters Crockford's base32 leaves out read as the digits they look like
// (O as 0, I and L as 1); then it checks the form.
func normalSerial(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if rest, ok := strings.CutPrefix(s, "PS-"); ok {
		s = "PS-" + strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(rest)
	}
	if !serialRE.MatchString(s) {
		return "", &FieldError{Field: "serial", Reason: "must look like PS-XXXXX-XXXXX-XXXXX-XXXXX", Code: "serial.format"}
	}
	return s, nil
}

func (s *Service) stampValidity() time.Duration {
	if s.cfg.StampValidity > 0 {
		return s.cfg.StampValidity
	}
	return DefaultStampValidity
}

// CreateStamps buys in.Quantity stamps for clientID: a payment of their
// total to the department, with the stamps reserved in the transaction
// that creates it. They are issued when the payment succeeds.
func (s *Service) CreateStamps(ctx context.Context, clientID string, in StampInput) (StampOrder, error) {
	in, fes, err := s.applyFeeType(ctx, in)
	if err != nil {
		return StampOrder{}, err
	}
	if in.Citizen && len(fes) > 0 {
		// Nothing else a citizen sends is worth checking before the fee
		// type is right.
		return StampOrder{}, fieldErrors(fes)
	}
	if !ValidAccount(in.Department) {
		fes = append(fes, FieldError{Field: "department", Reason: `must look like "dept:courts" (lower-case letters, digits, hyphens)`, Code: "department.format"})
	}
	qty := in.Quantity
	if qty == 0 {
		qty = 1
	}
	if qty < 1 || qty > MaxStampQuantity {
		fes = append(fes, FieldError{Field: "quantity", Reason: fmt.Sprintf("must be 1..%d", MaxStampQuantity), Code: "quantity.range", Args: rpcerr.ArgList(strconv.Itoa(MaxStampQuantity))})
	}
	if in.Value <= 0 || in.Value > MaxAmount {
		fes = append(fes, FieldError{Field: "value", Reason: fmt.Sprintf("must be 1..%d minor units", MaxAmount), Code: "value.range", Args: rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))})
	} else if qty >= 1 && qty <= MaxStampQuantity && in.Value*int64(qty) > MaxAmount {
		fes = append(fes, FieldError{Field: "quantity", Reason: fmt.Sprintf("the order's total must be at most %d minor units", MaxAmount), Code: "quantity.total_range", Args: rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))})
	}
	if fe := textcheck.Check("fee_type", in.FeeType, textcheck.Address); fe != nil && len(fes) == 0 {
		fes = append(fes, *fe)
	}
	if err := fieldErrors(fes); err != nil {
		return StampOrder{}, err
	}
	total := in.Value * int64(qty)
	pin := CreateInput{
		Amount: total, Currency: in.Currency, Reference: "stamps/" + in.FeeType,
		Description: fmt.Sprintf("Revenue stamps: %d × %s", qty, in.FeeType), ReturnURL: in.ReturnURL,
		Splits: []Split{{Account: in.Department, Amount: total}}, IdempotencyKey: in.IdempotencyKey, Ministry: in.Ministry,
	}
	if in.Citizen {
		pin.CitizenID = clientID
	}
	validity, ordered := s.stampValidity(), s.clock()
	pin.onCreate = func(ctx context.Context, tx *sql.Tx, paymentID string, cur Currency) error {
		for i := 0; i < qty; i++ {
			serial, err := newSerial(s.Rand)
			if err != nil {
				return err
			}
			if err := insertStamp(ctx, tx, Stamp{Serial: serial, PaymentID: paymentID, FeeType: in.FeeType, Value: in.Value,
				Currency: cur, Department: in.Department, Buyer: clientID, Ministry: in.Ministry, Validity: validity,
				CreatedAt: ordered}, i); err != nil {
				return err
			}
		}
		return nil
	}
	p, err := s.CreatePayment(ctx, clientID, pin)
	if err != nil {
		return StampOrder{}, err
	}
	stamps, err := stampsOfPayment(ctx, s.DB, p.ID)
	if err != nil {
		return StampOrder{}, err
	}
	return StampOrder{Payment: p, Stamps: stamps}, nil
}

// issueStamps issues the stamps of payment p, which has just succeeded,
// inside its transaction: their validity starts now, the sale moves the
// department's credit to its stamps liability, and an event announces each
// stamp (for sealing). A payment that is no stamp order issues nothing.
func (s *Service) issueStamps(ctx context.Context, tx *sql.Tx, p *Payment, now time.Time) (bool, error) {
	stamps, err := stampsOfPayment(ctx, tx, p.ID)
	if err != nil || len(stamps) == 0 {
		return false, err
	}
	var total int64
	for i := range stamps {
		st := &stamps[i]
		if !st.IssuedAt.IsZero() {
			return false, nil // issued already
		}
		st.IssuedAt, st.ExpireAt = now, now.Add(st.Validity)
		if err := setStampIssued(ctx, tx, st.Serial, st.IssuedAt, st.ExpireAt); err != nil {
			return false, err
		}
		total += st.Value
	}
	dept := stamps[0].Department
	sale := Posting{Kind: KindStampSale, Ref: p.ID, PaymentID: p.ID, Currency: p.Currency, Entries: []Entry{
		{Account: dept, Currency: p.Currency, Debit: total},
		{Account: StampsAccount(dept), Currency: p.Currency, Credit: total},
	}}
	if _, err := s.post(ctx, tx, sale.Of(p.Ministry), now); err != nil {
		return false, err
	}
	for _, st := range stamps {
		if err := s.emitStampIssued(ctx, tx, st, now); err != nil {
			return false, err
		}
	}
	return true, nil
}

// GetStamp returns the issued stamp with serial, for anyone to verify.
func (s *Service) GetStamp(ctx context.Context, serial string) (Stamp, error) {
	serial, err := normalSerial(serial)
	if err != nil {
		return Stamp{}, err
	}
	st, err := s.getStamp(ctx, s.DB, serial, false)
	if err != nil {
		return Stamp{}, err
	}
	if st.IssuedAt.IsZero() {
		return Stamp{}, fmt.Errorf("%w: %s", ErrStampNotFound, serial)
	}
	return st, nil
}

// CancelStamp uses (cancels) the stamp with serial for documentRef on
// behalf of clientID, exactly once: of any number of concurrent uses one
// wins and the others get a *StampUsedError naming it. The stamp's value
// moves from the department's stamps liability to its revenue.
func (s *Service) CancelStamp(ctx context.Context, clientID, serial, documentRef string) (Stamp, error) {
	serial, err := normalSerial(serial)
	var fes []FieldError
	if err != nil {
		fes = append(fes, FieldError{Field: "serial", Reason: "must look like PS-XXXXX-XXXXX-XXXXX-XXXXX", Code: "serial.format"})
	}
	switch {
	case strings.TrimSpace(documentRef) == "":
		fes = append(fes, FieldError{Field: "document_ref", Reason: "required", Code: "document_ref.required"})
	case len(documentRef) > 128:
		fes = append(fes, FieldError{Field: "document_ref", Reason: "at most 128 bytes", Code: "document_ref.too_many_bytes", Args: rpcerr.ArgList("128")})
	default:
		if fe := textcheck.Check("document_ref", documentRef, textcheck.Address); fe != nil {
			fes = append(fes, *fe)
		}
	}
	if err := fieldErrors(fes); err != nil {
		return Stamp{}, err
	}
	now := s.clock()
	var out Stamp
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		st, err := s.getStamp(ctx, tx, serial, true)
		if err != nil {
			return err
		}
		switch st.StatusAt(now) {
		case StampUnpaid:
			return fmt.Errorf("%w: %s", ErrStampNotFound, serial)
		case StampUsed:
			return &StampUsedError{Serial: serial, UsedBy: st.UsedBy, UsedAt: st.UsedAt}
		case StampExpired, StampRevoked:
			return fmt.Errorf("%w: %s is %s", ErrStampNotUsable, serial, st.StatusAt(now))
		}
		won, err := useStamp(ctx, tx, serial, clientID, documentRef, now)
		if err != nil {
			return err
		}
		if !won { // another use committed between the read and the update
			st, err := s.getStamp(ctx, tx, serial, false)
			if err != nil {
				return err
			}
			return &StampUsedError{Serial: serial, UsedBy: st.UsedBy, UsedAt: st.UsedAt}
		}
		use := Posting{Kind: KindStampUse, Ref: serial, PaymentID: st.PaymentID, Currency: st.Currency, Entries: []Entry{
			{Account: StampsAccount(st.Department), Currency: st.Currency, Debit: st.Value},
			{Account: st.Department, Currency: st.Currency, Credit: st.Value},
		}}
		if _, err := s.post(ctx, tx, use.Of(st.Ministry), now); err != nil {
			return err
		}
		st.UsedBy, st.DocumentRef, st.UsedAt = clientID, documentRef, now
		out = st
		return nil
	})
	if err != nil {
		var used *StampUsedError
		if !errors.As(err, &used) {
			return Stamp{}, err
		}
		return Stamp{}, used
	}
	return out, nil
}

// ExpireStamps forfeits up to sweepBatch stamps unused at their expiry:
// each is marked expired and its value moves from the department's stamps
// liability to UnusedStampsAccount. It returns how many it expired.
func (s *Service) ExpireStamps(ctx context.Context) (int, error) {
	now := s.clock()
	serials, err := expiredStampSerials(ctx, s.DB, now, sweepBatch)
	if err != nil {
		return 0, err
	}
	return s.sweepEach(ctx, serials, "payment: stamp expiry", "serial", func(serial string) (bool, error) {
		var done bool
		err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			st, err := s.getStamp(ctx, tx, serial, true)
			if err != nil {
				return err
			}
			ok, err := setStampExpired(ctx, tx, serial, now)
			if err != nil || !ok {
				return err
			}
			exp := Posting{Kind: KindStampExpiry, Ref: serial, PaymentID: st.PaymentID, Currency: st.Currency, Entries: []Entry{
				{Account: StampsAccount(st.Department), Currency: st.Currency, Debit: st.Value},
				{Account: UnusedStampsAccount, Currency: st.Currency, Credit: st.Value},
			}}
			done, err = s.post(ctx, tx, exp.Of(st.Ministry), now)
			return err
		})
		return done, err
	}), nil
}

// sealedStampsConsumer is the durable consumer name on the SIGNATURE
// stream.
const sealedStampsConsumer = "payment-sealed-stamps"

// consumeSealedStamps stores the sealed stamps the signature enabler
// returns (its stamp_sealed events). The SIGNATURE stream may not exist
// yet, so the consumer is retried until it can be created.
func (s *Service) consumeSealedStamps(ctx context.Context) error {
	if s.Bus == nil {
		return nil
	}
	return events.ConsumeEvent(ctx, s.Bus, "signature", "stamp_sealed", sealedStampsConsumer, s.handleStampSealed, s.Logger)
}

// handleStampSealed stores a stamp's seal; a stamp keeps the first seal it
// got (redeliveries change nothing).
func (s *Service) handleStampSealed(ctx context.Context, ev events.Event, st *paymentv1.Stamp) error {
	if st.GetSerial() == "" || st.GetSignedStamp() == "" {
		return events.Permanent(fmt.Errorf("stamp_sealed event %s lacks a serial or a seal", ev.ID))
	}
	return setStampSeal(ctx, s.DB, st.GetSerial(), st.GetSignedStamp())
}

// ErrStampOrderRefund: a stamp order is not refunded as a payment; its
// stamps would stay valid (revoking unused stamps for a refund is not
// offered yet).
var ErrStampOrderRefund = fmt.Errorf("a revenue stamp order cannot be refunded: %w", rpcerr.ErrFailedPrecondition)

// refusesRefund refuses a refund of payment id when it is a stamp order.
func refusesRefund(ctx context.Context, tx *sql.Tx, paymentID string) error {
	stamps, err := stampsOfPayment(ctx, tx, paymentID)
	if err != nil {
		return err
	}
	if len(stamps) > 0 {
		return fmt.Errorf("payment %s: %w", paymentID, ErrStampOrderRefund)
	}
	return nil
}

// revokeStamps revokes the stamps of payment p, whose dispute was lost,
// that are neither used nor expired: the money went back to the payer, so
// the stamps are worth nothing. Each revocation moves the stamp's value
// from the stamps liability back to the department's account, where it
// offsets the lost dispute's debit to the department's disputes account
// (kind stamp_revoke, ref: the serial).
func (s *Service) revokeStamps(ctx context.Context, tx *sql.Tx, p *Payment, now time.Time) error {
	stamps, err := stampsOfPayment(ctx, tx, p.ID)
	if err != nil {
		return err
	}
	for _, st := range stamps {
		if st.StatusAt(now) != StampValid {
			continue
		}
		ok, err := setStampRevoked(ctx, tx, st.Serial, now)
		if err != nil || !ok {
			return err
		}
		rev := Posting{Kind: KindStampRevoke, Ref: st.Serial, PaymentID: p.ID, Currency: st.Currency, Entries: []Entry{
			{Account: StampsAccount(st.Department), Currency: st.Currency, Debit: st.Value},
			{Account: st.Department, Currency: st.Currency, Credit: st.Value},
		}}
		if _, err := s.post(ctx, tx, rev.Of(st.Ministry), now); err != nil {
			return err
		}
	}
	return nil
}
