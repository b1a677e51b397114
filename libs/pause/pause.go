// Package pause waits for a while unless the context ends first: the one
// wait the outbox relay, the SQLite busy retry and the SMPP reconnect loop
// share, and the one periodic loop of the services' chores and the
// gateway's audit stamping, so that every retry and periodic loop in
// Tamkeen stops at once on shutdown.
package pause

import (
	"context"
	"time"
)

// For waits d, or until kick receives (a nil kick never does) or ctx ends.
// It reports false when ctx ended: the caller should stop.
func For(ctx context.Context, d time.Duration, kick <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-kick:
	}
	return true
}

// Every calls f every interval until ctx ends: the loop of periodic chores
// (sweeps, pruning, time-stamping), whose failures f logs itself so that
// the next tick tries again.
func Every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}
