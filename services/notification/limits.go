package notification

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/store"
)

// LimitError says which limit a request ran into and when to try again;
// the gRPC adapter answers it with RESOURCE_EXHAUSTED (HTTP 429) and
// Retry-After.
type LimitError struct {
	// Limit names the limit: "recipient-hourly", "client-minute" or
	// "client-daily".
	Limit string
	// RetryAfter is when the window has room again.
	RetryAfter time.Duration
}

// Error names the limit, never the recipient.
func (e *LimitError) Error() string {
	switch e.Limit {
	case limitRecipientHourly:
		return "too many messages to this recipient in the last hour"
	case limitClientMinute:
		return "too many messages from this client in the last minute"
	default:
		return "this client's daily message limit is reached"
	}
}

// CallingCode returns the country calling code of an E.164 number
// ("+970599…" → "970"), or "" when number is not E.164 (libs/phone).
func CallingCode(number string) string { return phone.CallingCode(number) }

// The limits, by the name a LimitError gives them, which is also the scope
// of their counters in limit_counters.
const (
	limitRecipientHourly = "recipient-hourly"
	limitClientMinute    = "client-minute"
	limitClientDaily     = "client-daily"
)

// counter is what one message, or one bulk job, does to one limit's
// counter: the limit (scope, key, max), the window a message opens when
// the counter's last one has closed, how much it adds and whether going
// over refuses it.
//
// A window is [window_start, window_start+width). The daily one is the
// UTC day (start at midnight); the minute and hour windows open with the
// first message after the previous window closed (start = now), so a
// window is the minute or hour that follows a client's or a recipient's
// first message, and Retry-After is when it closes.
type counter struct {
	scope, key string
	max        int
	start      time.Time
	width      time.Duration
	// add is how many messages the send adds (0: it is checked against
	// the limit without counting toward it).
	add int
	// check refuses the send when it would take the count over max.
	check bool
}

// closed reports whether a window that started at ws is closed for a
// message that would open a new one at c.start.
func (c counter) closed(ws time.Time) bool { return !ws.After(c.start.Add(-c.width)) }

// refusal is the LimitError of c for a window that started at ws.
func (c counter) refusal(ws time.Time, now time.Time) *LimitError {
	return &LimitError{Limit: c.scope, RetryAfter: retryAfter(ws.Add(c.width).Sub(now))}
}

// counters lists the limit counters that msgs, all of client, touch, in
// the order they are checked, as before the counters (recipient-hourly,
// client-minute, client-daily, so a send over several limits names the
// same one), which is also the order their rows are locked in: recipients
// sorted, then the client's minute, then its day. Every transaction takes
// its rows in that one order, so two never wait on each other in a cycle.
// check says whether the send is refused over its limits: single sends
// are checked against all three (the minute one even for priority "bulk",
// which does not count toward it), bulk jobs against the daily one;
// receipts are counted but never refused.
//
// What counts toward what is what the notifications table's counts
// counted before the counters: client-daily every message of the client
// the API or a payment receipt queued; client-minute the client's
// normal-lane messages; recipient-hourly every non-OTP SMS to the number,
// bulk ones included. OTP commands (from the auth enabler, which limits
// its own codes) count toward none.
func (s *Service) counters(client string, msgs []Notification, check checkMode) []counter {
	now := s.nowUTC()
	var (
		out     []counter
		normal  int
		perRcpt = map[string]int{}
	)
	for _, n := range msgs {
		if n.Lane == LaneNormal {
			normal++
		}
		if n.Channel == ChannelSMS && n.Lane != LaneOTP {
			perRcpt[n.Recipient]++
		}
	}
	if s.cfg.RecipientHourlyLimit > 0 {
		rcpts := make([]string, 0, len(perRcpt))
		for r := range perRcpt {
			rcpts = append(rcpts, r)
		}
		slices.Sort(rcpts)
		for _, r := range rcpts {
			out = append(out, counter{scope: limitRecipientHourly, key: r, max: s.cfg.RecipientHourlyLimit,
				start: now, width: limitWidths[limitRecipientHourly], add: perRcpt[r], check: check == checkSend})
		}
	}
	if s.cfg.ClientMinuteLimit > 0 && (normal > 0 || check == checkSend) {
		out = append(out, counter{scope: limitClientMinute, key: client, max: s.cfg.ClientMinuteLimit,
			start: now, width: limitWidths[limitClientMinute], add: normal, check: check == checkSend})
	}
	if s.cfg.ClientDailyLimit > 0 {
		out = append(out, counter{scope: limitClientDaily, key: client, max: s.cfg.ClientDailyLimit,
			start: now.Truncate(24 * time.Hour), width: limitWidths[limitClientDaily], add: len(msgs), check: check != checkNone})
	}
	return out
}

// checkMode says which limits refuse a send (see counters).
type checkMode int

const (
	checkNone checkMode = iota
	checkSend
	checkBulk
)

// checkLimits refuses early, before anything is written, a send of msgs
// (all of client) that would go over a configured limit: one read of one
// counter row by its primary key per limit, however many messages the day
// holds. It is only the cheap refusal of a send that is clearly over
// (an OTP-pumping burst should not take the write lock): the answer that
// counts is countLimits's, inside the send's transaction.
func (s *Service) checkLimits(ctx context.Context, q store.Querier, client string, msgs []Notification, check checkMode) error {
	now := s.nowUTC()
	for _, c := range s.counters(client, msgs, check) {
		if !c.check {
			continue
		}
		n, ws, found, err := readLimitCounter(ctx, q, c.scope, c.key)
		if err != nil {
			return fmt.Errorf("notification: %s limit: %w", c.scope, err)
		}
		if found && !c.closed(ws) && n+max(c.add, 1) > c.max {
			return c.refusal(ws, now)
		}
	}
	return nil
}

// countLimits adds msgs (all of client, just queued in tx) to the counters
// of the limits they count toward and, for the limits check names, refuses
// them with a *LimitError when that takes a count over its maximum; the
// caller then rolls tx back, and with it the increment. Each increment
// is one upsert of one row by its primary key, which holds the row's lock
// until tx ends: two racing sends are counted one after the other, so a
// limit of N lets exactly N through. It runs last in the transaction so
// that the lock is held for little more than the commit.
func (s *Service) countLimits(ctx context.Context, tx *sql.Tx, client string, msgs []Notification, check checkMode) error {
	now := s.nowUTC()
	for _, c := range s.counters(client, msgs, check) {
		if c.add == 0 {
			continue
		}
		n, ws, err := addLimitCounter(ctx, tx, c.scope, c.key, c.start, c.start.Add(-c.width), c.add)
		if err != nil {
			return fmt.Errorf("notification: %s limit: %w", c.scope, err)
		}
		if c.check && n > c.max {
			return c.refusal(ws, now)
		}
	}
	return nil
}

// retryAfter rounds d up to whole seconds, at least one.
func retryAfter(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return d.Truncate(time.Second) + time.Second
}

// limitWidths are the windows of the limits, by scope.
var limitWidths = map[string]time.Duration{
	limitClientDaily:     24 * time.Hour,
	limitClientMinute:    time.Minute,
	limitRecipientHourly: time.Hour,
}

// pruneBatch bounds one sweep step: the rows listed and deleted at once.
const pruneBatch = 500

// pruneLimitCounters deletes the counters whose window closed (a closed
// counter and no counter mean the same to a send), pruneBatch at a time,
// and returns how many it deleted. On PostgreSQL each row goes in its own
// statement, so that the sweep never holds one row's lock while waiting
// for another's (a send holds its rows' locks in key order until it
// commits; a multi-row DELETE could close a cycle with it); on SQLite,
// whose writers take turns, a batch is one transaction.
func (s *Service) pruneLimitCounters(ctx context.Context) (int, error) {
	now := s.nowUTC()
	deleted := 0
	for _, scope := range []string{limitClientDaily, limitClientMinute, limitRecipientHourly} {
		width := limitWidths[scope]
		closedBy := now.Add(-width)
		if scope == limitClientDaily {
			closedBy = now.Truncate(24 * time.Hour).Add(-width)
		}
		for {
			keys, err := closedLimitCounters(ctx, s.DB, scope, closedBy, pruneBatch)
			if err != nil {
				return deleted, fmt.Errorf("notification: prune limits: %w", err)
			}
			del := func(q store.Querier) error {
				for _, k := range keys {
					if err := deleteLimitCounter(ctx, q, scope, k, closedBy); err != nil {
						return err
					}
				}
				return nil
			}
			if s.DB.Engine() == store.SQLite {
				err = s.DB.InTx(ctx, func(tx *sql.Tx) error { return del(tx) })
			} else {
				err = del(s.DB)
			}
			if err != nil {
				return deleted, fmt.Errorf("notification: prune limits: %w", err)
			}
			deleted += len(keys)
			if len(keys) < pruneBatch || ctx.Err() != nil {
				break
			}
		}
	}
	return deleted, nil
}

// limitSweepEvery is how often Run prunes the closed limit windows.
const limitSweepEvery = time.Minute

// runLimitSweep prunes closed limit windows, expired Idempotency-Keys and
// abandoned bulk uploads every limitSweepEvery until ctx ends.
func (s *Service) runLimitSweep(ctx context.Context) {
	pause.Every(ctx, limitSweepEvery, func(ctx context.Context) {
		if _, err := s.pruneAbandonedUploads(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("notification: abandoned bulk upload sweep", slog.String("err", err.Error()))
		}
		if _, err := s.pruneLimitCounters(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("notification: limit sweep", slog.String("err", err.Error()))
		}
		if _, err := s.pruneIdempotencyKeys(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Warn("notification: idempotency key sweep", slog.String("err", err.Error()))
		}
	})
}
