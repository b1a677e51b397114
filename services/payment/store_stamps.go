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
	issued_at, expire_at, used_by, document_ref, used_at, expired_at, revoked_at, signed_stamp`

func scanStamp(sc interface{ Scan(...any) error }) (Stamp, error) {
	var st Stamp
	var cur string
	var secs int64
	var issued, expire, used, expired, revoked sql.NullTime
	err := sc.Scan(&st.Serial, &st.PaymentID, &st.FeeType, &st.Value, &cur, &st.Department, &st.Buyer, &st.Ministry, &secs,
		store.ScanNullTime(&issued), store.ScanNullTime(&expire), &st.UsedBy, &st.DocumentRef, store.ScanNullTime(&used),
		store.ScanNullTime(&expired), store.ScanNullTime(&revoked), &st.SignedStamp)
	st.Currency, st.Validity = Currency(cur), time.Duration(secs)*time.Second
	st.IssuedAt, st.ExpireAt, st.UsedAt, st.ExpiredAt, st.RevokedAt = issued.Time, expire.Time, used.Time, expired.Time, revoked.Time
	return st, err
}

// insertStamp reserves an unpaid stamp of an order at position.
func insertStamp(ctx context.Context, tx *sql.Tx, st Stamp, position int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stamps (serial, payment_id, position, fee_type, value, currency, department, buyer,
		ministry, validity_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		st.Serial, st.PaymentID, position, st.FeeType, st.Value, string(st.Currency), st.Department, st.Buyer, st.Ministry,
		int64(st.Validity/time.Second))
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
	query := `SELECT ` + stampColumns + ` FROM stamps WHERE serial = $1`
	if lock && s.DB.Engine() == store.Postgres {
		query += ` FOR UPDATE`
	}
	st, err := scanStamp(q.QueryRowContext(ctx, query, serial))
	if store.IsNoRows(err) {
		return Stamp{}, fmt.Errorf("%w: %s", ErrStampNotFound, serial)
	}
	if err != nil {
		return Stamp{}, fmt.Errorf("load stamp %s: %w", serial, err)
	}
	return st, nil
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
	res, err := tx.ExecContext(ctx, `UPDATE stamps SET used_by = $1, document_ref = $2, used_at = $3
		WHERE serial = $4 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL AND expire_at > $3`,
		by, documentRef, at, serial)
	if err != nil {
		return false, fmt.Errorf("use stamp %s: %w", serial, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setStampExpired marks an unused stamp past its expiry as expired and
// reports whether this call did.
func setStampExpired(ctx context.Context, tx *sql.Tx, serial string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE stamps SET expired_at = $1
		WHERE serial = $2 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL AND expire_at <= $1`,
		now, serial)
	if err != nil {
		return false, fmt.Errorf("expire stamp %s: %w", serial, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
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
	res, err := tx.ExecContext(ctx, `UPDATE stamps SET revoked_at = $1
		WHERE serial = $2 AND issued_at IS NOT NULL AND used_at IS NULL AND expired_at IS NULL AND revoked_at IS NULL`, now, serial)
	if err != nil {
		return false, fmt.Errorf("revoke stamp %s: %w", serial, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
