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
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

// Status callbacks: every status change of a client's notification is
// POSTed as JSON to the client's callback URL (Config.Callbacks), signed
// so the client knows it comes from Tamkeen and is fresh:
//
//	Tamkeen-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// secret is CallbackSecret(client id), which the platform team hands to
// the ministry. To verify: split the header on ",", take t and v1,
// compute the HMAC over the decimal t, a ".", and the raw body bytes,
// compare in constant time, and refuse a t more than 5 minutes away from
// now (VerifyCallback does all of it). A delivery that does not get a 2xx
// answer is retried with back-off (RetryBase doubling, capped at an hour)
// up to callbackMaxAttempts times.

// CallbackSignatureHeader carries a callback's signature.
const CallbackSignatureHeader = "Tamkeen-Signature"

const (
	callbackMaxAttempts = 10
	callbackTolerance   = 5 * time.Minute
)

// CallbackBody is the JSON a status callback carries.
type CallbackBody struct {
	ID            string    `json:"id"`
	Reference     string    `json:"reference"`
	To            string    `json:"to"`
	Channel       string    `json:"notification_type"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failure_reason,omitempty"`
	Segments      int       `json:"segments,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// parseCallbacks reads "client=url" pairs.
func parseCallbacks(pairs []string) (map[string]string, error) {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		client, raw, ok := strings.Cut(p, "=")
		if !ok || client == "" {
			return nil, fmt.Errorf("%q is not client_id=url", p)
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("the callback URL of %s is not an http(s) URL", client)
		}
		out[client] = raw
	}
	return out, nil
}

// CallbackSecret is the secret clientID's callbacks are signed with,
// derived from Config.CallbackKey so that none has to be stored.
func (s *Service) CallbackSecret(clientID string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.CallbackKey))
	m.Write([]byte("tamkeen-callback-v1:" + clientID))
	return hex.EncodeToString(m.Sum(nil))
}

// SignCallback returns the Tamkeen-Signature value for body at t.
func SignCallback(secret string, t time.Time, body []byte) string {
	return SignatureHeader([]string{secret}, t, body)
}

// SignatureHeader is the one recipe of every signature Tamkeen puts on
// what it POSTs to a ministry (status callbacks, webhooks):
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>", with one
// v1 per secret (two while a rotated-out webhook secret still signs).
func SignatureHeader(secrets []string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, secret := range secrets {
		b.WriteString(",v1=" + signature(secret, ts, body))
	}
	return b.String()
}

// signature is the hex HMAC-SHA256 of "<ts>.<body>" under secret.
func signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned for a callback or receipt whose signature
// does not verify or is stale.
var ErrBadSignature = errors.New("notification: bad or stale signature")

// VerifyCallback checks a Tamkeen-Signature header against body with the
// client's secret, allowing tolerance (0 means 5 minutes) of clock skew.
// Any one of the header's v1 values may match (a webhook carries one per
// live secret).
func VerifyCallback(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance == 0 {
		tolerance = callbackTolerance
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := []byte(signature(secret, ts, body))
	for _, sig := range sigs {
		if hmac.Equal(want, []byte(sig)) {
			return nil
		}
	}
	return ErrBadSignature
}

// enqueueCallback writes n's status callback, in the transaction of the
// status change, when its client has a callback URL.
func (s *Service) enqueueCallback(ctx context.Context, tx *sql.Tx, n Notification) error {
	// The client's webhook endpoints that want this status get it too.
	if err := s.enqueueStatusWebhook(ctx, tx, n); err != nil {
		return fmt.Errorf("enqueue webhook for %s: %w", n.ID, err)
	}
	u, ok := s.callbacks[n.ClientID]
	if !ok {
		return nil
	}
	body, err := json.Marshal(CallbackBody{
		ID: n.ID, Reference: n.Reference, To: n.Recipient, Channel: n.Channel, Status: n.Status,
		FailureReason: n.FailureReason, Segments: n.Segments, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	})
	if err != nil {
		return err
	}
	id, err := store.NewIDFrom(s.Rand, "cbk_")
	if err != nil {
		return err
	}
	if err := insertCallback(ctx, tx, id, n, u, body); err != nil {
		return fmt.Errorf("enqueue callback for %s: %w", n.ID, err)
	}
	return nil
}

// runCallbacks delivers due callbacks until ctx ends.
func (s *Service) runCallbacks(ctx context.Context) {
	if len(s.callbacks) == 0 {
		return
	}
	s.runDeliveries(ctx, s.callbackQueue())
}

// callbackQueue is the status callbacks' outbound queue: each signed with
// its client's CallbackSecret, retried with callbackBackoff up to
// callbackMaxAttempts times, and a failed attempt is logged.
func (s *Service) callbackQueue() outbound {
	return outbound{
		name: "callbacks", table: "callbacks", hc: s.http, userAgent: "Tamkeen-Notification/1",
		due: func(ctx context.Context, now time.Time) ([]dueDelivery, error) {
			list, err := dueCallbacks(ctx, s.DB, now)
			for i := range list {
				list[i].secrets = []string{s.CallbackSecret(list[i].client)}
			}
			return list, err
		},
		retry: func(n int) (time.Duration, bool) { return s.callbackBackoff(n), n < callbackMaxAttempts },
		record: func(_ context.Context, d dueDelivery, _ int, a WebhookAttempt) error {
			switch {
			case a.Error != "":
				s.Logger.Info("notification: callback not delivered", slog.String("client_id", d.client), slog.String("err", a.Error))
			case a.StatusCode < 200 || a.StatusCode > 299:
				s.Logger.Info("notification: callback refused", slog.String("client_id", d.client), slog.Int("status", a.StatusCode))
			}
			return nil
		},
	}
}

// callbackBackoff is the wait after the given failed attempt.
func (s *Service) callbackBackoff(attempts int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempts && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
