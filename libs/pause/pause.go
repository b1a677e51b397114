// Package pause waits for a while unless the context ends first: the one
// wait the outbox relay, the SQLite busy retry and the SMPP reconnect loop
// share, so that every retry loop in Tamkeen stops at once on shutdown.
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
