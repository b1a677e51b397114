package notification

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/tamkeen/tamkeen/libs/pause"
)

// Outbound deliveries: status callbacks (callbacks.go) and webhooks
// (webhooks.go) are two queues of signed JSON POSTs, each a table of rows
// with an id, a state, the attempts so far and the time of the next one.
// One loop delivers the rows that are due: it claims each row (another
// replica that read the same row loses), POSTs it signed with the row's
// secrets, and records the outcome: delivered on a 2xx answer, else
// pending until the queue's retry schedule has no more waits, then
// failed. What differs between the queues is a value of outbound.

// Delivery states, of status callbacks and webhook deliveries alike.
const (
	deliveryPending   = "pending"
	deliveryDelivered = "delivered"
	deliveryFailed    = "failed"
)

const (
	// deliveryPoll is how often callbacks and webhooks that are due are
	// looked for.
	deliveryPoll = 100 * time.Millisecond
	// deliveryBatch is how many due rows one round reads.
	deliveryBatch = 20
	// deliveryLease is how long a claimed row is kept from other
	// replicas: a POST times out after 10 seconds.
	deliveryLease = time.Minute
	// deliveryBodyLimit is how much of a receiver's answer is read.
	deliveryBodyLimit = 4 << 10
)

// dueDelivery is a pending row whose time has come, with what posting it
// needs.
type dueDelivery struct {
	id, url, body string
	attempts      int
	// client owns the row; secrets sign the POST, one v1 each.
	client  string
	secrets []string
}

// outbound is one queue of deliveries: where its rows are, how they are
// posted and retried, and what an attempt leaves behind.
type outbound struct {
	// name is the queue's, in the loop's warnings.
	name string
	// table holds the rows (id, state, attempts, next_at).
	table string
	// due reads a batch of the rows due at now.
	due func(ctx context.Context, now time.Time) ([]dueDelivery, error)
	// hc and userAgent post the rows.
	hc        *http.Client
	userAgent string
	// retry is the wait after failed attempt n; false when there is
	// none, and the row has failed.
	retry func(n int) (time.Duration, bool)
	// record keeps attempt n of d, before the row's state is updated.
	record func(ctx context.Context, d dueDelivery, n int, a WebhookAttempt) error
}

// runDeliveries delivers o's due rows until ctx ends.
func (s *Service) runDeliveries(ctx context.Context, o outbound) {
	pause.Every(ctx, deliveryPoll, func(ctx context.Context) {
		if _, err := s.deliverDue(ctx, o); err != nil && ctx.Err() == nil {
			s.Logger.Warn("notification: "+o.name, slog.String("err", err.Error()))
		}
	})
}

// deliverDue POSTs o's rows that are due and returns how many the
// receivers took.
func (s *Service) deliverDue(ctx context.Context, o outbound) (int, error) {
	now := s.nowUTC()
	list, err := o.due(ctx, now)
	if err != nil {
		return 0, err
	}
	delivered := 0
	for _, d := range list {
		// Claim it: another replica that read the same row loses here.
		// The lease runs from now, not from the batch's start: posts
		// before this one may have taken their 10 s each.
		claimed, err := claimDelivery(ctx, s.DB, o.table, d, now, s.nowUTC().Add(deliveryLease))
		if err != nil {
			return delivered, err
		}
		if !claimed {
			continue
		}
		a := s.postDelivery(ctx, o, d)
		n := d.attempts + 1
		state, next := deliveryPending, a.Time
		switch wait, again := o.retry(n); {
		case a.StatusCode >= 200 && a.StatusCode <= 299:
			state = deliveryDelivered
			delivered++
		case !again:
			state = deliveryFailed
		default:
			next = a.Time.Add(wait)
		}
		if err := o.record(ctx, d, n, a); err != nil {
			return delivered, err
		}
		if err := settleDelivery(ctx, s.DB, o.table, d.id, state, n, next); err != nil {
			return delivered, err
		}
	}
	return delivered, nil
}

// postDelivery sends d once and returns the attempt's outcome.
func (s *Service) postDelivery(ctx context.Context, o outbound, d dueDelivery) WebhookAttempt {
	a := WebhookAttempt{Time: s.nowUTC()}
	body := []byte(d.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", o.userAgent)
	req.Header.Set(CallbackSignatureHeader, SignatureHeader(d.secrets, s.Now(), body))
	resp, err := o.hc.Do(req)
	if err != nil {
		// The error names the URL the client chose and why it failed;
		// nothing of the body (no personal data) is in it.
		a.Error = err.Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, deliveryBodyLimit))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	return a
}
