package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of direct debit (mandate.go calls these inside its
// transactions).

const mandateColumns = `id, state, client_id, ministry, creditor_account, citizen_id, debtor_name, debtor_iban, max_amount,
	currency, frequency, start_date, end_date, reference, description, notify_phone, notify_language, created_at,
	authorized_at, revoked_at`

func scanMandate(sc interface{ Scan(...any) error }) (Mandate, error) {
	var m Mandate
	var cur, state, start, end string
	var authorized, revoked sql.NullTime
	err := sc.Scan(&m.ID, &state, &m.ClientID, &m.Ministry, &m.CreditorAccount, &m.CitizenID, &m.DebtorName, &m.DebtorIBAN,
		&m.MaxAmount, &cur, &m.Frequency, &start, &end, &m.Reference, &m.Description, &m.Notify.PhoneNumber,
		&m.Notify.Language, store.ScanTime(&m.CreatedAt), store.ScanNullTime(&authorized), store.ScanNullTime(&revoked))
	if err != nil {
		return m, err
	}
	m.State, m.Currency = MandateState(state), Currency(cur)
	m.Start, _ = time.Parse(time.DateOnly, start)
	m.End, _ = time.Parse(time.DateOnly, end)
	m.AuthorizedAt, m.RevokedAt = authorized.Time, revoked.Time
	return m, nil
}

func insertMandate(ctx context.Context, q querier, m Mandate) error {
	_, err := q.ExecContext(ctx, `INSERT INTO mandates (id, state, client_id, ministry, creditor_account, citizen_id, debtor_name,
		debtor_iban, max_amount, currency, frequency, start_date, end_date, reference, description, notify_phone, notify_language,
		created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		m.ID, string(m.State), m.ClientID, m.Ministry, m.CreditorAccount, m.CitizenID, m.DebtorName, m.DebtorIBAN, m.MaxAmount,
		string(m.Currency), m.Frequency, m.Start.Format(time.DateOnly), m.End.Format(time.DateOnly), m.Reference, m.Description,
		m.Notify.PhoneNumber, m.Notify.Language, m.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert mandate: %w", err)
	}
	return nil
}

// getMandate reads mandate id; lock locks its row on PostgreSQL until the
// transaction ends (SQLite's transaction holds the write lock).
func (s *Service) getMandate(ctx context.Context, q querier, id string, lock bool) (Mandate, error) {
	query := s.forUpdate(`SELECT `+mandateColumns+` FROM mandates WHERE id = $1`, lock)
	return getRow(ctx, q, query, id, scanMandate, ErrMandateNotFound, "mandate")
}

// listMandates reads up to pg.size+1 mandates whose col ("client_id" or
// "citizen_id") is owner, newest first, after pg's row.
func listMandates(ctx context.Context, q querier, col, owner, state string, pg page) ([]Mandate, error) {
	query := `SELECT ` + mandateColumns + ` FROM mandates WHERE ` + col + ` = $1 AND ($2 = '' OR state = $2)`
	args := []any{owner, state}
	if pg.afterID != "" {
		query += ` AND (created_at < $3 OR (created_at = $3 AND id < $4))`
		args = append(args, pg.afterT.UTC(), pg.afterID)
	}
	args = append(args, pg.size+1)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list mandates: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (Mandate, error) { return scanMandate(r) })
}

// setMandateAuthorized activates a pending mandate for citizen and reports
// whether this call did.
func setMandateAuthorized(ctx context.Context, tx *sql.Tx, id, citizen string, at time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE mandates SET state = $1, citizen_id = $2, authorized_at = $3
		WHERE id = $4 AND state = $5`, string(MandateActive), citizen, at, id, string(MandatePending)))
	if err != nil {
		return false, fmt.Errorf("authorize mandate %s: %w", id, err)
	}
	return changed, nil
}

// setMandateRevoked revokes a mandate that is not revoked yet and cancels
// its collections not yet submitted; it returns how many it cancelled.
func setMandateRevoked(ctx context.Context, tx *sql.Tx, id string, at time.Time) (int64, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE mandates SET state = $1, revoked_at = $2 WHERE id = $3 AND state <> $1`,
		string(MandateRevoked), at, id); err != nil {
		return 0, fmt.Errorf("revoke mandate %s: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE mandate_collections SET state = $1, reason_code = $2, reason = $3, settled_at = $4
		WHERE mandate_id = $5 AND state IN ($6, $7)`, string(CollectionCancelled), reasonNoMandate, "the mandate was revoked",
		at, id, string(CollectionScheduled), string(CollectionAnnounced))
	if err != nil {
		return 0, fmt.Errorf("cancel collections of %s: %w", id, err)
	}
	return res.RowsAffected()
}

const collectionColumns = `id, mandate_id, amount, currency, due_date, period, state, reason_code, reason, submission_id,
	created_at, announced_at, submitted_at, settled_at`

func scanCollection(sc interface{ Scan(...any) error }) (Collection, error) {
	var c Collection
	var cur, state, due string
	var sub sql.NullString
	var announced, submitted, settled sql.NullTime
	err := sc.Scan(&c.ID, &c.MandateID, &c.Amount, &cur, &due, &c.Period, &state, &c.ReasonCode, &c.Reason, &sub,
		store.ScanTime(&c.CreatedAt), store.ScanNullTime(&announced), store.ScanNullTime(&submitted), store.ScanNullTime(&settled))
	if err != nil {
		return c, err
	}
	c.Currency, c.State, c.SubmissionID = Currency(cur), CollectionState(state), sub.String
	c.Due, _ = time.Parse(time.DateOnly, due)
	c.AnnouncedAt, c.SubmittedAt, c.SettledAt = announced.Time, submitted.Time, settled.Time
	return c, nil
}

func insertCollection(ctx context.Context, tx *sql.Tx, c Collection) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO mandate_collections (id, mandate_id, amount, currency, due_date, period, state,
		created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.ID, c.MandateID, c.Amount, string(c.Currency), c.Due.Format(time.DateOnly), c.Period, string(c.State), c.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert collection: %w", err)
	}
	return nil
}

// collectionsOf returns mandate id's collections by due date.
func collectionsOf(ctx context.Context, q querier, mandateID string) ([]Collection, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+collectionColumns+` FROM mandate_collections WHERE mandate_id = $1
		ORDER BY due_date, created_at, id`, mandateID)
	if err != nil {
		return nil, fmt.Errorf("load collections of %s: %w", mandateID, err)
	}
	return store.CollectRows(rows, func(r store.Row) (Collection, error) { return scanCollection(r) })
}

// getCollection reads collection id.
func getCollection(ctx context.Context, q querier, id string) (Collection, error) {
	c, err := scanCollection(q.QueryRowContext(ctx, `SELECT `+collectionColumns+` FROM mandate_collections WHERE id = $1`, id))
	if err != nil {
		return c, fmt.Errorf("load collection %s: %w", id, err)
	}
	return c, nil
}

// collectionAndMandate reads collection id and the mandate it is drawn on.
func (s *Service) collectionAndMandate(ctx context.Context, q querier, id string) (Collection, Mandate, error) {
	c, err := getCollection(ctx, q, id)
	if err != nil {
		return Collection{}, Mandate{}, err
	}
	m, err := s.getMandate(ctx, q, c.MandateID, false)
	return c, m, err
}

// livePeriodTaken reports whether mandate id has a collection in period
// that has not failed or been cancelled.
func livePeriodTaken(ctx context.Context, tx *sql.Tx, mandateID string, period int) (bool, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mandate_collections WHERE mandate_id = $1 AND period = $2
		AND state NOT IN ($3, $4)`, mandateID, period, string(CollectionFailed), string(CollectionCancelled)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("collections of %s in period %d: %w", mandateID, period, err)
	}
	return n > 0, nil
}

// collectionIDsInState lists up to limit collections in state due on or
// before day (YYYY-MM-DD), oldest due first.
func collectionIDsInState(ctx context.Context, q querier, state CollectionState, day string, limit int) ([]string, error) {
	return sweepIDs(ctx, q, `SELECT id FROM mandate_collections WHERE state = $1 AND due_date <= $2
		ORDER BY due_date, id LIMIT $3`, string(state), day, limit)
}

// moveCollection changes collection id from state from to to, setting the
// time column col to at, and reports whether this call did: of a revoke
// and a sweep racing for one collection exactly one wins.
func moveCollection(ctx context.Context, tx *sql.Tx, id string, from, to CollectionState, col string, at time.Time) (bool, error) {
	switch col {
	case "announced_at", "submitted_at":
	default:
		return false, fmt.Errorf("move collection %s: unknown column %q", id, col)
	}
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE mandate_collections SET state = $1, `+col+` = $2 WHERE id = $3 AND state = $4`,
		string(to), at, id, string(from)))
	if err != nil {
		return false, fmt.Errorf("move collection %s to %s: %w", id, to, err)
	}
	return changed, nil
}

// setCollectionSubmission files submitted collection id under submission.
func setCollectionSubmission(ctx context.Context, tx *sql.Tx, id, submission string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE mandate_collections SET submission_id = $1 WHERE id = $2`, submission, id); err != nil {
		return fmt.Errorf("file collection %s: %w", id, err)
	}
	return nil
}

// finishCollection settles or fails a submitted collection and reports
// whether this call did.
func finishCollection(ctx context.Context, tx *sql.Tx, id string, to CollectionState, code, reason string, at time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE mandate_collections SET state = $1, reason_code = $2, reason = $3, settled_at = $4
		WHERE id = $5 AND state = $6`, string(to), code, reason, at, id, string(CollectionSubmitted)))
	if err != nil {
		return false, fmt.Errorf("finish collection %s: %w", id, err)
	}
	return changed, nil
}

// bankSubmission is a pain.008 message to a bank.
type bankSubmission struct {
	ID, Bank, Message string
}

func insertSubmission(ctx context.Context, tx *sql.Tx, sub bankSubmission, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO bank_submissions (id, bank, message, created_at) VALUES ($1, $2, $3, $4)`,
		sub.ID, sub.Bank, sub.Message, at); err != nil {
		return fmt.Errorf("insert submission: %w", err)
	}
	return nil
}

// openSubmissions lists up to limit submissions not yet sent (sent false)
// or sent and awaiting their result (sent true).
func openSubmissions(ctx context.Context, q querier, sent bool, limit int) ([]bankSubmission, error) {
	cond := `sent_at IS NULL`
	if sent {
		cond = `sent_at IS NOT NULL AND done_at IS NULL`
	}
	rows, err := q.QueryContext(ctx, `SELECT id, bank, message FROM bank_submissions WHERE `+cond+` ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list submissions: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (bankSubmission, error) {
		var b bankSubmission
		err := r.Scan(&b.ID, &b.Bank, &b.Message)
		return b, err
	})
}

// setSubmissionSent records that the bank took submission id.
func setSubmissionSent(ctx context.Context, q querier, id string, at time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE bank_submissions SET sent_at = $1 WHERE id = $2 AND sent_at IS NULL`, at, id); err != nil {
		return fmt.Errorf("mark submission %s sent: %w", id, err)
	}
	return nil
}

// setSubmissionDone records that submission id's result was applied and
// reports whether this call did.
func setSubmissionDone(ctx context.Context, tx *sql.Tx, id string, at time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE bank_submissions SET done_at = $1 WHERE id = $2 AND done_at IS NULL`, at, id))
	if err != nil {
		return false, fmt.Errorf("mark submission %s done: %w", id, err)
	}
	return changed, nil
}
