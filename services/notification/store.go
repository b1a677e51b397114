package notification

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

//go:embed migrations/notification/*.sql
var migrationFiles embed.FS

// Migrations are the schema versions the service's database needs, applied
// at start-up and by `tamkeen migrate` (the dev inbox has its own, see
// DevInboxMigrations).
var Migrations = host.Migrations(Name, migrationFiles, "migrations/notification")

// Notification statuses, as GOV.UK Notify names them.
const (
	// StatusCreated: accepted, not yet handed to a provider.
	StatusCreated = "created"
	// StatusSending: handed to a provider, no delivery receipt yet.
	StatusSending = "sending"
	// StatusDelivered: the provider reports delivery.
	StatusDelivered = "delivered"
	// StatusPermanentFailure: the provider refused the recipient.
	StatusPermanentFailure = "permanent-failure"
	// StatusTemporaryFailure: the carrier could not deliver (phone off).
	StatusTemporaryFailure = "temporary-failure"
	// StatusTechnicalFailure: Tamkeen could not send it (expired, retries
	// exhausted, outcome unknown).
	StatusTechnicalFailure = "technical-failure"
	// StatusCancelled: withdrawn before it was sent.
	StatusCancelled = "cancelled"
)

// Failure reasons recorded with a failure status.
const (
	// ReasonExpired: the command's expire time passed before it was sent.
	ReasonExpired = "expired"
	// ReasonAttemptsExhausted: every allowed attempt failed temporarily.
	ReasonAttemptsExhausted = "attempts-exhausted"
	// ReasonOutcomeUnknown: a send was interrupted after it was handed to a
	// provider that cannot deduplicate, so it is not sent again.
	ReasonOutcomeUnknown = "outcome-unknown"
	// ReasonProviderRefused: the provider refused it permanently.
	ReasonProviderRefused = "provider-refused"
)

// Submission states of a row (the submission column).
const (
	submissionNone     = "none"
	submissionInFlight = "in_flight"
	submissionAccepted = "accepted"
)

// ErrNotFound is returned for a notification id that does not exist.
var ErrNotFound = errors.New("notification: not found")

// Notification is one message and what became of it. Body never holds a
// secret value: OTP codes are redacted.
type Notification struct {
	ID                string
	EventID           string
	CommandID         string
	ClientID          string
	Reference         string
	Channel           string
	Lane              string
	TemplateID        string
	Language          string
	Recipient         string
	Body              string
	Encoding          Encoding
	Segments          int
	Status            string
	FailureReason     string
	Attempts          int
	Provider          string
	ProviderMessageID string
	ExpireAt          time.Time
	CreatedAt         time.Time
	UpdatedAt         time.Time
	// SentAt and CompletedAt are zero until the message was accepted by a
	// provider and reached a final status.
	SentAt      time.Time
	CompletedAt time.Time
	// TemplateVersion is the client template's version; 0 for built-in
	// templates.
	TemplateVersion int
	// Subject and HTML are an e-mail's rendered subject and HTML part.
	Subject string
	HTML    string
	// BulkJobID is the bulk job the message belongs to, if any.
	BulkJobID string
	// Country is the destination's calling code (SMS), for metering.
	Country string

	submission string
}

// final reports whether the status can no longer change through sending.
func (n Notification) final() bool {
	switch n.Status {
	case StatusDelivered, StatusPermanentFailure, StatusTemporaryFailure, StatusTechnicalFailure, StatusCancelled:
		return true
	}
	return false
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const notificationColumns = `id, event_id, command_id, client_id, reference, channel, lane, template_id,
	language, recipient, body, encoding, segments, status, failure_reason, submission, attempts,
	provider, provider_message_id, expire_at, created_at, updated_at, sent_at, completed_at,
	template_version, subject, html, bulk_job_id, country`

// insertNotification writes a new row.
func insertNotification(ctx context.Context, tx *sql.Tx, n Notification) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notifications (`+notificationColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24,
	$25, $26, $27, $28, $29)`,
		n.ID, n.EventID, n.CommandID, n.ClientID, n.Reference, n.Channel, n.Lane, n.TemplateID,
		n.Language, n.Recipient, n.Body, string(n.Encoding), n.Segments, n.Status, n.FailureReason, n.submission, n.Attempts,
		n.Provider, n.ProviderMessageID, n.ExpireAt, n.CreatedAt, n.UpdatedAt, nullTime(n.SentAt), nullTime(n.CompletedAt),
		n.TemplateVersion, n.Subject, n.HTML, n.BulkJobID, n.Country)
	if err != nil {
		return fmt.Errorf("insert notification %s: %w", n.ID, err)
	}
	return nil
}

// getNotification reads the row whose column col ("id" or "event_id")
// equals v, or ErrNotFound.
func getNotification(ctx context.Context, q queryer, col, v string) (Notification, error) {
	if col != "id" && col != "event_id" {
		return Notification{}, fmt.Errorf("notification: cannot look up by %q", col)
	}
	n, err := scanNotification(q.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE `+col+` = $1`, v))
	if store.IsNoRows(err) {
		return Notification{}, ErrNotFound
	}
	if err != nil {
		return Notification{}, fmt.Errorf("read notification: %w", err)
	}
	return n, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner = store.Row

// scanNotification reads one row of notificationColumns.
func scanNotification(r scanner) (Notification, error) {
	var (
		n               Notification
		enc             string
		sent, completed sql.NullTime
	)
	err := r.Scan(
		&n.ID, &n.EventID, &n.CommandID, &n.ClientID, &n.Reference, &n.Channel, &n.Lane, &n.TemplateID,
		&n.Language, &n.Recipient, &n.Body, &enc, &n.Segments, &n.Status, &n.FailureReason, &n.submission, &n.Attempts,
		&n.Provider, &n.ProviderMessageID, store.ScanTime(&n.ExpireAt), store.ScanTime(&n.CreatedAt), store.ScanTime(&n.UpdatedAt),
		store.ScanNullTime(&sent), store.ScanNullTime(&completed),
		&n.TemplateVersion, &n.Subject, &n.HTML, &n.BulkJobID, &n.Country)
	if err != nil {
		return Notification{}, err
	}
	n.Encoding = Encoding(enc)
	n.SentAt, n.CompletedAt = sent.Time, completed.Time
	return n, nil
}

// updateNotification writes n's mutable fields if the row is still in the
// status, submission state and attempt count the caller read, and reports
// whether it was; a false means another handler moved it first.
func updateNotification(ctx context.Context, tx *sql.Tx, n Notification, fromStatus, fromSubmission string, fromAttempts int) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE notifications SET
	status = $1, failure_reason = $2, submission = $3, attempts = $4, provider = $5, provider_message_id = $6,
	updated_at = $7, sent_at = $8, completed_at = $9
WHERE id = $10 AND submission = $11 AND attempts = $12 AND status = $13`,
		n.Status, n.FailureReason, n.submission, n.Attempts, n.Provider, n.ProviderMessageID,
		n.UpdatedAt, nullTime(n.SentAt), nullTime(n.CompletedAt), n.ID, fromSubmission, fromAttempts, fromStatus)
	if err != nil {
		return false, fmt.Errorf("update notification %s: %w", n.ID, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return rows == 1, nil
}

// lockNotification holds row id until tx ends (a write that changes
// nothing, which both engines lock).
func lockNotification(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE notifications SET updated_at = updated_at WHERE id = $1`, id); err != nil {
		return fmt.Errorf("lock notification %s: %w", id, err)
	}
	return nil
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

// Notification returns the notification with the given id, or ErrNotFound.
func (s *Service) Notification(ctx context.Context, id string) (Notification, error) {
	return getNotification(ctx, s.DB, "id", id)
}

// listNotifications returns up to limit of client's notifications older
// than (afterTime, afterID), newest first, of one reference and one
// status ("" for any).
func listNotifications(ctx context.Context, q store.Querier, client, reference, status string, afterTime time.Time, afterID string, limit int) ([]Notification, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications
WHERE client_id = $1 AND ($2 = '' OR reference = $2) AND ($3 = '' OR status = $3)
  AND (created_at < $4 OR (created_at = $4 AND id < $5))
ORDER BY created_at DESC, id DESC LIMIT $6`, client, reference, status, afterTime, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("notification: list: %w", err)
	}
	return store.CollectRows(rows, scanNotification)
}
