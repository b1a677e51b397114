package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// Direct debit (issue 18.3).
//
// A ministry client asks a citizen for a mandate (CreateMandate): the
// creditor is the client's ministry, from its token, and its revenue
// account "dept:<ministry>"; the request names the debtor's account
// (IBAN, checked), the most one collection may take, the frequency
// (monthly or weekly: at most one live collection per period) and the
// period. The mandate is pending until a citizen signs it off with an OTP
// step-up (AuthorizeMandate, acr loa2 no older than step-up-max-age),
// which binds it to that citizen (or, when the ministry named a citizen,
// only that one may). From then on the ministry schedules collections on
// it (CreateCollection); each is announced to the citizen
// debit-announce-days before its due date (event collection_announced,
// which the notification enabler turns into an SMS), submitted to the
// bank on its due date in a pain.008 message, and settled or failed from
// the bank's camt.054 notification (events collection_settled and
// collection_failed). The citizen revokes the mandate at any time
// (RevokeMandate): collections not yet submitted are cancelled (MD01) and
// never reach the bank; those already submitted settle as the bank says.
//
// Who sees what: the ministry client that created a mandate reads it and
// schedules on it; the citizen bound to it reads and revokes it (and sees
// the IBAN in full; everyone else sees it masked). Anyone else gets
// NotFound, so ids leak nothing.
//
// The ledger rule: a settled collection debits the bank's clearing account
// ("clearing:<bank>", money the bank holds for us until it pays out) and
// credits the creditor's revenue account (kind direct_debit, ref: the
// collection). A failed or cancelled collection posts nothing.
//
// Dates are calendar days in UTC.

// KindDirectDebit is the ledger kind of a settled collection (ref: the
// collection id).
const KindDirectDebit = "direct_debit"

// MandateState is where a mandate stands.
type MandateState string

// The mandate states.
const (
	MandatePending MandateState = "pending"
	MandateActive  MandateState = "active"
	MandateRevoked MandateState = "revoked"
)

// CollectionState is where a collection stands.
type CollectionState string

// The collection states.
const (
	CollectionScheduled CollectionState = "scheduled"
	CollectionAnnounced CollectionState = "announced"
	CollectionSubmitted CollectionState = "submitted"
	CollectionSettled   CollectionState = "settled"
	CollectionFailed    CollectionState = "failed"
	CollectionCancelled CollectionState = "cancelled"
)

// The frequencies of a mandate.
const (
	FrequencyMonthly = "monthly"
	FrequencyWeekly  = "weekly"
)

// reasonNoMandate is the ISO 20022 reason of a collection whose mandate
// was revoked before it was submitted.
const reasonNoMandate = provider.ReasonNoMandate

// reasonTexts name the ISO 20022 reasons a bank gives.
var reasonTexts = map[string]string{
	provider.ReasonInsufficientFunds: "insufficient funds",
	provider.ReasonClosedAccount:     "the account is closed",
	provider.ReasonNoMandate:         "no valid mandate",
}

// Mandate is a direct-debit mandate.
type Mandate struct {
	ID    string
	State MandateState
	// ClientID is the ministry client that created it; Ministry its
	// ministry (the creditor), CreditorAccount that ministry's revenue
	// account.
	ClientID        string
	Ministry        string
	CreditorAccount string
	// CitizenID is the citizen bound to it (or, while pending, the only
	// one who may authorise it; empty: any citizen holding its id).
	CitizenID    string
	DebtorName   string
	DebtorIBAN   string
	MaxAmount    int64
	Currency     Currency
	Frequency    string
	Start, End   time.Time
	Reference    string
	Description  string
	Notify       Receipt
	CreatedAt    time.Time
	AuthorizedAt time.Time
	RevokedAt    time.Time
	Collections  []Collection
}

// Collection is one debit of a mandate's account.
type Collection struct {
	ID        string
	MandateID string
	Amount    int64
	Currency  Currency
	Due       time.Time
	// Period is the month or week of the mandate the collection falls in.
	Period       int
	State        CollectionState
	ReasonCode   string
	Reason       string
	SubmissionID string
	CreatedAt    time.Time
	AnnouncedAt  time.Time
	SubmittedAt  time.Time
	SettledAt    time.Time
}

// MandateInput is a ministry's request for a mandate.
type MandateInput struct {
	DebtorName  string
	DebtorIBAN  string
	MaxAmount   int64
	Currency    string
	Frequency   string
	StartDate   string
	EndDate     string
	Reference   string
	Description string
	CitizenID   string
	Notify      Receipt
	// IdempotencyKey makes retries safe: the same key and the same request
	// within IdempotencyTTL give the same mandate.
	IdempotencyKey string
}

// Party is who calls a mandate use case: a ministry client (ClientID,
// Ministry from its token) or a citizen (CitizenID, the token's sub).
type Party struct {
	ClientID  string
	Ministry  string
	CitizenID string
}

// Errors of direct debit.
var (
	// ErrMandateNotFound: no such mandate for this caller.
	ErrMandateNotFound = fmt.Errorf("mandate: %w", rpcerr.ErrNotFound)
	// ErrMandateNotActive: the mandate is pending or revoked, so nothing
	// may be collected on it (or a revoked one authorised).
	ErrMandateNotActive = errors.New("the mandate is not active")
	// ErrNoMinistry: the client is registered without a ministry, which
	// would be the creditor.
	ErrNoMinistry = fmt.Errorf("the client is registered with no ministry to collect for: %w", rpcerr.ErrPermissionDenied)
)

// ReasonMandateNotActive is the ErrorInfo reason of ErrMandateNotActive
// (problem code mandate-not-active, HTTP 409).
const ReasonMandateNotActive = "MANDATE_NOT_ACTIVE"

// mandateRules are direct debit's sentinels for toStatus.
var mandateRules = []rpcerr.Rule{
	{Err: ErrMandateNotActive, Code: codes.FailedPrecondition, Reason: ReasonMandateNotActive},
}

// DefaultAnnounceDays is how many days before its due date a collection
// is announced when the configuration says nothing.
const DefaultAnnounceDays = 3

func (s *Service) announceDays() int {
	if s.cfg.DebitAnnounceDays > 0 {
		return s.cfg.DebitAnnounceDays
	}
	return DefaultAnnounceDays
}

// day is t's calendar day (UTC) at midnight.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// parseDay reads a YYYY-MM-DD field.
func parseDay(fes []FieldError, field, v string) (time.Time, []FieldError) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return t, append(fes, FieldError{Field: field, Reason: "must be a date YYYY-MM-DD", Code: rpcerr.FieldCode(field, "format")})
	}
	return t, fes
}

// period is the index of the month or week of m that due falls in.
func (m Mandate) period(due time.Time) int {
	if m.Frequency == FrequencyWeekly {
		return int(due.Sub(m.Start).Hours() / 24 / 7)
	}
	return (due.Year()-m.Start.Year())*12 + int(due.Month()-m.Start.Month())
}

// MaxMandateYears bounds a mandate's period.
const MaxMandateYears = 10

// CreateMandate records p's request for a mandate, pending until a
// citizen authorises it. p must be a ministry client with a ministry.
// With an Idempotency-Key, repeating the same request returns the same
// mandate, and a different request with the key fails with
// ErrIdempotencyMismatch.
func (s *Service) CreateMandate(ctx context.Context, p Party, in MandateInput) (Mandate, error) {
	if p.Ministry == "" || !ValidAccount("dept:"+p.Ministry) {
		return Mandate{}, ErrNoMinistry
	}
	var fes []FieldError
	fes = checkText(fes, "debtor_name", in.DebtorName, 140, textcheck.OneLine)
	iban, err := provider.ParseIBAN(in.DebtorIBAN)
	var ie *provider.IBANError
	if errors.As(err, &ie) {
		fes = append(fes, FieldError{Field: "debtor_iban", Reason: ie.Reason, Code: "debtor_iban." + ie.Code})
	}
	cur, mfes := ValidateMoney(in.MaxAmount, in.Currency, []Split{{Account: "dept:" + p.Ministry, Amount: in.MaxAmount}})
	for _, fe := range mfes {
		switch fe.Field {
		case "amount":
			fe.Field, fe.Code = "max_amount", rpcerr.FieldCode("max_amount", "range")
		case "currency":
		default:
			continue // the split is the creditor's own account, which is valid
		}
		fes = append(fes, fe)
	}
	if in.Frequency != FrequencyMonthly && in.Frequency != FrequencyWeekly {
		fes = append(fes, FieldError{Field: "frequency", Reason: `must be "monthly" or "weekly"`, Code: "frequency.unsupported"})
	}
	start, fes := parseDay(fes, "start_date", in.StartDate)
	end, fes := parseDay(fes, "end_date", in.EndDate)
	if !start.IsZero() && !end.IsZero() {
		today := day(s.Now())
		switch {
		case start.Before(today):
			fes = append(fes, FieldError{Field: "start_date", Reason: "must not be in the past", Code: "start_date.past"})
		case end.Before(start):
			fes = append(fes, FieldError{Field: "end_date", Reason: "must not be before start_date", Code: "end_date.before_start"})
		case end.After(start.AddDate(MaxMandateYears, 0, 0)):
			fes = append(fes, FieldError{Field: "end_date", Reason: fmt.Sprintf("at most %d years after start_date", MaxMandateYears),
				Code: "end_date.too_far", Args: rpcerr.ArgList(strconv.Itoa(MaxMandateYears))})
		}
	}
	fes = checkText(fes, "reference", in.Reference, 35, textcheck.Address) // the pain.008 remittance line
	fes = checkText(fes, "description", in.Description, 500, textcheck.OneLine)
	if in.CitizenID != "" && !citizenRE.MatchString(in.CitizenID) {
		fes = append(fes, FieldError{Field: "citizen_id", Reason: "at most 64 letters, digits, '-' or '_'", Code: "citizen_id.format"})
	}
	notify := Receipt{PhoneNumber: in.Notify.PhoneNumber, Language: in.Notify.Language}
	for _, fe := range notify.check() {
		fe.Field = "notify" + fe.Field[len("receipt"):]
		fe.Code = ""
		fes = append(fes, fe)
	}
	fes = checkIdempotencyKey(fes, in.IdempotencyKey)
	if err := fieldErrors(fes); err != nil {
		return Mandate{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "mdt_")
	if err != nil {
		return Mandate{}, err
	}
	fingerprint := in
	fingerprint.IdempotencyKey = ""
	key := store.NewIdempotencyKey(p.ClientID, scopeCreateMandate, in.IdempotencyKey, fingerprint)
	m := Mandate{ID: id, State: MandatePending, ClientID: p.ClientID, Ministry: p.Ministry, CreditorAccount: "dept:" + p.Ministry,
		CitizenID: in.CitizenID, DebtorName: in.DebtorName, DebtorIBAN: iban, MaxAmount: in.MaxAmount, Currency: cur,
		Frequency: in.Frequency, Start: start, End: end, Reference: in.Reference, Description: in.Description, Notify: notify,
		CreatedAt: s.clock()}
	existing := false
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		got, earlier, err := s.claimKey(ctx, tx, key, id, m.CreatedAt)
		if err != nil || earlier {
			m.ID, existing = got, earlier
			return err
		}
		return insertMandate(ctx, tx, m)
	})
	if err != nil {
		return Mandate{}, err
	}
	if existing {
		return s.GetMandate(ctx, p, m.ID)
	}
	return m, nil
}

// mandateFor reads mandate id for p: the client that created it, or the
// citizen bound to it (or, while it is pending, one who may authorise
// it); anyone else gets ErrMandateNotFound.
func (s *Service) mandateFor(ctx context.Context, q querier, p Party, id string, lock bool) (Mandate, error) {
	m, err := s.getMandate(ctx, q, id, lock)
	if err != nil {
		return Mandate{}, err
	}
	if !m.visibleTo(p) {
		return Mandate{}, fmt.Errorf("%w: %s", ErrMandateNotFound, id)
	}
	return m, nil
}

func (m Mandate) visibleTo(p Party) bool {
	switch {
	case p.ClientID != "":
		return p.ClientID == m.ClientID
	case p.CitizenID == "":
		return false
	case m.CitizenID != "":
		return p.CitizenID == m.CitizenID
	}
	return m.State == MandatePending
}

// GetMandate returns mandate id with its collections for p.
func (s *Service) GetMandate(ctx context.Context, p Party, id string) (Mandate, error) {
	m, err := s.mandateFor(ctx, s.DB, p, id, false)
	if err != nil {
		return Mandate{}, err
	}
	m.Collections, err = collectionsOf(ctx, s.DB, m.ID)
	return m, err
}

// ListMandates returns a page of p's mandates, newest first, without
// their collections: a client's own, or those bound to a citizen (or
// pending and naming them). state filters ("" for all).
func (s *Service) ListMandates(ctx context.Context, p Party, state string, size int, token string) ([]Mandate, string, error) {
	var fes []FieldError
	switch MandateState(state) {
	case "", MandatePending, MandateActive, MandateRevoked:
	default:
		fes = append(fes, FieldError{Field: "state", Reason: `must be "pending", "active" or "revoked"`, Code: "state.unsupported"})
	}
	pg, fes := readPage(fes, size, token)
	if err := fieldErrors(fes); err != nil {
		return nil, "", err
	}
	col, owner := "client_id", p.ClientID
	if owner == "" {
		col, owner = "citizen_id", p.CitizenID
	}
	if owner == "" {
		return nil, "", nil
	}
	out, err := listMandates(ctx, s.DB, col, owner, state, pg)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, pg.size, func(m Mandate) string { return store.KeysetToken(m.CreatedAt, m.ID) })
	return out, next, nil
}

// AuthorizeMandate signs pending mandate id off for citizen p (the caller
// has checked the step-up) and binds it to p. Authorising one's own active
// mandate again changes nothing.
func (s *Service) AuthorizeMandate(ctx context.Context, p Party, id string) (Mandate, error) {
	return s.citizenChange(ctx, p, id, func(ctx context.Context, tx *sql.Tx, m Mandate, now time.Time) error {
		switch m.State {
		case MandateActive:
			return nil
		case MandateRevoked:
			return fmt.Errorf("%w: mandate %s was revoked", ErrMandateNotActive, id)
		}
		if ok, err := setMandateAuthorized(ctx, tx, id, p.CitizenID, now); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("%w: mandate %s changed meanwhile", rpcerr.ErrConflict, id)
			}
			return err
		}
		return nil
	})
}

// RevokeMandate ends mandate id for its citizen p: collections not yet
// submitted are cancelled. Revoking a revoked mandate changes nothing.
func (s *Service) RevokeMandate(ctx context.Context, p Party, id string) (Mandate, error) {
	return s.citizenChange(ctx, p, id, func(ctx context.Context, tx *sql.Tx, m Mandate, now time.Time) error {
		if m.CitizenID != p.CitizenID { // a pending mandate open to any citizen is not theirs to revoke
			return fmt.Errorf("%w: %s", ErrMandateNotFound, id)
		}
		if m.State == MandateRevoked {
			return nil
		}
		_, err := setMandateRevoked(ctx, tx, id, now)
		return err
	})
}

// citizenChange runs change on mandate id, read and locked for citizen p
// in one transaction, and returns the mandate as it is afterwards; a
// caller who is not a citizen finds no mandate.
func (s *Service) citizenChange(ctx context.Context, p Party, id string,
	change func(ctx context.Context, tx *sql.Tx, m Mandate, now time.Time) error) (Mandate, error) {
	if p.CitizenID == "" {
		return Mandate{}, fmt.Errorf("%w: %s", ErrMandateNotFound, id)
	}
	now := s.clock()
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		m, err := s.mandateFor(ctx, tx, p, id, true)
		if err != nil {
			return err
		}
		return change(ctx, tx, m, now)
	})
	if err != nil {
		return Mandate{}, err
	}
	return s.GetMandate(ctx, p, id)
}

// CreateCollection schedules a collection of amount on mandate id, due on
// dueDate (YYYY-MM-DD), for the client p that created the mandate.
func (s *Service) CreateCollection(ctx context.Context, p Party, id string, amount int64, dueDate string) (Collection, error) {
	if p.ClientID == "" {
		return Collection{}, fmt.Errorf("%w: %s", ErrMandateNotFound, id)
	}
	due, fes := parseDay(nil, "due_date", dueDate)
	if amount <= 0 {
		fes = append(fes, FieldError{Field: "amount", Reason: "must be a positive number of minor units",
			Code: "amount.range", Args: rpcerr.ArgList(strconv.FormatInt(MaxAmount, 10))})
	}
	if err := fieldErrors(fes); err != nil {
		return Collection{}, err
	}
	now := s.clock()
	var out Collection
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		m, err := s.mandateFor(ctx, tx, p, id, true)
		if err != nil {
			return err
		}
		if m.State != MandateActive {
			return fmt.Errorf("%w: mandate %s is %s", ErrMandateNotActive, id, m.State)
		}
		if err := s.checkCollection(m, amount, due, now); err != nil {
			return err
		}
		period := m.period(due)
		taken, err := livePeriodTaken(ctx, tx, m.ID, period)
		if err != nil {
			return err
		}
		if taken {
			return &FieldError{Field: "due_date", Reason: "the mandate already has a collection in this " + periodName(m.Frequency),
				Code: "due_date.period_taken"}
		}
		cid, err := store.NewIDFrom(s.Rand, "col_")
		if err != nil {
			return err
		}
		out = Collection{ID: cid, MandateID: m.ID, Amount: amount, Currency: m.Currency, Due: due, Period: period,
			State: CollectionScheduled, CreatedAt: now}
		return insertCollection(ctx, tx, out)
	})
	return out, err
}

func periodName(freq string) string {
	if freq == FrequencyWeekly {
		return "week"
	}
	return "month"
}

// checkCollection applies the mandate's limits to a collection.
func (s *Service) checkCollection(m Mandate, amount int64, due, now time.Time) error {
	var fes []FieldError
	if amount > m.MaxAmount {
		fes = append(fes, FieldError{Field: "amount", Reason: "exceeds the mandate's max_amount " + m.Currency.Format(m.MaxAmount),
			Code: "amount.exceeds_max", Args: rpcerr.ArgList(m.Currency.Format(m.MaxAmount))})
	}
	notice := day(now).AddDate(0, 0, s.announceDays())
	switch {
	case due.Before(m.Start) || due.After(m.End):
		fes = append(fes, FieldError{Field: "due_date", Reason: "outside the mandate's period " + m.Start.Format(time.DateOnly) + " to " +
			m.End.Format(time.DateOnly), Code: "due_date.outside_mandate",
			Args: rpcerr.ArgList(m.Start.Format(time.DateOnly), m.End.Format(time.DateOnly))})
	case due.Before(notice):
		fes = append(fes, FieldError{Field: "due_date", Reason: fmt.Sprintf("must be at least %d days ahead, for the citizen's notice", s.announceDays()),
			Code: "due_date.too_soon", Args: rpcerr.ArgList(strconv.Itoa(s.announceDays()))})
	}
	return fieldErrors(fes)
}

// The background work of direct debit, called by Sweep.

// sweepDebits announces collections whose notice starts, submits those
// due to their bank, re-sends submissions the bank did not take and
// applies the results the bank has. It returns how many collections it
// announced, submitted and finished.
func (s *Service) sweepDebits(ctx context.Context) (announced, submitted, finished int, err error) {
	now := s.clock()
	horizon := day(now).AddDate(0, 0, s.announceDays()).Format(time.DateOnly)
	ids, err := collectionIDsInState(ctx, s.DB, CollectionScheduled, horizon, sweepBatch)
	if err != nil {
		return 0, 0, 0, err
	}
	announced = s.sweepEach(ctx, ids, "payment: announce collection", "collection_id", func(id string) (bool, error) {
		return s.announce(ctx, id, now)
	})
	if submitted, err = s.submitDue(ctx, now); err != nil {
		return announced, 0, 0, err
	}
	subs, err := openSubmissions(ctx, s.DB, true, sweepBatch)
	if err != nil {
		return announced, submitted, 0, err
	}
	for _, sub := range subs {
		n, err := s.applyResult(ctx, sub, now)
		if err != nil && !errors.Is(err, provider.ErrResultNotReady) {
			s.Logger.WarnContext(ctx, "payment: bank result", "submission_id", sub.ID, "err", err)
		}
		finished += n
	}
	return announced, submitted, finished, nil
}

// announce moves scheduled collection id to announced and tells the
// citizen, in one transaction; a collection of a revoked mandate was
// cancelled with it and is not found scheduled.
func (s *Service) announce(ctx context.Context, id string, now time.Time) (bool, error) {
	var done bool
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		c, m, err := s.collectionAndMandate(ctx, tx, id)
		if err != nil {
			return err
		}
		if done, err = moveCollection(ctx, tx, id, CollectionScheduled, CollectionAnnounced, "announced_at", now); err != nil || !done {
			return err
		}
		c.State = CollectionAnnounced
		return s.emitCollection(ctx, tx, EventCollectionAnnounced, m, c, now)
	})
	return done, err
}

// submitDue files the announced collections due by today in one pain.008
// message per bank run and hands it to the bank. The message is stored
// with the collections' move to submitted, so that a crash before the
// bank took it re-sends the same message (Submit is idempotent per id).
func (s *Service) submitDue(ctx context.Context, now time.Time) (int, error) {
	bank := s.bank
	if bank == nil {
		return 0, nil
	}
	ids, err := collectionIDsInState(ctx, s.DB, CollectionAnnounced, day(now).Format(time.DateOnly), sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	if len(ids) > 0 {
		err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			n = 0
			subID, err := store.NewIDFrom(s.Rand, "dd_")
			if err != nil {
				return err
			}
			var debits []provider.DirectDebit
			var moved []string
			for _, id := range ids {
				ok, err := moveCollection(ctx, tx, id, CollectionAnnounced, CollectionSubmitted, "submitted_at", now)
				if err != nil {
					return err
				}
				if !ok { // revoked meanwhile
					continue
				}
				c, m, err := s.collectionAndMandate(ctx, tx, id)
				if err != nil {
					return err
				}
				debits = append(debits, provider.DirectDebit{EndToEndID: c.ID, MandateID: m.ID, SignedOn: m.AuthorizedAt,
					Amount: c.Amount, Currency: string(c.Currency), DueDate: c.Due, Creditor: m.Ministry,
					DebtorName: m.DebtorName, DebtorIBAN: m.DebtorIBAN, Reference: m.Reference})
				moved = append(moved, id)
			}
			if len(moved) == 0 {
				return nil
			}
			msg, err := provider.WritePain008(subID, now, debits)
			if err != nil {
				return err
			}
			if err := insertSubmission(ctx, tx, bankSubmission{ID: subID, Bank: bank.Name(), Message: string(msg)}, now); err != nil {
				return err
			}
			for _, id := range moved {
				if err := setCollectionSubmission(ctx, tx, id, subID); err != nil {
					return err
				}
			}
			n = len(moved)
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	unsent, err := openSubmissions(ctx, s.DB, false, sweepBatch)
	if err != nil {
		return n, err
	}
	for _, sub := range unsent {
		if err := s.bank.Submit(ctx, sub.ID, []byte(sub.Message)); err != nil {
			s.Logger.WarnContext(ctx, "payment: bank submission", "submission_id", sub.ID, "err", err)
			continue
		}
		if err := setSubmissionSent(ctx, s.DB, sub.ID, now); err != nil {
			return n, err
		}
	}
	return n, nil
}

// applyResult applies the bank's camt.054 result of submission sub, all
// or nothing: each collection settles (posted to the ledger) or fails,
// with its event. It returns how many collections it finished.
func (s *Service) applyResult(ctx context.Context, sub bankSubmission, now time.Time) (int, error) {
	if s.bank == nil || sub.Bank != s.bank.Name() {
		return 0, nil
	}
	data, err := s.bank.Result(ctx, sub.ID)
	if err != nil {
		return 0, err
	}
	results, err := provider.ParseCamt054(data, sub.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n = 0
		if ok, err := setSubmissionDone(ctx, tx, sub.ID, now); err != nil || !ok {
			return err
		}
		for _, r := range results {
			c, err := getCollection(ctx, tx, r.EndToEndID)
			if err != nil || c.SubmissionID != sub.ID {
				return fmt.Errorf("%w: result for collection %s not in submission %s", provider.ErrMalformed, r.EndToEndID, sub.ID)
			}
			if r.Amount != c.Amount || r.Currency != string(c.Currency) {
				return fmt.Errorf("%w: result for collection %s is for another amount", provider.ErrMalformed, c.ID)
			}
			m, err := s.getMandate(ctx, tx, c.MandateID, false)
			if err != nil {
				return err
			}
			to, event, reason := CollectionSettled, EventCollectionSettled, ""
			if !r.Settled {
				to, event, reason = CollectionFailed, EventCollectionFailed, reasonTexts[r.ReasonCode]
				if reason == "" {
					reason = "refused by the bank"
				}
			}
			ok, err := finishCollection(ctx, tx, c.ID, to, r.ReasonCode, reason, now)
			if err != nil || !ok {
				return err
			}
			c.State, c.ReasonCode, c.Reason = to, r.ReasonCode, reason
			if r.Settled {
				pst := Posting{Kind: KindDirectDebit, Ref: c.ID, Currency: c.Currency, Entries: []Entry{
					{Account: ClearingAccount(sub.Bank), Currency: c.Currency, Debit: c.Amount},
					{Account: m.CreditorAccount, Currency: c.Currency, Credit: c.Amount},
				}}
				if _, err := s.post(ctx, tx, pst.Of(m.Ministry), now); err != nil {
					return err
				}
			}
			if err := s.emitCollection(ctx, tx, event, m, c, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
