package payment

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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
	text := func(field, v string, max int, k textcheck.Kind) {
		switch {
		case strings.TrimSpace(v) == "":
			fes = append(fes, FieldError{Field: field, Reason: "required"})
		case len(v) > max:
			fes = append(fes, FieldError{Field: field, Reason: fmt.Sprintf("at most %d bytes", max)})
		default:
			if fe := textcheck.Check(field, v, k); fe != nil {
				fes = append(fes, *fe)
			}
		}
	}
	text("reference", in.Reference, 128, textcheck.Address)
	text("description", in.Description, 500, textcheck.OneLine)
	if _, reason := provider.ParseReturnURL(in.ReturnURL); reason != "" {
		fes = append(fes, FieldError{Field: "return_url", Reason: reason})
	}
	if in.CitizenID != "" && !citizenRE.MatchString(in.CitizenID) {
		fes = append(fes, FieldError{Field: "citizen_id", Reason: "at most 64 letters, digits, '-' or '_'"})
	}
	fes = append(fes, in.Receipt.check()...)
	if k := in.IdempotencyKey; len(k) > 255 || strings.IndexFunc(k, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
		fes = append(fes, FieldError{Field: "idempotency_key", Reason: "at most 255 visible ASCII characters"})
	}
	name := in.Provider
	if name == "" {
		name = s.cfg.DefaultProvider
	}
	prov, ok := s.providers[name]
	if !ok {
		fes = append(fes, FieldError{Field: "provider", Reason: fmt.Sprintf("no payment provider %q is configured", name)})
	}
	return cur, prov, fieldErrors(fes)
}

// requestHash is the fingerprint an Idempotency-Key is bound to.
func requestHash(v any) string {
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Idempotency scopes.
const (
	scopeCreatePayment = "create_payment"
	scopeCreateRefund  = "create_refund"
)

// claimKey records (client, scope, key) for a request with hash and the id
// it will create. It returns the id of an earlier identical request when
// there is one (existing true), or ErrIdempotencyMismatch. Keys older than
// ttl are forgotten and taken over.
func (s *Service) claimKey(ctx context.Context, tx *sql.Tx, clientID, scope, key, hash, id string, now time.Time) (string, bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (client_id, scope, idem_key, request_hash, resource_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id, scope, idem_key) DO NOTHING`, clientID, scope, key, hash, id, now)
	if err != nil {
		return "", false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return id, false, nil
	}
	var oldHash, oldID string
	var at time.Time
	if err := tx.QueryRowContext(ctx, `SELECT request_hash, resource_id, created_at FROM idempotency_keys
		WHERE client_id = $1 AND scope = $2 AND idem_key = $3`, clientID, scope, key).Scan(&oldHash, &oldID, store.ScanTime(&at)); err != nil {
		return "", false, fmt.Errorf("read idempotency key: %w", err)
	}
	if now.Sub(at) > s.cfg.IdempotencyTTL {
		if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET request_hash = $1, resource_id = $2, created_at = $3
			WHERE client_id = $4 AND scope = $5 AND idem_key = $6`, hash, id, now, clientID, scope, key); err != nil {
			return "", false, fmt.Errorf("renew idempotency key: %w", err)
		}
		return id, false, nil
	}
	if oldHash != hash {
		return "", false, ErrIdempotencyMismatch
	}
	return oldID, true, nil
}

// CreatePayment creates a payment for clientID and registers its charge
// with the acquirer. With an Idempotency-Key, repeating the same request
// returns the same payment (however many arrive at once), and a different
// request with the key fails with ErrIdempotencyMismatch.
func (s *Service) CreatePayment(ctx context.Context, clientID string, in CreateInput) (Payment, error) {
	cur, prov, err := s.validateCreate(in)
	if err != nil {
		return Payment{}, err
	}
	id, err := store.NewIDFrom(s.rand, "pay_")
	if err != nil {
		return Payment{}, err
	}
	now := s.clock()
	fingerprint := in
	fingerprint.IdempotencyKey = ""
	fingerprint.Provider = prov.Name()
	hash := requestHash(fingerprint)
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if in.IdempotencyKey != "" {
			got, existing, err := s.claimKey(ctx, tx, clientID, scopeCreatePayment, in.IdempotencyKey, hash, id, now)
			if err != nil {
				return err
			}
			if existing {
				id = got
				return nil
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, client_id, amount, currency, reference, description,
			return_url, citizen_id, provider, state, created_at, updated_at, expire_at,
			receipt_phone, receipt_email, receipt_language, ministry)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16)`,
			id, clientID, in.Amount, string(cur), in.Reference, in.Description, in.ReturnURL, in.CitizenID,
			prov.Name(), string(Created), now, now.Add(s.cfg.PaymentTTL),
			in.Receipt.PhoneNumber, in.Receipt.EmailAddress, in.Receipt.language(), in.Ministry); err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		for i, sp := range in.Splits {
			if _, err := tx.ExecContext(ctx, `INSERT INTO payment_splits (payment_id, position, account, amount) VALUES ($1, $2, $3, $4)`,
				id, i, sp.Account, sp.Amount); err != nil {
				return fmt.Errorf("insert split: %w", err)
			}
		}
		return recordTransition(ctx, tx, id, "", Created, "created by client "+clientID, now)
	})
	if err != nil {
		return Payment{}, err
	}
	p, err := s.getPayment(ctx, s.db, clientID, id)
	if err != nil {
		return Payment{}, err
	}
	if p.ProviderRef == "" && p.State == Created {
		if err := s.ensureCharge(ctx, prov, p); err != nil {
			return Payment{}, err
		}
		return s.getPayment(ctx, s.db, clientID, id)
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
		s.log.WarnContext(ctx, "payment: create charge failed", "payment_id", p.ID, "provider", prov.Name(), "err", err)
		return ErrProviderUnavailable
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE payments SET provider_ref = $1, next_url = $2 WHERE id = $3 AND provider_ref = ''`,
		ch.Ref, ch.NextURL, p.ID); err != nil {
		return fmt.Errorf("store charge of %s: %w", p.ID, err)
	}
	return nil
}

// querier is what both *sql.Tx and *store.DB offer.
type querier = store.Querier

const paymentColumns = `id, client_id, amount, currency, reference, description, return_url, citizen_id, provider,
	provider_ref, next_url, state, refunded_amount, created_at, updated_at, expire_at,
	receipt_phone, receipt_email, receipt_language, ministry`

func scanPayment(sc interface{ Scan(...any) error }) (Payment, error) {
	var p Payment
	var cur, st string
	err := sc.Scan(&p.ID, &p.ClientID, &p.Amount, &cur, &p.Reference, &p.Description, &p.ReturnURL, &p.CitizenID,
		&p.Provider, &p.ProviderRef, &p.NextURL, &st, &p.RefundedAmount,
		store.ScanTime(&p.CreatedAt), store.ScanTime(&p.UpdatedAt), store.ScanTime(&p.ExpireAt),
		&p.Receipt.PhoneNumber, &p.Receipt.EmailAddress, &p.Receipt.Language, &p.Ministry)
	p.Currency, p.State = Currency(cur), State(st)
	return p, err
}

// getPayment loads a payment with its splits and transitions; clientID ""
// loads any client's.
func (s *Service) getPayment(ctx context.Context, q querier, clientID, id string) (Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id))
	if store.IsNoRows(err) || err == nil && clientID != "" && p.ClientID != clientID {
		return Payment{}, fmt.Errorf("payment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("load payment %s: %w", id, err)
	}
	if err := s.loadDetails(ctx, q, &p); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// lockPayment loads a payment inside tx and, on PostgreSQL, locks its row
// until the transaction ends (SQLite transactions hold the write lock
// already), so that every change to one payment is serialised.
func (s *Service) lockPayment(ctx context.Context, tx *sql.Tx, clientID, id string) (Payment, error) {
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1`
	if s.db.Engine() == store.Postgres {
		q += ` FOR UPDATE`
	}
	p, err := scanPayment(tx.QueryRowContext(ctx, q, id))
	if store.IsNoRows(err) || err == nil && clientID != "" && p.ClientID != clientID {
		return Payment{}, fmt.Errorf("payment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("lock payment %s: %w", id, err)
	}
	if err := s.loadDetails(ctx, tx, &p); err != nil {
		return Payment{}, err
	}
	return p, nil
}

func (s *Service) loadDetails(ctx context.Context, q querier, p *Payment) error {
	rows, err := q.QueryContext(ctx, `SELECT account, amount FROM payment_splits WHERE payment_id = $1 ORDER BY position`, p.ID)
	if err != nil {
		return fmt.Errorf("load splits of %s: %w", p.ID, err)
	}
	p.Splits = p.Splits[:0]
	for rows.Next() {
		var sp Split
		if err := rows.Scan(&sp.Account, &sp.Amount); err != nil {
			rows.Close()
			return err
		}
		p.Splits = append(p.Splits, sp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, `SELECT seq, from_state, to_state, cause, at FROM payment_transitions WHERE payment_id = $1 ORDER BY seq`, p.ID)
	if err != nil {
		return fmt.Errorf("load transitions of %s: %w", p.ID, err)
	}
	defer rows.Close()
	p.Transitions = p.Transitions[:0]
	for rows.Next() {
		var t Transition
		var from, to string
		if err := rows.Scan(&t.Seq, &from, &to, &t.Cause, store.ScanTime(&t.At)); err != nil {
			return err
		}
		t.From, t.To = State(from), State(to)
		p.Transitions = append(p.Transitions, t)
	}
	return rows.Err()
}

// recordTransition appends a transition of payment id.
func recordTransition(ctx context.Context, tx *sql.Tx, id string, from, to State, cause string, at time.Time) error {
	if len(cause) > 500 {
		cause = cause[:500]
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO payment_transitions (payment_id, seq, from_state, to_state, cause, at)
		VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM payment_transitions WHERE payment_id = $1), $2, $3, $4, $5)`,
		id, string(from), string(to), cause, at)
	if err != nil {
		return fmt.Errorf("record transition of %s: %w", id, err)
	}
	return nil
}

// move changes a locked payment's state after checking the state machine,
// and records the transition.
func (s *Service) move(ctx context.Context, tx *sql.Tx, p *Payment, to State, cause string, now time.Time) error {
	if err := Move(p.State, to); err != nil {
		return fmt.Errorf("payment %s: %w", p.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE payments SET state = $1, updated_at = $2 WHERE id = $3`, string(to), now, p.ID); err != nil {
		return fmt.Errorf("update payment %s: %w", p.ID, err)
	}
	if err := recordTransition(ctx, tx, p.ID, p.State, to, cause, now); err != nil {
		return err
	}
	p.State, p.UpdatedAt = to, now
	return nil
}

// GetPayment returns one of clientID's payments.
func (s *Service) GetPayment(ctx context.Context, clientID, id string) (Payment, error) {
	if id == "" {
		return Payment{}, &FieldError{Field: "id", Reason: "required"}
	}
	return s.getPayment(ctx, s.db, clientID, id)
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
		fes = append(fes, FieldError{Field: "state", Reason: fmt.Sprintf("%q is not a payment state", f.State)})
	}
	if f.PageSize < 0 || f.PageSize > MaxPageSize {
		fes = append(fes, FieldError{Field: "page_size", Reason: fmt.Sprintf("must be 0..%d", MaxPageSize)})
	}
	var afterT time.Time
	var afterID string
	if f.PageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.PageToken)
		ts, id, ok := strings.Cut(string(b), "|")
		if err == nil && ok {
			afterT, err = time.Parse(time.RFC3339Nano, ts)
			afterID = id
		}
		if err != nil || !ok {
			fes = append(fes, FieldError{Field: "page_token", Reason: "not a token this API gave"})
		}
	}
	if err := fieldErrors(fes); err != nil {
		return nil, "", err
	}
	size := f.PageSize
	if size == 0 {
		size = DefaultPageSize
	}
	q := `SELECT ` + paymentColumns + ` FROM payments WHERE client_id = $1`
	args := []any{clientID}
	add := func(cond string, v any) {
		args = append(args, v)
		q += fmt.Sprintf(" AND "+cond, len(args))
	}
	if f.Reference != "" {
		add("reference = $%d", f.Reference)
	}
	if f.State != "" {
		add("state = $%d", f.State)
	}
	if !f.CreatedAfter.IsZero() {
		add("created_at >= $%d", f.CreatedAfter.UTC())
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at < $%d", f.CreatedBefore.UTC())
	}
	if afterID != "" {
		args = append(args, afterT.UTC(), afterID)
		q += fmt.Sprintf(" AND (created_at < $%d OR (created_at = $%d AND id < $%d))", len(args)-1, len(args)-1, len(args))
	}
	args = append(args, size+1)
	q += fmt.Sprintf(" ORDER BY created_at DESC, id DESC LIMIT $%d", len(args))
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list payments: %w", err)
	}
	var out []Payment
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			rows.Close()
			return nil, "", err
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.Format(time.RFC3339Nano) + "|" + last.ID))
	}
	for i := range out {
		if err := s.loadDetails(ctx, s.db, &out[i]); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
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
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		p, err := s.lockPayment(ctx, tx, clientID, id)
		if err != nil {
			return err
		}
		return s.move(ctx, tx, &p, Cancelled, "cancelled by client "+clientID, now)
	})
	if err != nil {
		return Payment{}, err
	}
	return s.getPayment(ctx, s.db, clientID, id)
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
			s.log.WarnContext(ctx, "payment: sync after late payment", "payment_id", p.ID, "err", serr)
		}
		return fmt.Errorf("payment %s: %w", p.ID, ErrPaidMeanwhile)
	}
	if err != nil {
		s.log.WarnContext(ctx, "payment: void charge failed", "payment_id", p.ID, "err", err)
		return ErrProviderUnavailable
	}
	return nil
}

var (
	// receiptPhoneRE is E.164: a plus and 8 to 15 digits, no leading zero.
	receiptPhoneRE = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	// receiptEmailRE is deliberately simple: one @, no spaces, a dot in
	// the domain; the mail server is the real judge.
	receiptEmailRE = regexp.MustCompile(`^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$`)
)

// check returns the receipt's problems as field errors.
func (r Receipt) check() []FieldError {
	var fes []FieldError
	if r.PhoneNumber != "" && !receiptPhoneRE.MatchString(r.PhoneNumber) {
		fes = append(fes, FieldError{Field: "receipt.phone_number", Reason: "must be in international format, e.g. +970599123456"})
	}
	if r.EmailAddress != "" {
		if fe := textcheck.Check("receipt.email_address", r.EmailAddress, textcheck.Address); fe != nil {
			fes = append(fes, *fe)
		} else if len(r.EmailAddress) > 254 || !receiptEmailRE.MatchString(r.EmailAddress) {
			fes = append(fes, FieldError{Field: "receipt.email_address", Reason: "must be an e-mail address"})
		}
	}
	if r.Language != "" && r.Language != "ar" && r.Language != "en" {
		fes = append(fes, FieldError{Field: "receipt.language", Reason: `must be "ar" or "en"`})
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
