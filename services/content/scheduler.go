package content

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/pause"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// The scheduler publishes items whose publish_at has come and takes down
// items whose expire_at has passed. Its state is the items' rows, so it
// survives restarts: a time that passed while no replica ran is applied at
// the next tick. With several replicas, a lease in the database
// (content_leases) lets one of them work at a time, and each item is
// changed by a conditional UPDATE on the row as it was read, so even two
// replicas working at once (a lease that ran out mid-tick) apply each
// publication or expiry once, with one transition and one event.

// schedulerLease is the lease's name.
const schedulerLease = "scheduler"

// scheduleBatch bounds the items one tick handles per kind.
const scheduleBatch = 100

// runScheduler ticks at once, then every SchedulerInterval until ctx ends.
func (s *Service) runScheduler(ctx context.Context) error {
	tick := func(ctx context.Context) {
		if _, err := s.SchedulerTick(ctx); err != nil && ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "content scheduler tick failed", slog.Any("error", err))
		}
	}
	tick(ctx)
	pause.Every(ctx, s.cfg.SchedulerInterval, tick)
	return nil
}

// SchedulerTick applies what is due now if this replica holds (or takes)
// the scheduler lease, and reports how many items it changed.
func (s *Service) SchedulerTick(ctx context.Context) (int, error) {
	now := s.Now()
	if err := acquireLease(ctx, s.DB, schedulerLease, s.replica, now, now.Add(s.cfg.SchedulerLease)); err != nil {
		if errors.Is(err, errLeaseHeld) {
			return 0, nil
		}
		return 0, err
	}
	return s.applyDue(ctx, now)
}

// applyDue publishes and expires what is due at now.
func (s *Service) applyDue(ctx context.Context, now time.Time) (int, error) {
	changed := 0
	// Publications first, so that an item published and expired in the
	// same tick ends expired.
	steps := []struct {
		dueSQL  string
		apply   func(ctx context.Context, id string, now time.Time) (bool, error)
		counter prometheus.Counter
	}{
		{publishDueSQL, s.publishDue, s.metrics.publications.WithLabelValues(triggerScheduled)},
		{expireDueSQL, s.expireDue, s.metrics.expiries},
	}
	for _, step := range steps {
		due, err := s.dueIDs(ctx, step.dueSQL, now)
		if err != nil {
			return changed, err
		}
		for _, id := range due {
			ok, err := step.apply(ctx, id, now)
			if err != nil {
				return changed, err
			}
			if ok {
				changed++
				step.counter.Inc() // ok: the transaction committed
			}
		}
	}
	if changed > 0 {
		s.cache.clear()
		s.Relay.Kick()
	}
	return changed, nil
}

// publishDue publishes item id if its publication is still due; ok
// reports that this call did it.
func (s *Service) publishDue(ctx context.Context, id string, now time.Time) (ok bool, err error) {
	return s.applyToItem(ctx, id, func(tx *sql.Tx, it Item) (bool, error) {
		if it.PublishAt.IsZero() || it.PublishAt.After(now) {
			return false, nil // another replica did it, or it was cancelled
		}
		if it.State != StateApproved && it.State != StateUnpublished {
			// Saving a new version cancels a schedule, so this is a row
			// changed by hand; drop the schedule rather than publish an
			// unreviewed version.
			return false, dropSchedule(ctx, tx, id, it.PublishAt)
		}
		// publish's conditional UPDATE matches the row as read here; a
		// concurrent replica that got there first leaves it no row.
		err := s.publish(ctx, tx, it, SchedulerActor, "scheduled publication", it.PublishAt, it.ExpireAt)
		if errors.Is(err, rpcerr.ErrConflict) {
			return false, nil
		}
		return err == nil, err
	})
}

// expireDue takes item id down if its expiry is still due.
func (s *Service) expireDue(ctx context.Context, id string, now time.Time) (ok bool, err error) {
	return s.applyToItem(ctx, id, func(tx *sql.Tx, it Item) (bool, error) {
		if it.ExpireAt.IsZero() || it.ExpireAt.After(now) || it.PublishedVersion == 0 {
			return false, nil
		}
		to := target(ActionExpire, it.State)
		changed, err := markExpired(ctx, tx, it, to)
		if err != nil {
			return false, fmt.Errorf("expire %s: %w", id, err)
		}
		if !changed {
			return false, nil
		}
		if err := s.takeDown(ctx, tx, it, it.ExpireAt); err != nil {
			return false, err
		}
		return true, recordTransition(ctx, tx, id, ActionExpire, it.State, to, SchedulerActor, "expired", it.Version, it.ExpireAt)
	})
}

// applyToItem reads item id in a transaction and lets apply change it
// there; ok is apply's answer (did it change the item), which counts only
// when err is nil, i.e. the transaction committed.
func (s *Service) applyToItem(ctx context.Context, id string, apply func(tx *sql.Tx, it Item) (bool, error)) (ok bool, err error) {
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		ok = false
		it, err := loadItem(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		ok, err = apply(tx, it)
		return err
	})
	return ok, err
}
