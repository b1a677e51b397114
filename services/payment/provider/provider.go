// Package provider is the contract between the payment enabler and the
// acquirers (banks' card gateways) behind it: create a charge, verify and
// parse a webhook, ask a charge's status, cancel, refund and fetch the
// settlement report. It also holds the two wire formats every Tamkeen
// acquirer adapter shares: the "t=<unix>,v1=<hex HMAC-SHA256>" webhook
// signature and the settlement report CSV.
package provider

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Provider is one acquirer. Implementations must be safe for concurrent
// use; CreateCharge, Cancel and Refund must be idempotent per PaymentID /
// RefundID, so that the enabler can retry them after a crash.
type Provider interface {
	// Name is the provider's name in URLs and ledger accounts ("sandbox").
	Name() string
	// CreateCharge registers a charge and returns where to send the payer.
	// For a real acquirer it is a remote call: the enabler makes it after
	// the payment's transaction has committed (a call cannot be rolled
	// back with it), and again, with the same PaymentID, when the client
	// retries with the same Idempotency-Key, until the charge is stored.
	CreateCharge(ctx context.Context, req ChargeRequest) (Charge, error)
	// ParseWebhook verifies a webhook's signature header over its exact
	// body at time now and returns the notification it carries. Errors
	// wrap ErrBadSignature, ErrStale or ErrMalformed.
	ParseWebhook(payload []byte, signature string, now time.Time) (Notification, error)
	// ChargeStatus asks the acquirer where a charge stands, for payments
	// whose webhook did not arrive.
	ChargeStatus(ctx context.Context, ref string) (ChargeStatus, error)
	// Cancel voids a charge that has not been paid; a charge that was paid
	// meanwhile makes it fail with ErrAlreadyPaid.
	Cancel(ctx context.Context, ref string) error
	// Refund returns money of a paid charge.
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// SettlementReport returns the lines the acquirer settled on day (UTC).
	SettlementReport(ctx context.Context, day time.Time) ([]SettlementLine, error)
}

// TxCharger is a Provider whose charges live in the enabler's own
// database (the sandbox acquirer, whose tables are in the payment
// database). The enabler registers such a charge inside the transaction
// that creates the payment, so that a create is one commit and the charge
// exists exactly when the payment does: a create that loses an
// Idempotency-Key race, or fails, rolls its charge back with it.
type TxCharger interface {
	Provider
	// CreateChargeTx registers req's charge in tx, the transaction that
	// creates payment req.PaymentID, and returns it. It must not commit,
	// use another transaction or call out: tx may yet roll back.
	CreateChargeTx(ctx context.Context, tx *sql.Tx, req ChargeRequest) (Charge, error)
}

// Errors a Provider returns.
var (
	// ErrBadSignature: the webhook is not signed with our secret.
	ErrBadSignature = errors.New("webhook signature does not verify")
	// ErrStale: the webhook's timestamp is outside the tolerance window.
	ErrStale = errors.New("webhook timestamp outside the tolerance window")
	// ErrMalformed: a signature header, webhook body or settlement report
	// cannot be parsed.
	ErrMalformed = errors.New("malformed provider data")
	// ErrUnknownCharge: the acquirer has no such charge.
	ErrUnknownCharge = errors.New("unknown charge")
	// ErrAlreadyPaid: Cancel came too late.
	ErrAlreadyPaid = errors.New("charge already paid")
	// ErrRefundRefused: the acquirer refused the refund.
	ErrRefundRefused = errors.New("refund refused by the acquirer")
)

// ChargeRequest is what the acquirer needs to take a payment.
type ChargeRequest struct {
	// PaymentID is the enabler's payment id; the acquirer echoes it in
	// webhooks and settlement reports (the merchant reference).
	PaymentID   string
	Amount      int64
	Currency    string
	Description string
	// ReturnURL is where the payer goes after the checkout.
	ReturnURL string
	// ExpireAt is when an unpaid charge stops being payable.
	ExpireAt time.Time
}

// Charge is a registered charge.
type Charge struct {
	// Ref is the acquirer's charge id.
	Ref string
	// NextURL is the hosted checkout page.
	NextURL string
}

// ChargeStatus is where a charge stands at the acquirer.
type ChargeStatus string

// Charge statuses.
const (
	StatusOpen      ChargeStatus = "open"      // nothing entered yet
	StatusPending   ChargeStatus = "pending"   // submitted; awaiting 3-D Secure or the issuer
	StatusSucceeded ChargeStatus = "succeeded" // paid
	StatusFailed    ChargeStatus = "failed"    // declined
	StatusCancelled ChargeStatus = "cancelled" // voided before payment
)

// EventType names what a webhook reports.
type EventType string

// Webhook event types.
const (
	ChargePending   EventType = "charge.pending"
	ChargeSucceeded EventType = "charge.succeeded"
	ChargeFailed    EventType = "charge.failed"
	DisputeOpened   EventType = "dispute.opened"
	DisputeWon      EventType = "dispute.won"
	DisputeLost     EventType = "dispute.lost"
)

// Notification is a verified webhook.
type Notification struct {
	// ID is the acquirer's event id; the enabler applies each id once.
	ID      string
	Type    EventType
	Created time.Time
	// ChargeRef and PaymentID name the charge.
	ChargeRef string
	PaymentID string
	Amount    int64
	Currency  string
	// Reason says why a charge failed or a dispute was opened.
	Reason string
}

// RefundRequest refunds part of a charge; RefundID makes it idempotent.
type RefundRequest struct {
	RefundID  string
	ChargeRef string
	Amount    int64
	Currency  string
}

// RefundResult is an accepted refund.
type RefundResult struct {
	// Ref is the acquirer's refund id.
	Ref string
}

// Settlement line types.
const (
	LineCharge     = "charge"
	LineRefund     = "refund"
	LineChargeback = "chargeback"
)

// SettlementLine is one line of a settlement report.
type SettlementLine struct {
	// Date is the settlement day (UTC midnight).
	Date time.Time
	// Type is charge, refund or chargeback.
	Type string
	// ChargeRef is the acquirer's charge id; PaymentID the merchant's.
	ChargeRef string
	PaymentID string
	// Ref is the line's own reference: the charge id for a charge, the
	// refund id for a refund.
	Ref string
	// Amount is the gross amount in minor units, positive for charges and
	// negative for refunds and chargebacks.
	Amount   int64
	Currency string
}
