package notification

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
)

// Outbound webhooks (issue 17 item 4; docs/guides/webhooks.md): a ministry
// client registers endpoints, each an https URL and the event types it
// wants, and gets each endpoint's signing secret once. When one of those
// events happens to the client's payments or messages, a delivery is
// written in the same transaction that handles the event (the payment
// events through ProcessOnce, the message statuses in the status change's
// own transaction), and a worker POSTs it:
//
//	POST <url>
//	Content-Type: application/json
//	Tamkeen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>[,v1=…]
//
//	{"id": "evt_…", "type": "payment.succeeded", "created": "…", "data": {…}}
//
// the same recipe as status callbacks (SignatureHeader), with one v1 per
// live secret: during the 24 hours after a rotation both the new and the
// previous secret sign. A delivery not answered with a 2xx is tried again
// after each wait of WebhookConfig.Backoff (1 min, 5 min, 1 h, 6 h, 1 day),
// then marked failed; every attempt is logged. id is the event's, the same
// in every attempt and replay, for the receiver to de-duplicate by.

// Webhook event types a client can subscribe an endpoint to.
const (
	WebhookPaymentSucceeded = "payment.succeeded"
	WebhookPaymentFailed    = "payment.failed"
	WebhookPaymentExpired   = "payment.expired"
	WebhookPaymentRefunded  = "payment.refunded"
	WebhookPaymentDisputed  = "payment.disputed"
	// WebhookCollectionSettled and WebhookCollectionFailed: how a
	// direct-debit collection ended (debits.go).
	WebhookCollectionSettled = "collection.settled"
	WebhookCollectionFailed  = "collection.failed"
)

// WebhookEventTypes lists every event type an endpoint can receive.
func WebhookEventTypes() []string {
	return []string{
		WebhookPaymentSucceeded, WebhookPaymentFailed, WebhookPaymentExpired, WebhookPaymentRefunded, WebhookPaymentDisputed,
		WebhookCollectionSettled, WebhookCollectionFailed,
		"notification." + StatusDelivered, "notification." + StatusPermanentFailure,
		"notification." + StatusTemporaryFailure, "notification." + StatusTechnicalFailure,
	}
}

// WebhookConfig tunes outbound webhooks.
type WebhookConfig struct {
	// Backoff are the waits after each failed attempt, as durations
	// ("1m", "6h"); after the last one the next failure marks the delivery
	// failed.
	Backoff []string `flag:"backoff" default:"1m,5m,1h,6h,24h" usage:"waits between a webhook delivery's attempts (after the last, it fails)"`
}

// backoff is Backoff parsed; validate has checked it.
func (c WebhookConfig) backoff() []time.Duration {
	out := make([]time.Duration, 0, len(c.Backoff))
	for _, raw := range c.Backoff {
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err == nil {
			out = append(out, d)
		}
	}
	return out
}

func (c WebhookConfig) validate(p *config.Problems) {
	if len(c.Backoff) == 0 || len(c.Backoff) > 20 {
		p.Addf("webhook-backoff", "needs 1 to 20 waits, got %d", len(c.Backoff))
	}
	for _, raw := range c.Backoff {
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil || d < time.Millisecond || d > 7*24*time.Hour {
			p.Addf("webhook-backoff", "%q is not a duration in 1ms..168h", raw)
		}
	}
}

const (
	// webhookSecretOverlap is how long a rotated-out secret still signs.
	webhookSecretOverlap = 24 * time.Hour
	// maxWebhookEndpoints bounds one client's endpoints.
	maxWebhookEndpoints = 16
	// webhooksConsumer is the durable consumer of payment events that
	// become webhook deliveries.
	webhooksConsumer = "notification-webhooks"
)

// WebhookEndpoint is one of a client's webhook endpoints. Secret is set
// only when it is new (create, rotate).
type WebhookEndpoint struct {
	ID, ClientID, URL string
	Events            []string
	Secret            string
	CreatedAt         time.Time
	// RotatedAt is the last rotation; PreviousExpiresAt is when the
	// previous secret stops signing. Both are zero before any rotation.
	RotatedAt, PreviousExpiresAt time.Time
}

// webhookEndpointRow is an endpoint as stored: its secrets' salts.
type webhookEndpointRow struct {
	WebhookEndpoint
	salt, previousSalt string
}

// WebhookDelivery is one event on its way to one endpoint.
type WebhookDelivery struct {
	ID, EndpointID, EventID, EventType, State, ReplayOf string
	AttemptCount                                        int
	NextAt, CreatedAt                                   time.Time
	Attempts                                            []WebhookAttempt
	body                                                string
}

// WebhookAttempt is one POST of a delivery.
type WebhookAttempt struct {
	Time       time.Time
	StatusCode int
	Error      string
}

// WebhookBody is the JSON every delivery carries.
type WebhookBody struct {
	// ID is the event's id: the receiver's de-duplication key.
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created time.Time       `json:"created"`
	Data    json.RawMessage `json:"data"`
}

// errWebhooksOff answers the API when the service has no key to derive
// signing secrets from.
var errWebhooksOff = fmt.Errorf("webhooks are not enabled on this platform (the notification service has no --callback-key): %w", rpcerr.ErrFailedPrecondition)

// webhookSecret derives an endpoint's signing secret from the service's
// callback key, the endpoint id and a salt, so that no secret is stored:
// the database alone does not let anyone sign.
func (s *Service) webhookSecret(endpoint, salt string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.CallbackKey))
	m.Write([]byte("tamkeen-webhook-v1:" + endpoint + ":" + salt))
	return "whsec_" + hex.EncodeToString(m.Sum(nil))
}

// newSalt is 16 random bytes in hex.
func (s *Service) newSalt() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// checkWebhookURL refuses what is not https (plain http to a loopback
// address only in dev mode).
func (s *Service) checkWebhookURL(raw string) error {
	bad := func(what, reason string, vals ...string) error {
		return &rpcerr.FieldError{Field: "url", Reason: reason, Code: "url." + what, Args: rpcerr.ArgList(vals...)}
	}
	if raw == "" {
		return bad("required", "required")
	}
	if len(raw) > 2048 {
		return bad("too_long", "longer than 2048 characters", "2048")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("not_absolute", "not an absolute URL")
	}
	if u.User != nil {
		return bad("userinfo", "must not carry a user name or password")
	}
	if u.Fragment != "" {
		return bad("fragment", "must not carry a fragment")
	}
	if !s.cfg.DevMode {
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && !publicIP(ip)) {
			return bad("not_public", "must name a public address")
		}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if s.cfg.DevMode && isLoopbackHost(u.Hostname()) {
			return nil
		}
		return bad("insecure", "must be https (plain http only to a loopback address in dev mode)")
	}
	return bad("insecure", "must be https")
}

// errInternalAddress refuses a webhook connection to a non-public address.
var errInternalAddress = errors.New("the address is not public")

// webhookClient is the HTTP client of webhook deliveries: hc when the host
// gave one (tests, embedding), else one with a 10-second timeout that, out
// of dev mode, refuses to connect to loopback, private, link-local and
// unspecified addresses, checked on the address actually dialled (after
// DNS), so that a ministry's URL cannot make Tamkeen call the platform's
// own network.
func webhookClient(hc *http.Client, devMode bool) *http.Client {
	if hc != nil {
		return hc
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !devMode {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			if ip := net.ParseIP(host); ip == nil || !publicIP(ip) {
				return fmt.Errorf("webhook to %s: %w", host, errInternalAddress)
			}
			return nil
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil
	return &http.Client{Timeout: 10 * time.Second, Transport: tr,
		// A redirect is not followed: the receiver is the URL registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// publicIP reports whether ip is a routable public address.
func publicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// checkWebhookEvents returns events without duplicates, or a field error.
func checkWebhookEvents(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, &rpcerr.FieldError{Field: "events", Reason: "name at least one event type", Code: "events.required"}
	}
	known := WebhookEventTypes()
	var out []string
	for i, e := range in {
		if !slices.Contains(known, e) {
			return nil, &rpcerr.FieldError{Field: fmt.Sprintf("events[%d]", i), Reason: "not one of " + strings.Join(known, ", "), Code: "events.unknown"}
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// CreateWebhookEndpoint registers an endpoint of client and returns it
// with its secret, which is shown this once.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, client, rawURL string, evs []string) (WebhookEndpoint, error) {
	if s.cfg.CallbackKey == "" {
		return WebhookEndpoint{}, errWebhooksOff
	}
	if err := s.checkWebhookURL(rawURL); err != nil {
		return WebhookEndpoint{}, err
	}
	evs, err := checkWebhookEvents(evs)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "whe_")
	if err != nil {
		return WebhookEndpoint{}, err
	}
	salt, err := s.newSalt()
	if err != nil {
		return WebhookEndpoint{}, err
	}
	row := webhookEndpointRow{WebhookEndpoint: WebhookEndpoint{ID: id, ClientID: client, URL: rawURL, Events: evs, CreatedAt: s.nowUTC()}, salt: salt}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		have, err := listEndpoints(ctx, tx, client)
		if err != nil {
			return err
		}
		if len(have) >= maxWebhookEndpoints {
			return fmt.Errorf("a client has at most %d webhook endpoints: %w", maxWebhookEndpoints, rpcerr.ErrFailedPrecondition)
		}
		return insertEndpoint(ctx, tx, row)
	})
	if err != nil {
		return WebhookEndpoint{}, err
	}
	out := row.WebhookEndpoint
	out.Secret = s.webhookSecret(id, salt)
	return out, nil
}

// ListWebhookEndpoints lists client's endpoints, without secrets.
func (s *Service) ListWebhookEndpoints(ctx context.Context, client string) ([]WebhookEndpoint, error) {
	rows, err := listEndpoints(ctx, s.DB, client)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookEndpoint, len(rows))
	for i, r := range rows {
		out[i] = r.WebhookEndpoint
	}
	return out, nil
}

// GetWebhookEndpoint returns client's endpoint id, without its secret.
func (s *Service) GetWebhookEndpoint(ctx context.Context, client, id string) (WebhookEndpoint, error) {
	e, err := getEndpoint(ctx, s.DB, client, id)
	return e.WebhookEndpoint, err
}

// DeleteWebhookEndpoint deletes client's endpoint id and its deliveries.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, client, id string) error {
	var found bool
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		found, err = deleteEndpoint(ctx, tx, client, id)
		return err
	})
	if err == nil && !found {
		err = fmt.Errorf("webhook endpoint %q: %w", id, rpcerr.ErrNotFound)
	}
	return err
}

// RotateWebhookSecret gives client's endpoint id a new secret, returned
// this once; the current one keeps signing beside it for 24 hours (one
// before it, if any, stops now).
func (s *Service) RotateWebhookSecret(ctx context.Context, client, id string) (WebhookEndpoint, error) {
	if s.cfg.CallbackKey == "" {
		return WebhookEndpoint{}, errWebhooksOff
	}
	e, err := getEndpoint(ctx, s.DB, client, id)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	salt, err := s.newSalt()
	if err != nil {
		return WebhookEndpoint{}, err
	}
	now := s.nowUTC()
	ok, err := rotateEndpoint(ctx, s.DB, e, salt, now, now.Add(webhookSecretOverlap))
	if err != nil {
		return WebhookEndpoint{}, err
	}
	if !ok {
		return WebhookEndpoint{}, fmt.Errorf("webhook endpoint %q was rotated concurrently: %w", id, rpcerr.ErrConflict)
	}
	out := e.WebhookEndpoint
	out.RotatedAt, out.PreviousExpiresAt = now, now.Add(webhookSecretOverlap)
	out.Secret = s.webhookSecret(id, salt)
	return out, nil
}

// ListWebhookDeliveries pages through the log of client's endpoint,
// newest first, with each delivery's attempts.
func (s *Service) ListWebhookDeliveries(ctx context.Context, client, endpoint string, pageSize int, pageToken string) ([]WebhookDelivery, string, error) {
	if _, err := getEndpoint(ctx, s.DB, client, endpoint); err != nil {
		return nil, "", err
	}
	size := pageSize
	if size <= 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	afterTime, afterID := time.Now().UTC().Add(100*365*24*time.Hour), "~"
	if pageToken != "" {
		t, id, ok := store.ParseKeysetToken(pageToken)
		if !ok {
			return nil, "", &rpcerr.FieldError{Field: "page_token", Reason: "not a token this API gave", Code: "page_token.unknown"}
		}
		afterTime, afterID = t.UTC(), id
	}
	out, err := listDeliveries(ctx, s.DB, endpoint, afterTime, afterID, size+1)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, size, func(d WebhookDelivery) string { return store.KeysetToken(d.CreatedAt.UTC(), d.ID) })
	for i := range out {
		if out[i].Attempts, err = listAttempts(ctx, s.DB, out[i].ID); err != nil {
			return nil, "", err
		}
	}
	return out, next, nil
}

// ReplayWebhookDelivery queues delivery id of client's endpoint again, as
// a new delivery of the same event (same body, same event id) that
// follows the usual back-off.
func (s *Service) ReplayWebhookDelivery(ctx context.Context, client, endpoint, id string) (WebhookDelivery, error) {
	d, err := getDelivery(ctx, s.DB, client, endpoint, id)
	if err != nil {
		return WebhookDelivery{}, err
	}
	nid, err := store.NewIDFrom(s.Rand, "whd_")
	if err != nil {
		return WebhookDelivery{}, err
	}
	replay := WebhookDelivery{ID: nid, EndpointID: endpoint, EventID: d.EventID, EventType: d.EventType, State: deliveryPending,
		ReplayOf: d.ID, NextAt: s.nowUTC(), CreatedAt: s.nowUTC(), body: d.body}
	if err := insertDelivery(ctx, s.DB, replay); err != nil {
		return WebhookDelivery{}, fmt.Errorf("notification: replay %s: %w", id, err)
	}
	return replay, nil
}

// enqueueWebhook writes, inside tx, a delivery of event (id, typ, data)
// to each of client's endpoints that want typ.
func (s *Service) enqueueWebhook(ctx context.Context, tx *sql.Tx, client, eventID, typ string, created time.Time, data any) error {
	eps, err := listEndpoints(ctx, tx, client)
	if err != nil {
		return err
	}
	eps = slices.DeleteFunc(eps, func(e webhookEndpointRow) bool { return !slices.Contains(e.Events, typ) })
	if len(eps) == 0 {
		return nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	body, err := json.Marshal(WebhookBody{ID: eventID, Type: typ, Created: created.UTC(), Data: raw})
	if err != nil {
		return err
	}
	now := s.nowUTC()
	for _, e := range eps {
		id, err := store.NewIDFrom(s.Rand, "whd_")
		if err != nil {
			return err
		}
		if err := insertDelivery(ctx, tx, WebhookDelivery{ID: id, EndpointID: e.ID, EventID: eventID, EventType: typ,
			NextAt: now, CreatedAt: now, body: string(body)}); err != nil {
			return fmt.Errorf("enqueue webhook %s for %s: %w", typ, e.ID, err)
		}
	}
	return nil
}

// NotificationWebhookData is the data of a notification.<status> event.
type NotificationWebhookData struct {
	ID            string    `json:"id"`
	Reference     string    `json:"reference"`
	Channel       string    `json:"notification_type"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failure_reason,omitempty"`
	Segments      int       `json:"segments,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// enqueueStatusWebhook writes n's new status to its client's endpoints
// that want it, in the status change's transaction. The recipient stays
// out: a webhook goes to a URL the client chose, and the client knows
// whom it wrote to by the id and reference.
func (s *Service) enqueueStatusWebhook(ctx context.Context, tx *sql.Tx, n Notification) error {
	typ := "notification." + n.Status
	if !slices.Contains(WebhookEventTypes(), typ) {
		return nil
	}
	id, err := store.NewIDFrom(s.Rand, events.IDPrefix)
	if err != nil {
		return err
	}
	return s.enqueueWebhook(ctx, tx, n.ClientID, id, typ, n.UpdatedAt, NotificationWebhookData{
		ID: n.ID, Reference: n.Reference, Channel: n.Channel, Status: n.Status, FailureReason: n.FailureReason,
		Segments: n.Segments, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	})
}

// PaymentWebhookData is the data of a payment.* event.
type PaymentWebhookData struct {
	PaymentID string `json:"payment_id"`
	Reference string `json:"reference"`
	// Amount is in minor units, as a string (as the API writes int64s).
	Amount   string `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// State is the payment's state after the event (payment.disputed:
	// disputed, won or lost).
	State string `json:"state,omitempty"`
	// Reason says why a payment failed.
	Reason string `json:"reason,omitempty"`
	// RefundID and RefundAmount describe a payment.refunded.
	RefundID     string    `json:"refund_id,omitempty"`
	RefundAmount string    `json:"refund_amount,omitempty"`
	Time         time.Time `json:"time"`
}

// paymentSubjects are the payment enabler's subjects the webhooks
// consume, by the webhook event type they become.
var paymentSubjects = map[string]string{
	"tamkeen.payment.succeeded": WebhookPaymentSucceeded,
	"tamkeen.payment.failed":    WebhookPaymentFailed,
	"tamkeen.payment.expired":   WebhookPaymentExpired,
	"tamkeen.payment.refunded":  WebhookPaymentRefunded,
	"tamkeen.payment.disputed":  WebhookPaymentDisputed,
}

// runPaymentWebhooks consumes the payment events until ctx ends; until the
// payment enabler has declared its stream, it waits.
func (s *Service) runPaymentWebhooks(ctx context.Context) {
	subjects := make([]string, 0, len(paymentSubjects))
	for sub := range paymentSubjects {
		subjects = append(subjects, sub)
	}
	slices.Sort(subjects)
	// It returns (nil) only when ctx ends.
	_ = s.Bus.ConsumeWhenReady(ctx, events.ConsumerConfig{Stream: paymentStream, Durable: webhooksConsumer, FilterSubjects: subjects},
		s.handlePaymentWebhook, s.Logger)
}

// paymentWebhook reads a payment event: its webhook type, the client
// (empty when the event does not carry it) and the data.
func paymentWebhook(ev events.Event) (typ, client string, data PaymentWebhookData, err error) {
	// ev.Type is tamkeen.payment.<event>.v1.
	name := strings.TrimSuffix(strings.TrimPrefix(ev.Type, "tamkeen.payment."), ".v1")
	typ = "payment." + name
	switch typ {
	case WebhookPaymentSucceeded:
		var m eventsv1.PaymentSucceeded
		err = ev.UnmarshalData(&m)
		client = m.GetClientId()
		data = PaymentWebhookData{PaymentID: m.GetPaymentId(), Reference: m.GetReference(), Amount: fmt.Sprint(m.GetAmount()),
			Currency: m.GetCurrency(), State: "succeeded", Time: m.GetTime().AsTime()}
	case WebhookPaymentFailed, WebhookPaymentExpired:
		var m eventsv1.PaymentFailed
		err = ev.UnmarshalData(&m)
		client = m.GetClientId()
		data = PaymentWebhookData{PaymentID: m.GetPaymentId(), Reference: m.GetReference(), State: name, Reason: m.GetReason(), Time: m.GetTime().AsTime()}
	case WebhookPaymentRefunded:
		var m eventsv1.PaymentRefunded
		err = ev.UnmarshalData(&m)
		client = m.GetClientId()
		data = PaymentWebhookData{PaymentID: m.GetPaymentId(), Reference: m.GetReference(), Currency: m.GetCurrency(),
			RefundID: m.GetRefundId(), RefundAmount: fmt.Sprint(m.GetAmount()), State: "refunded", Time: m.GetTime().AsTime()}
	case WebhookPaymentDisputed:
		var m paymentv1.Payment
		err = ev.UnmarshalData(&m)
		data = PaymentWebhookData{PaymentID: m.GetId(), Reference: m.GetReference(), Amount: fmt.Sprint(m.GetAmount()),
			Currency: m.GetCurrency(), State: m.GetState(), Time: m.GetUpdateTime().AsTime()}
	default:
		err = fmt.Errorf("notification: no webhook for event type %q", ev.Type)
	}
	if err == nil && data.PaymentID == "" {
		err = fmt.Errorf("notification: %s event %s names no payment", typ, ev.ID)
	}
	return typ, client, data, err
}

// handlePaymentWebhook turns one payment event into deliveries to its
// client's endpoints, once: the deliveries are written in the transaction
// that records the event as processed.
func (s *Service) handlePaymentWebhook(ctx context.Context, ev events.Event) error {
	typ, client, data, err := paymentWebhook(ev)
	if err != nil {
		return events.Permanent(err)
	}
	_, err = events.ProcessOnce(ctx, s.DB, webhooksConsumer, ev.ID, func(tx *sql.Tx) error {
		if client != "" {
			if err := rememberPayment(ctx, tx, data.PaymentID, client); err != nil {
				return err
			}
		} else if client, err = paymentClient(ctx, tx, data.PaymentID); err != nil || client == "" {
			// A payment this service never saw succeed or fail has no
			// known owner: nobody is told rather than the wrong client.
			return err
		}
		return s.enqueueWebhook(ctx, tx, client, ev.ID, typ, ev.Time, data)
	})
	if err != nil {
		return fmt.Errorf("notification: webhook for %s: %w", ev.ID, err)
	}
	return nil
}

// runWebhooks delivers due webhooks until ctx ends.
func (s *Service) runWebhooks(ctx context.Context) {
	s.runDeliveries(ctx, s.webhookQueue())
}

// webhookQueue is the webhooks' outbound queue: each delivery signed with
// its endpoint's live secrets, retried after each wait of s.backoff, and
// every attempt kept in the delivery's log.
func (s *Service) webhookQueue() outbound {
	return outbound{
		name: "webhooks", table: "webhook_deliveries", hc: s.webhookHTTP, userAgent: "Tamkeen-Webhooks/1",
		due: func(ctx context.Context, now time.Time) ([]dueDelivery, error) {
			list, err := dueWebhooks(ctx, s.DB, now)
			out := make([]dueDelivery, len(list))
			for i, d := range list {
				out[i] = d.dueDelivery
				out[i].secrets = []string{s.webhookSecret(d.endpoint, d.salt)}
				if d.previousSalt != "" && now.Before(d.previousExpires) {
					out[i].secrets = append(out[i].secrets, s.webhookSecret(d.endpoint, d.previousSalt))
				}
			}
			return out, err
		},
		retry: func(n int) (time.Duration, bool) {
			if n > len(s.backoff) {
				return 0, false
			}
			return s.backoff[n-1], true
		},
		record: func(ctx context.Context, d dueDelivery, n int, a WebhookAttempt) error {
			return insertAttempt(ctx, s.DB, d.id, n, a)
		},
	}
}
