package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// The SQL of payments: idempotency keys, the payment rows with their
// splits and recorded transitions, and the listing. The use cases in
// payments.go call these inside their transactions.

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
	return s.readPayment(ctx, q, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, "load", clientID, id)
}

// lockPayment loads a payment inside tx and, on PostgreSQL, locks its row
// until the transaction ends (SQLite transactions hold the write lock
// already), so that every change to one payment is serialised.
func (s *Service) lockPayment(ctx context.Context, tx *sql.Tx, clientID, id string) (Payment, error) {
	q := s.forUpdate(`SELECT `+paymentColumns+` FROM payments WHERE id = $1`, true)
	return s.readPayment(ctx, tx, q, "lock", clientID, id)
}

// forUpdate is query (one table's SELECT) with, when lock is set, the
// rows it reads locked on PostgreSQL until the transaction ends (SQLite's
// transaction holds the write lock already).
func (s *Service) forUpdate(query string, lock bool) string {
	if lock && s.DB.Engine() == store.Postgres {
		return query + ` FOR UPDATE`
	}
	return query
}

// getRow reads the one row query (… WHERE key = $1) returns for key with
// scan: no row is notFound, naming key; kind names the row in other
// errors.
func getRow[T any](ctx context.Context, q querier, query, key string, scan func(interface{ Scan(...any) error }) (T, error),
	notFound error, kind string) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, key))
	var zero T
	if store.IsNoRows(err) {
		return zero, fmt.Errorf("%w: %s", notFound, key)
	}
	if err != nil {
		return zero, fmt.Errorf("load %s %s: %w", kind, key, err)
	}
	return v, nil
}

// readPayment reads payment id with query (by id, locking or not) and
// then its splits and transitions: another client's payment is
// ErrNotFound, as a missing one, so that ids cannot be probed. verb names
// the read in errors.
func (s *Service) readPayment(ctx context.Context, q querier, query, verb, clientID, id string) (Payment, error) {
	p, err := scanPayment(q.QueryRowContext(ctx, query, id))
	if store.IsNoRows(err) || err == nil && clientID != "" && p.ClientID != clientID {
		return Payment{}, fmt.Errorf("payment %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("%s payment %s: %w", verb, id, err)
	}
	if err := s.loadDetails(ctx, q, &p); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// loadDetails fills in the splits and transitions of ps in one query,
// however many payments there are (a list page's as much as one payment's).
func (s *Service) loadDetails(ctx context.Context, q querier, ps ...*Payment) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]any, len(ps))
	byID := make(map[string]*Payment, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
		byID[p.ID] = p
		p.Splits, p.Transitions = p.Splits[:0], p.Transitions[:0]
	}
	in := store.Placeholders(1, len(ids), 1)
	rows, err := q.QueryContext(ctx, `SELECT payment_id, 0 AS part, position, account, amount, '' AS from_state, '' AS to_state, '' AS cause, NULL AS at
		FROM payment_splits WHERE payment_id IN `+in+`
		UNION ALL
		SELECT payment_id, 1, seq, '', 0, from_state, to_state, cause, at
		FROM payment_transitions WHERE payment_id IN `+in+`
		ORDER BY 1, 2, 3`, ids...)
	if err != nil {
		return fmt.Errorf("load splits and transitions of %s: %w", ps[0].ID, err)
	}
	_, err = store.CollectRows(rows, func(r store.Row) (struct{}, error) {
		var (
			id, from, to, cause, account string
			part, n                      int
			amount                       int64
			at                           sql.NullTime
		)
		if err := r.Scan(&id, &part, &n, &account, &amount, &from, &to, &cause, store.ScanNullTime(&at)); err != nil {
			return struct{}{}, err
		}
		p := byID[id]
		if part == 0 {
			p.Splits = append(p.Splits, Split{Account: account, Amount: amount})
		} else {
			p.Transitions = append(p.Transitions, Transition{Seq: n, From: State(from), To: State(to), Cause: cause, At: at.Time})
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("load splits and transitions of %s: %w", ps[0].ID, err)
	}
	return nil
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

// insertPayment stores a new payment of clientID at state created with
// its splits and its charge ch (zero when the acquirer registers it after
// the commit).
func insertPayment(ctx context.Context, tx *sql.Tx, id, clientID string, in CreateInput, cur Currency, provName string, ch provider.Charge, now, expireAt time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO payments (id, client_id, amount, currency, reference, description,
			return_url, citizen_id, provider, provider_ref, next_url, state, created_at, updated_at, expire_at,
			receipt_phone, receipt_email, receipt_language, ministry)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18)`,
		id, clientID, in.Amount, string(cur), in.Reference, in.Description, in.ReturnURL, in.CitizenID,
		provName, ch.Ref, ch.NextURL, string(Created), now, expireAt,
		in.Receipt.PhoneNumber, in.Receipt.EmailAddress, in.Receipt.language(), in.Ministry); err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	for i, sp := range in.Splits {
		if _, err := tx.ExecContext(ctx, `INSERT INTO payment_splits (payment_id, position, account, amount) VALUES ($1, $2, $3, $4)`,
			id, i, sp.Account, sp.Amount); err != nil {
			return fmt.Errorf("insert split: %w", err)
		}
	}
	return nil
}

// setCharge stores the acquirer's charge reference and checkout URL of
// payment id, unless it has one already.
func setCharge(ctx context.Context, q querier, id, ref, nextURL string) error {
	_, err := q.ExecContext(ctx, `UPDATE payments SET provider_ref = $1, next_url = $2 WHERE id = $3 AND provider_ref = ''`,
		ref, nextURL, id)
	return err
}

// setPaymentState stores payment id's new state.
func setPaymentState(ctx context.Context, tx *sql.Tx, id string, to State, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE payments SET state = $1, updated_at = $2 WHERE id = $3`, string(to), now, id)
	return err
}

// listPayments reads up to size+1 of clientID's payments matching f,
// newest first, after the page position (afterT, afterID) when afterID is
// not empty; their splits and transitions are not loaded.
func listPayments(ctx context.Context, db querier, clientID string, f ListFilter, afterT time.Time, afterID string, size int) ([]Payment, error) {
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
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (Payment, error) { return scanPayment(r) })
}
