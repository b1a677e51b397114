// Package sandbox is Tamkeen's built-in sandbox acquirer: it stands in for
// a bank's card gateway in development and tests, and must never be
// enabled in production (payment's Config turns it on only in dev mode or
// with --sandbox).
//
// It keeps its charges, refunds, disputes and outgoing webhooks in its own
// tables (Migrations) and serves a hosted checkout page (Handler): a
// server-rendered, mobile-first form in Arabic (right to left) and English
// that needs no JavaScript and loads nothing from elsewhere. The test card
// number decides the outcome (see TestCards). Each change of a charge is
// announced by a webhook signed "t=<unix>,v1=<hex HMAC-SHA256>" over
// "<t>.<body>", delivered at once by the request that made it (its own
// charge's webhooks only, DeliverFor) and retried by a background sweep
// (Run, DeliverDue) until the enabler answers 2xx (or 409: already
// processed); a deliverer claims a webhook under a lease before sending
// it, so no two send it at once. SettlementReport and the CSV at
// /sandbox/settlements/YYYY-MM-DD give one day's settled lines.
package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// Name is the provider name of the sandbox acquirer.
const Name = "sandbox"

// PathPrefix is where Handler serves: the checkout pages and settlement
// reports live under it.
const PathPrefix = "/sandbox/"

// Deliverer sends one signed webhook to the enabler. It returns nil when
// the enabler took it (HTTP 2xx, or 409 for one it already has).
type Deliverer func(ctx context.Context, payload []byte, signature string) error

// Config configures the sandbox acquirer.
type Config struct {
	// Secret signs webhooks; the enabler verifies with the same secret.
	Secret []byte
	// PreviousSecret, during a rotation, is also accepted by ParseWebhook.
	PreviousSecret []byte
	// PublicURL is the base URL the checkout pages are reached at (the
	// gateway's), without a trailing slash; next_url is
	// PublicURL + "/sandbox/checkout/<charge>".
	PublicURL string
	// Deliver sends webhooks; see HTTPDeliverer.
	Deliver Deliverer
	// Tolerance is how far a webhook's timestamp may be from now.
	Tolerance time.Duration
	// RetryInterval is the first pause before redelivering a webhook the
	// enabler did not take; it doubles up to a minute.
	RetryInterval time.Duration
	// Lease is how long a deliverer holds the webhooks it claimed; another
	// deliverer may take them only after it. 0 means 30 s.
	Lease time.Duration
	// SweepAfter is how long the sweep (DeliverDue) leaves a webhook never
	// tried to the request that made it, which sends it at once
	// (DeliverFor). 0 means 5 s.
	SweepAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand makes ids; nil means crypto/rand.
	Rand io.Reader
	// Logger receives delivery failures; nil discards them.
	Logger *slog.Logger
}

// Acquirer is the sandbox acquirer. It implements provider.TxCharger: it
// shares the payment database, so the enabler registers its charges in the
// transaction that creates the payment.
type Acquirer struct {
	db  *store.DB
	cfg Config
	log *slog.Logger
}

var _ provider.TxCharger = (*Acquirer)(nil)

// ErrConfig is wrapped by New's errors.
var ErrConfig = errors.New("sandbox: invalid configuration")

// New returns the sandbox acquirer on db (migrated with Migrations).
func New(db *store.DB, cfg Config) (*Acquirer, error) {
	if db == nil || len(cfg.Secret) < 16 || cfg.Deliver == nil {
		return nil, fmt.Errorf("%w: needs a database, a secret of at least 16 bytes and a deliverer", ErrConfig)
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = 5 * time.Minute
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.SweepAfter <= 0 {
		cfg.SweepAfter = 5 * time.Second
	}
	cfg.Now, cfg.Rand = host.OrNow(cfg.Now), host.OrCryptoRand(cfg.Rand)
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Acquirer{db: db, cfg: cfg, log: host.OrDiscard(cfg.Logger)}, nil
}

// Name returns "sandbox".
func (a *Acquirer) Name() string { return Name }

func (a *Acquirer) now() time.Time { return store.Stamp(a.cfg.Now()) }

// CreateCharge registers a charge for req.PaymentID, once: asking again for
// the same payment returns the same charge.
func (a *Acquirer) CreateCharge(ctx context.Context, req provider.ChargeRequest) (provider.Charge, error) {
	ref, err := a.createOnce(ctx, "ch_", "create charge", func(tx *sql.Tx, id string, now time.Time) (string, error) {
		return insertCharge(ctx, tx, id, req, now)
	})
	if err != nil {
		return provider.Charge{}, err
	}
	return a.checkout(ref), nil
}

// CreateChargeTx registers the charge of req.PaymentID in tx, the
// enabler's transaction that creates the payment (the sandbox's tables are
// in the payment database), once per payment like CreateCharge: the
// charge commits or rolls back with the payment.
func (a *Acquirer) CreateChargeTx(ctx context.Context, tx *sql.Tx, req provider.ChargeRequest) (provider.Charge, error) {
	id, err := store.NewIDFrom(a.cfg.Rand, "ch_")
	if err != nil {
		return provider.Charge{}, err
	}
	ref, err := insertCharge(ctx, tx, id, req, a.now())
	if err != nil {
		return provider.Charge{}, fmt.Errorf("sandbox: create charge: %w", err)
	}
	return a.checkout(ref), nil
}

// checkout is charge ref with its checkout page.
func (a *Acquirer) checkout(ref string) provider.Charge {
	return provider.Charge{Ref: ref, NextURL: a.cfg.PublicURL + "/sandbox/checkout/" + ref}
}

// createOnce runs create in a transaction with a new id (of prefix) and
// the time, and returns the reference create settles on: the new id, or
// the one an earlier call for the same request stored, which is what makes
// CreateCharge and Refund idempotent. what names the step in errors.
func (a *Acquirer) createOnce(ctx context.Context, prefix, what string, create func(tx *sql.Tx, id string, now time.Time) (string, error)) (string, error) {
	id, err := store.NewIDFrom(a.cfg.Rand, prefix)
	if err != nil {
		return "", err
	}
	now := a.now()
	var ref string
	err = a.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		ref, err = create(tx, id, now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("sandbox: %s: %w", what, err)
	}
	return ref, nil
}

// charge is a row of sandbox_charges.
type charge struct {
	ID, PaymentID, Currency, Description, ReturnURL, Status, Reason, Last4, Dispute string
	Amount, Refunded                                                                int64
	ExpireAt, CreatedAt                                                             time.Time
}

// ChargeStatus reports where the charge stands.
func (a *Acquirer) ChargeStatus(ctx context.Context, ref string) (provider.ChargeStatus, error) {
	c, err := a.loadCharge(ctx, a.db, ref)
	if err != nil {
		return "", err
	}
	return provider.ChargeStatus(c.Status), nil
}

// Cancel voids an open or pending charge; a paid one gives ErrAlreadyPaid.
func (a *Acquirer) Cancel(ctx context.Context, ref string) error {
	return a.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := a.loadCharge(ctx, tx, ref)
		if err != nil {
			return err
		}
		switch provider.ChargeStatus(c.Status) {
		case provider.StatusOpen, provider.StatusPending:
			return setChargeStatus(ctx, tx, ref, provider.StatusCancelled)
		case provider.StatusSucceeded:
			return provider.ErrAlreadyPaid
		}
		return nil // failed or cancelled already: nothing to void
	})
}

// Refund refunds part of a paid charge, once per RefundID; more than what
// is left of the charge is refused.
func (a *Acquirer) Refund(ctx context.Context, req provider.RefundRequest) (provider.RefundResult, error) {
	ref, err := a.createOnce(ctx, "rf_", "refund", func(tx *sql.Tx, id string, now time.Time) (string, error) {
		if got, err := refundOf(ctx, tx, req.RefundID); err == nil {
			return got, nil
		} else if !store.IsNoRows(err) {
			return "", err
		}
		c, err := a.loadCharge(ctx, tx, req.ChargeRef)
		if err != nil {
			return "", err
		}
		if c.Status != string(provider.StatusSucceeded) || req.Amount <= 0 || c.Refunded+req.Amount > c.Amount || c.Dispute == "lost" {
			return "", fmt.Errorf("%w: charge %s is %s with %d of %d refunded", provider.ErrRefundRefused, c.ID, c.Status, c.Refunded, c.Amount)
		}
		if err := addChargeRefund(ctx, tx, c.ID, req.Amount); err != nil {
			return "", err
		}
		return id, insertRefund(ctx, tx, id, req.RefundID, c.ID, req.Amount, now)
	})
	if err != nil {
		return provider.RefundResult{}, err
	}
	return provider.RefundResult{Ref: ref}, nil
}

// webhookBody is the JSON of a sandbox webhook.
type webhookBody struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Created int64  `json:"created"`
	Data    struct {
		Charge    string `json:"charge"`
		PaymentID string `json:"payment_id"`
		Amount    int64  `json:"amount"`
		Currency  string `json:"currency"`
		Reason    string `json:"reason,omitempty"`
	} `json:"data"`
}

// maxWebhookBytes bounds a webhook body.
const maxWebhookBytes = 64 << 10

// ParseWebhook verifies the signature over the exact payload and decodes it.
func (a *Acquirer) ParseWebhook(payload []byte, signature string, now time.Time) (provider.Notification, error) {
	secrets := [][]byte{a.cfg.Secret}
	if len(a.cfg.PreviousSecret) > 0 {
		secrets = append(secrets, a.cfg.PreviousSecret)
	}
	if len(payload) > maxWebhookBytes {
		return provider.Notification{}, fmt.Errorf("%w: body larger than %d bytes", provider.ErrMalformed, maxWebhookBytes)
	}
	if _, err := provider.Verify(secrets, signature, payload, now, a.cfg.Tolerance); err != nil {
		return provider.Notification{}, err
	}
	return DecodeWebhook(payload)
}

// DecodeWebhook decodes a (verified) sandbox webhook body.
func DecodeWebhook(payload []byte) (provider.Notification, error) {
	var b webhookBody
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return provider.Notification{}, fmt.Errorf("%w: %v", provider.ErrMalformed, err)
	}
	switch provider.EventType(b.Type) {
	case provider.ChargePending, provider.ChargeSucceeded, provider.ChargeFailed,
		provider.DisputeOpened, provider.DisputeWon, provider.DisputeLost:
	default:
		return provider.Notification{}, fmt.Errorf("%w: unknown event type %q", provider.ErrMalformed, b.Type)
	}
	if b.ID == "" || b.Data.Charge == "" || b.Data.PaymentID == "" || len(b.ID) > 64 || len(b.Data.PaymentID) > 64 {
		return provider.Notification{}, fmt.Errorf("%w: id, data.charge and data.payment_id are required", provider.ErrMalformed)
	}
	return provider.Notification{
		ID: b.ID, Type: provider.EventType(b.Type), Created: time.Unix(b.Created, 0).UTC(),
		ChargeRef: b.Data.Charge, PaymentID: b.Data.PaymentID, Amount: b.Data.Amount, Currency: b.Data.Currency, Reason: b.Data.Reason,
	}, nil
}

// enqueueWebhook records a webhook about c inside tx; it is sent after the
// transaction commits (DeliverFor, or else DeliverDue).
func (a *Acquirer) enqueueWebhook(ctx context.Context, tx *sql.Tx, c charge, typ provider.EventType, reason string) (string, error) {
	id, err := store.NewIDFrom(a.cfg.Rand, "evt_")
	if err != nil {
		return "", err
	}
	now := a.now()
	var b webhookBody
	b.ID, b.Type, b.Created = id, string(typ), now.Unix()
	b.Data.Charge, b.Data.PaymentID, b.Data.Amount, b.Data.Currency, b.Data.Reason = c.ID, c.PaymentID, c.Amount, c.Currency, reason
	payload, err := json.Marshal(b)
	if err != nil {
		return "", err
	}
	return id, insertWebhook(ctx, tx, id, c.ID, payload, now)
}

// Webhook is a webhook the sandbox sent or will send.
type Webhook struct {
	ID      string
	Payload []byte
	// Delivered reports whether the enabler took it.
	Delivered bool
}

// Webhooks lists the webhooks about a charge in the order they were made,
// for tests and the dev console.
func (a *Acquirer) Webhooks(ctx context.Context, chargeRef string) ([]Webhook, error) {
	return webhooksOf(ctx, a.db, chargeRef)
}

// Sign signs payload at t with the sandbox secret, as a delivery does.
func (a *Acquirer) Sign(payload []byte, t time.Time) string {
	return provider.Sign(a.cfg.Secret, t, payload)
}

// DeliverDue is the sweep: it sends the webhooks that are due and that no
// request is sending (those that failed before, and those whose request
// did not send them within SweepAfter), and returns how many the enabler
// took. Run calls it in a loop.
func (a *Acquirer) DeliverDue(ctx context.Context) (int, error) {
	return a.deliver(ctx, sweepWebhooks, a.now().Add(-a.cfg.SweepAfter))
}

// DeliverFor sends the due webhooks of charge chargeRef and returns how
// many the enabler took. The checkout calls it right after a payment, so
// that the payer lands on the return URL with the payment already
// settled, without sending anyone else's webhooks; what it cannot send is
// left to the sweep.
func (a *Acquirer) DeliverFor(ctx context.Context, chargeRef string) (int, error) {
	return a.deliver(ctx, chargeWebhooks, chargeRef)
}

// deliver claims the due webhooks that mine (with arg) chooses and sends
// them in order. A webhook is claimed by one deliverer at a time, so two
// deliverers never send the same webhook at once; one that failed is
// claimable again after its back-off, one whose deliverer died after its
// lease.
func (a *Acquirer) deliver(ctx context.Context, mine string, arg any) (int, error) {
	token, err := store.NewIDFrom(a.cfg.Rand, "dl_")
	if err != nil {
		return 0, err
	}
	now := a.now()
	leaseEnd := now.Add(a.cfg.Lease)
	list, err := claimWebhooks(ctx, a.db, token, now, leaseEnd, mine, arg)
	if err != nil || len(list) == 0 {
		return 0, err
	}
	// Recording an outcome must survive the caller's cancellation (a payer
	// who closed the page): the webhook is out, or it has failed.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n := 0
	for _, d := range list {
		if ctx.Err() != nil || !a.cfg.Now().Before(leaseEnd) {
			break // the rest goes back, unsent
		}
		body := []byte(d.payload)
		err := a.cfg.Deliver(ctx, body, a.Sign(body, a.cfg.Now()))
		if err == nil {
			n++
			if err := markDelivered(mctx, a.db, d.id, a.now()); err != nil {
				return n, errors.Join(err, releaseWebhooks(mctx, a.db, token))
			}
			continue
		}
		a.log.Warn("sandbox: webhook not taken; will retry", "webhook_id", d.id, "attempt", d.attempts+1, "err", err)
		backoff := a.cfg.RetryInterval << min(d.attempts, 6)
		backoff = min(backoff, time.Minute)
		if err := retryWebhook(mctx, a.db, d.id, token, a.now().Add(backoff)); err != nil {
			return n, errors.Join(err, releaseWebhooks(mctx, a.db, token))
		}
	}
	return n, releaseWebhooks(mctx, a.db, token)
}

// Run redelivers webhooks at once, then every RetryInterval until ctx
// ends.
func (a *Acquirer) Run(ctx context.Context) error {
	deliver := func(ctx context.Context) {
		if _, err := a.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("sandbox: webhook delivery", "err", err)
		}
	}
	deliver(ctx)
	pause.Every(ctx, a.cfg.RetryInterval, deliver)
	return nil
}

// HTTPDeliverer posts webhooks to url with the signature in the
// Tamkeen-Signature header. 2xx, and 409 (the enabler already has it),
// count as delivered.
func HTTPDeliverer(client *http.Client, url string) Deliverer {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return func(ctx context.Context, payload []byte, signature string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(payload)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(provider.SignatureHeader, signature)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
			return nil
		}
		return fmt.Errorf("sandbox: webhook answered %s", resp.Status)
	}
}

// OpenDispute makes the cardholder dispute a paid charge (a sandbox
// control for tests and demos) and sends dispute.opened.
func (a *Acquirer) OpenDispute(ctx context.Context, ref, reason string) error {
	return a.setDispute(ctx, ref, "open", provider.DisputeOpened, reason)
}

// ResolveDispute decides an open dispute and sends dispute.won or
// dispute.lost.
func (a *Acquirer) ResolveDispute(ctx context.Context, ref string, won bool) error {
	if won {
		return a.setDispute(ctx, ref, "won", provider.DisputeWon, "")
	}
	return a.setDispute(ctx, ref, "lost", provider.DisputeLost, "")
}

// ErrNotDisputable is returned for a dispute change the charge's state
// does not allow.
var ErrNotDisputable = errors.New("sandbox: charge cannot take that dispute change")

func (a *Acquirer) setDispute(ctx context.Context, ref, to string, typ provider.EventType, reason string) error {
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		c, err := a.loadCharge(ctx, tx, ref)
		if err != nil {
			return err
		}
		if c.Status != string(provider.StatusSucceeded) || (to == "open") != (c.Dispute == "") {
			return fmt.Errorf("%w: %s is %s, dispute %q", ErrNotDisputable, ref, c.Status, c.Dispute)
		}
		if err := setChargeDispute(ctx, tx, ref, to, a.now()); err != nil {
			return err
		}
		_, err = a.enqueueWebhook(ctx, tx, c, typ, reason)
		return err
	})
	if err != nil {
		return err
	}
	_, err = a.DeliverFor(ctx, ref)
	return err
}

// SettlementReport lists the day's settled lines: charges paid, refunds
// made and disputes lost that day (UTC), in time order.
func (a *Acquirer) SettlementReport(ctx context.Context, day time.Time) ([]provider.SettlementLine, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	return settlementLines(ctx, a.db, from, to)
}
