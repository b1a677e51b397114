package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// The SQL of stamps (stamp.go calls these inside its transactions).

const stampColumns = `serial, payment_id, fee_type, value, currency, department, buyer, ministry, validity_seconds,
	issued_at, expire_at, used_by, document_ref, used_at, expired_at, revoked_at, signed_stamp, created_at`

func scanStamp(sc interface{ Scan(...any) error }) (Stamp, error) {
	var st Stamp
	var cur string
	var secs int64
	var issued, expire, used, expired, revoked, created sql.NullTime
	err := sc.Scan(&st.Serial, &st.PaymentID, &st.FeeType, &st.Value, &cur, &st.Department, &st.Buyer, &st.Ministry, &secs,
		store.ScanNullTime(&issued), store.ScanNullTime(&expire), &st.UsedBy, &st.DocumentRef, store.ScanNullTime(&used),
		store.ScanNullTime(&expired), store.ScanNullTime(&revoked), &st.SignedStamp, store.ScanNullTime(&created))
	st.Currency, st.Validity = Currency(cur), time.Duration(secs)*time.Second
	st.IssuedAt, st.ExpireAt, st.UsedAt, st.ExpiredAt, st.RevokedAt = issued.Time, expire.Time, used.Time, expired.Time, revoked.Time
	st.CreatedAt = created.Time
	return st, err
}

// insertStamp reserves an unpaid stamp of an order at position.
func insertStamp(ctx context.Context, tx *sql.Tx, st Stamp, position int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stamps (serial, payment_id, position, fee_type, value, currency, department, buyer,
		ministry, validity_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		st.Serial, st.PaymentID, position, st.FeeType, st.Value, string(st.Currency), st.Department, st.Buyer, st.Ministry,
		int64(st.Validity/time.Second), st.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("insert stamp: %w", err)
	}
	return nil
}

// stampsOfPayment returns payment id's stamps in order.
func stampsOfPayment(ctx context.Context, q querier, paymentID string) ([]Stamp, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+stampColumns+` FROM stamps WHERE payment_id = $1 ORDER BY position`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("load stamps of %s: %w", paymentID, err)
	}
	return store.CollectRows(rows, func(r store.Row) (Stamp, error) { return scanStamp(r) })
}

// getStamp reads the stamp with serial; lock locks its row on PostgreSQL
// until the transaction ends (SQLite's transaction holds the write lock).
func (s *Service) getStamp(ctx context.Context, q querier, serial string, lock bool) (Stamp, error) {
	query := s.forUpdate(`SELECT `+stampColumns+` FROM stamps WHERE serial = $1`, lock)
	return getRow(ctx, q, query, serial, scanStamp, ErrStampNotFound, "stamp")
}

// setStampIssued starts an unpaid stamp's validity.
func setStampIssued(ctx context.Context, tx *sql.Tx, serial string, at, expireAt time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE stamps SET issued_at = $1, expire_at = $2 WHERE serial = $3 AND issued_at IS NULL`,
		at, expireAt, serial); err != nil {
		return fmt.Errorf("issue stamp %s: %w", serial, err)
	}
	return nil
}

// useStamp records the use of a valid stamp and reports whether this call
// made it: of concurrent uses exactly one updates the row.
func useStamp(ctx context.Context, tx *sql.Tx, serial, by, documentRef string, at time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE stamps SET used_by = $1, document_ref = $2, used_at = $3
		WHERE serial = $4 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL AND expire_at > $3`,
		by, documentRef, at, serial))
	if err != nil {
		return false, fmt.Errorf("use stamp %s: %w", serial, err)
	}
	return changed, nil
}

// setStampExpired marks an unused stamp past its expiry as expired and
// reports whether this call did.
func setStampExpired(ctx context.Context, tx *sql.Tx, serial string, now time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE stamps SET expired_at = $1
		WHERE serial = $2 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL AND expire_at <= $1`,
		now, serial))
	if err != nil {
		return false, fmt.Errorf("expire stamp %s: %w", serial, err)
	}
	return changed, nil
}

// expiredStampSerials lists up to limit issued, unused stamps whose expiry
// has passed and which the sweep has not expired yet.
func expiredStampSerials(ctx context.Context, q querier, now time.Time, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT serial FROM stamps WHERE issued_at IS NOT NULL AND used_at IS NULL
		AND expired_at IS NULL AND revoked_at IS NULL AND expire_at <= $1 ORDER BY expire_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("list expired stamps: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (string, error) {
		var s string
		err := r.Scan(&s)
		return s, err
	})
}

// setStampSeal stores a stamp's sealed form unless it has one.
func setStampSeal(ctx context.Context, q querier, serial, jws string) error {
	if _, err := q.ExecContext(ctx, `UPDATE stamps SET signed_stamp = $1 WHERE serial = $2 AND signed_stamp = ''`, jws, serial); err != nil {
		return fmt.Errorf("store seal of stamp %s: %w", serial, err)
	}
	return nil
}

// setStampRevoked revokes a valid stamp and reports whether this call did.
func setStampRevoked(ctx context.Context, tx *sql.Tx, serial string, now time.Time) (bool, error) {
	changed, err := store.ChangedOne(tx.ExecContext(ctx, `UPDATE stamps SET revoked_at = $1
		WHERE serial = $2 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL`, now, serial))
	if err != nil {
		return false, fmt.Errorf("revoke stamp %s: %w", serial, err)
	}
	return changed, nil
}

// checkStamps proves the stamps' ledger invariants for CheckLedger: an
// order with issued stamps has one sale posting of their total value, an
// order without none; a used, expired or revoked stamp has exactly one
// posting of that kind and of its value, and no posting of the other two
// kinds; a stamp still valid or unpaid has none.
func checkStamps(ctx context.Context, db *store.DB, problem func(string, ...any)) error {
	rows, err := db.QueryContext(ctx, `SELECT s.payment_id,
		SUM(CASE WHEN s.issued_at IS NULL THEN 0 ELSE s.value END),
		COALESCE((SELECT SUM(e.credit) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind = 'stamp_sale' AND t.ref = s.payment_id), 0),
		(SELECT COUNT(*) FROM ledger_transactions t WHERE t.kind = 'stamp_sale' AND t.ref = s.payment_id)
		FROM stamps s GROUP BY s.payment_id`)
	if err != nil {
		return fmt.Errorf("ledger check stamps: %w", err)
	}
	for rows.Next() {
		var id string
		var issued, sold int64
		var sales int
		if err := rows.Scan(&id, &issued, &sold, &sales); err != nil {
			rows.Close()
			return err
		}
		switch {
		case issued > 0 && (sales != 1 || sold != issued):
			problem("stamp order %s issued stamps worth %d but has %d sale postings of %d", id, issued, sales, sold)
		case issued == 0 && sales != 0:
			problem("stamp order %s issued no stamp but has a sale posting", id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = db.QueryContext(ctx, `SELECT s.serial, s.value,
		CASE WHEN s.used_at IS NOT NULL THEN 'stamp_use' WHEN s.expired_at IS NOT NULL THEN 'stamp_expiry'
			WHEN s.revoked_at IS NOT NULL THEN 'stamp_revoke' ELSE '' END,
		(SELECT COUNT(*) FROM ledger_transactions t WHERE t.kind IN ('stamp_use', 'stamp_expiry', 'stamp_revoke') AND t.ref = s.serial),
		COALESCE((SELECT MIN(t.kind) FROM ledger_transactions t WHERE t.kind IN ('stamp_use', 'stamp_expiry', 'stamp_revoke') AND t.ref = s.serial), ''),
		COALESCE((SELECT SUM(e.debit) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
			WHERE t.kind IN ('stamp_use', 'stamp_expiry', 'stamp_revoke') AND t.ref = s.serial), 0)
		FROM stamps s`)
	if err != nil {
		return fmt.Errorf("ledger check stamps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var serial, want, kind string
		var value, amount int64
		var n int
		if err := rows.Scan(&serial, &value, &want, &n, &kind, &amount); err != nil {
			return err
		}
		switch {
		case want == "" && n != 0:
			problem("stamp %s is neither used, expired nor revoked but has %d postings (%s)", serial, n, kind)
		case want != "" && (n != 1 || kind != want || amount != value):
			problem("stamp %s wants one %s posting of %d; it has %d (%s) of %d", serial, want, value, n, kind, amount)
		}
	}
	return rows.Err()
}

// listStamps returns up to size+1 of buyer's stamps, newest first, after
// the keyset position (afterT, afterSerial) when afterSerial is set.
func listStamps(ctx context.Context, q querier, buyer string, afterT time.Time, afterSerial string, size int) ([]Stamp, error) {
	query := `SELECT ` + stampColumns + ` FROM stamps WHERE buyer = $1`
	args := []any{buyer}
	if afterSerial != "" {
		args = append(args, afterT.UTC(), afterSerial)
		query += ` AND (created_at < $2 OR (created_at = $2 AND serial < $3))`
	}
	args = append(args, size+1)
	query += fmt.Sprintf(` ORDER BY created_at DESC, serial DESC LIMIT $%d`, len(args))
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list stamps: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (Stamp, error) { return scanStamp(r) })
}

const feeTypeColumns = `fee_type, ministry, department, value, currency, name_ar, name_en, updated_at`

func scanFeeType(sc interface{ Scan(...any) error }) (FeeType, error) {
	var ft FeeType
	var cur string
	err := sc.Scan(&ft.ID, &ft.Ministry, &ft.Department, &ft.Value, &cur, &ft.NameAR, &ft.NameEN, store.ScanTime(&ft.UpdatedAt))
	ft.Currency = Currency(cur)
	return ft, err
}

// upsertFeeType registers ft for its ministry, or updates it when that
// ministry registered it before; it reports false when another ministry
// holds the id.
func upsertFeeType(ctx context.Context, q querier, ft FeeType, by string) (bool, error) {
	changed, err := store.ChangedOne(q.ExecContext(ctx, `INSERT INTO stamp_fee_types (`+feeTypeColumns+`, registered_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (fee_type) DO UPDATE SET department = excluded.department, value = excluded.value,
			currency = excluded.currency, name_ar = excluded.name_ar, name_en = excluded.name_en,
			registered_by = excluded.registered_by, updated_at = excluded.updated_at
		WHERE stamp_fee_types.ministry = excluded.ministry`,
		ft.ID, ft.Ministry, ft.Department, ft.Value, string(ft.Currency), ft.NameAR, ft.NameEN, ft.UpdatedAt.UTC(), by))
	if err != nil {
		return false, fmt.Errorf("register fee type %s: %w", ft.ID, err)
	}
	return changed, nil
}

// getFeeType reads a registered fee type; ok is false when there is none.
func getFeeType(ctx context.Context, q querier, id string) (FeeType, bool, error) {
	ft, err := scanFeeType(q.QueryRowContext(ctx, `SELECT `+feeTypeColumns+` FROM stamp_fee_types WHERE fee_type = $1`, id))
	if store.IsNoRows(err) {
		return FeeType{}, false, nil
	}
	if err != nil {
		return FeeType{}, false, fmt.Errorf("load fee type %s: %w", id, err)
	}
	return ft, true, nil
}

// listFeeTypes returns every registered fee type by id.
func listFeeTypes(ctx context.Context, q querier) ([]FeeType, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+feeTypeColumns+` FROM stamp_fee_types ORDER BY fee_type`)
	if err != nil {
		return nil, fmt.Errorf("list fee types: %w", err)
	}
	return store.CollectRows(rows, func(r store.Row) (FeeType, error) { return scanFeeType(r) })
}
