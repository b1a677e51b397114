package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// post stores a balanced posting inside tx, once: a second posting with the
// same (kind, ref) stores nothing and reports posted false. Balance rows are
// updated in account order so that concurrent postings cannot deadlock.
func (s *Service) post(ctx context.Context, tx *sql.Tx, p Posting, at time.Time) (posted bool, err error) {
	if err := p.Check(); err != nil {
		return false, err
	}
	id, err := store.NewIDFrom(s.Rand, "ltx_")
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO ledger_transactions (id, kind, ref, payment_id, currency, posted_at, ministry)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kind, ref) DO NOTHING`, id, p.Kind, p.Ref, p.PaymentID, string(p.Currency), at, p.Ministry)
	if err != nil {
		return false, fmt.Errorf("post %s %s: %w", p.Kind, p.Ref, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for i, e := range p.Entries {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_entries (transaction_id, position, account, currency, debit, credit)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, i, e.Account, string(e.Currency), e.Debit, e.Credit); err != nil {
			return false, fmt.Errorf("post %s %s entry %d: %w", p.Kind, p.Ref, i, err)
		}
	}
	for _, e := range sortedEntries(p.Entries) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger_balances (account, currency, debits, credits) VALUES ($1, $2, $3, $4)
			ON CONFLICT (account, currency) DO UPDATE SET debits = ledger_balances.debits + excluded.debits,
			credits = ledger_balances.credits + excluded.credits`, e.Account, string(e.Currency), e.Debit, e.Credit); err != nil {
			return false, fmt.Errorf("post %s %s balance of %s: %w", p.Kind, p.Ref, e.Account, err)
		}
	}
	s.notePosting(ctx, p.Kind, p.Currency)
	return true, nil
}

// LedgerView is whose part of the ledger a caller sees: a ministry's or,
// for the platform operator, all of it. A ministry's part is every whole
// transaction of its payments (captures, refunds, lost disputes and their
// settlements), so that it balances per currency like the whole ledger.
type LedgerView struct {
	Ministry string
	All      bool
}

// PlatformLedger is the platform-wide view (ledger:admin).
var PlatformLedger = LedgerView{All: true}

// check refuses a ministry view without a ministry: a client registered
// with none sees no part of the ledger.
func (v LedgerView) check() error {
	if !v.All && v.Ministry == "" {
		return fmt.Errorf("%w: the client is registered with no ministry, so it sees no part of the ledger", rpcerr.ErrPermissionDenied)
	}
	return nil
}

// Balances returns the totals of every account in view; currency ""
// means all.
func (s *Service) Balances(ctx context.Context, view LedgerView, currency string) ([]Balance, error) {
	if err := view.check(); err != nil {
		return nil, err
	}
	if view.All {
		return balances(ctx, s.DB, currency)
	}
	return ministryBalances(ctx, s.DB, view.Ministry, currency)
}

// ministryBalances sums the entries of ministry's transactions per account
// (the balance rows are platform-wide, shared by ministries using the same
// account or provider).
func ministryBalances(ctx context.Context, q querier, ministry, currency string) ([]Balance, error) {
	rows, err := q.QueryContext(ctx, `SELECT e.account, e.currency, CAST(SUM(e.debit) AS BIGINT), CAST(SUM(e.credit) AS BIGINT)
		FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
		WHERE t.ministry = $1 AND ($2 = '' OR e.currency = $2)
		GROUP BY e.account, e.currency ORDER BY e.currency, e.account`, ministry, currency)
	if err != nil {
		return nil, fmt.Errorf("ledger balances of %s: %w", ministry, err)
	}
	return scanBalances(rows)
}

func balances(ctx context.Context, q querier, currency string) ([]Balance, error) {
	rows, err := q.QueryContext(ctx, `SELECT account, currency, debits, credits FROM ledger_balances
		WHERE $1 = '' OR currency = $1 ORDER BY currency, account`, currency)
	if err != nil {
		return nil, fmt.Errorf("ledger balances: %w", err)
	}
	return scanBalances(rows)
}

// scanBalances reads and closes rows of (account, currency, debits,
// credits).
func scanBalances(rows *sql.Rows) ([]Balance, error) {
	return store.CollectRows(rows, func(r store.Row) (Balance, error) {
		var b Balance
		var cur string
		err := r.Scan(&b.Account, &cur, &b.Debits, &b.Credits)
		b.Currency = Currency(cur)
		return b, err
	})
}

// TrialBalance sums the ledger (view's part of it) per currency; each
// currency's Net is zero in a sound ledger.
func (s *Service) TrialBalance(ctx context.Context, view LedgerView) ([]CurrencyTotals, time.Time, error) {
	asOf := s.clock()
	bals, err := s.Balances(ctx, view, "")
	if err != nil {
		return nil, time.Time{}, err
	}
	return TrialBalance(bals), asOf, nil
}

// LedgerReport is what CheckLedger found.
type LedgerReport struct {
	Transactions int
	Entries      int
	Accounts     int
	// Totals is the trial balance recomputed from the entries.
	Totals []CurrencyTotals
	// Problems lists every broken invariant; empty means the ledger is sound.
	Problems []string
}

// CheckLedger proves the ledger's invariants from the stored rows, in one
// read-only pass: every transaction has at least two entries, each a
// positive debit or credit in the transaction's currency, with debits equal
// to credits; every balance row equals the sum of its account's entries
// (and every account with entries has one); each currency's debits equal
// its credits; each payment's capture equals its amount and its refunds
// and lost disputes never exceed it; each revenue stamp's postings match
// its state (checkStamps). `tamkeen ledger check` runs it.
func CheckLedger(ctx context.Context, db *store.DB) (LedgerReport, error) {
	var r LedgerReport
	problem := func(format string, args ...any) {
		if len(r.Problems) < 1000 {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		}
	}
	// Transactions and their entries.
	rows, err := db.QueryContext(ctx, `SELECT t.id, t.kind, t.ref, t.currency, e.account, e.currency, e.debit, e.credit
		FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id ORDER BY t.id, e.position`)
	if err != nil {
		return r, fmt.Errorf("ledger check: %w", err)
	}
	type txSum struct {
		kind, ref, cur string
		dr, cr         int64
		n              int
	}
	sums := map[string]*txSum{}
	var order []string
	fromEntries := map[[2]string]*Balance{}
	for rows.Next() {
		var id, kind, ref, cur string
		var acct, ecur sql.NullString
		var dr, cr sql.NullInt64
		if err := rows.Scan(&id, &kind, &ref, &cur, &acct, &ecur, &dr, &cr); err != nil {
			rows.Close()
			return r, err
		}
		t := sums[id]
		if t == nil {
			t = &txSum{kind: kind, ref: ref, cur: cur}
			sums[id] = t
			order = append(order, id)
		}
		if !acct.Valid {
			continue
		}
		r.Entries++
		t.n++
		t.dr += dr.Int64
		t.cr += cr.Int64
		if ecur.String != cur {
			problem("transaction %s (%s %s): entry on %s is in %s, not %s", id, kind, ref, acct.String, ecur.String, cur)
		}
		if (dr.Int64 > 0) == (cr.Int64 > 0) || dr.Int64 < 0 || cr.Int64 < 0 {
			problem("transaction %s (%s %s): entry on %s is not one positive debit or credit", id, kind, ref, acct.String)
		}
		k := [2]string{acct.String, ecur.String}
		b := fromEntries[k]
		if b == nil {
			b = &Balance{Account: acct.String, Currency: Currency(ecur.String)}
			fromEntries[k] = b
		}
		b.Debits += dr.Int64
		b.Credits += cr.Int64
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r, err
	}
	r.Transactions = len(order)
	for _, id := range order {
		t := sums[id]
		if t.n < 2 {
			problem("transaction %s (%s %s) has %d entries; a double entry needs at least 2", id, t.kind, t.ref, t.n)
		}
		if t.dr != t.cr {
			problem("transaction %s (%s %s) does not balance: debits %d, credits %d", id, t.kind, t.ref, t.dr, t.cr)
		}
	}
	// Stored balances against the entries.
	stored, err := balances(ctx, db, "")
	if err != nil {
		return r, err
	}
	r.Accounts = len(stored)
	seen := map[[2]string]bool{}
	for _, b := range stored {
		k := [2]string{b.Account, string(b.Currency)}
		seen[k] = true
		e := fromEntries[k]
		if e == nil {
			e = &Balance{}
		}
		if e.Debits != b.Debits || e.Credits != b.Credits {
			problem("balance of %s in %s is %d/%d (debits/credits) but its entries sum to %d/%d", b.Account, b.Currency, b.Debits, b.Credits, e.Debits, e.Credits)
		}
	}
	var recomputed []Balance
	for k, b := range fromEntries {
		if !seen[k] {
			problem("account %s in %s has entries but no balance row", k[0], k[1])
		}
		recomputed = append(recomputed, *b)
	}
	r.Totals = TrialBalance(recomputed)
	for _, t := range r.Totals {
		if t.Net() != 0 {
			problem("trial balance of %s is off by %d (debits %d, credits %d)", t.Currency, t.Net(), t.Debits, t.Credits)
		}
	}
	// Payments against their postings.
	rows, err = db.QueryContext(ctx, `SELECT p.id, p.amount, p.state, p.refunded_amount,
		COALESCE((SELECT SUM(e.debit) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind = 'capture' AND t.ref = p.id), 0),
		COALESCE((SELECT SUM(e.credit) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind IN ('refund', 'dispute_lost') AND t.payment_id = p.id), 0),
		(SELECT COUNT(*) FROM ledger_transactions t WHERE t.kind = 'capture' AND t.ref = p.id)
		FROM payments p`)
	if err != nil {
		return r, fmt.Errorf("ledger check payments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, st string
		var amount, refunded, captured, reversed int64
		var captures int
		if err := rows.Scan(&id, &amount, &st, &refunded, &captured, &reversed, &captures); err != nil {
			return r, err
		}
		paid := State(st).Paid()
		switch {
		case paid && captures != 1:
			problem("payment %s is %s but has %d capture postings; want 1", id, st, captures)
		case !paid && captures != 0:
			problem("payment %s is %s but has a capture posting", id, st)
		case paid && captured != amount:
			problem("payment %s captured %d; its amount is %d", id, captured, amount)
		}
		if reversed > amount {
			problem("payment %s had %d refunded or charged back, more than its %d", id, reversed, amount)
		}
		if refunded > amount {
			problem("payment %s has refunded_amount %d above its %d", id, refunded, amount)
		}
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	return r, checkStamps(ctx, db, problem)
}
