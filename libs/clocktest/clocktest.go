// Package clocktest gives tests one settable clock, so that a test moves
// time (token ages, code expiries, retry back-offs) instead of sleeping.
// Services take time as a func() time.Time; pass Clock.Now.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock a test sets and moves forward. It is safe for use by
// several goroutines: the service under test reads it while the test
// advances it. A clock from New stands still at its time until moved; one
// from NewLive follows the real time plus what the test has added.
type Clock struct {
	mu     sync.Mutex
	live   bool          // follows time.Now instead of at
	at     time.Time     // the time of a clock that stands still
	offset time.Duration // added by Advance
}

// New returns a clock standing still at t.
func New(t time.Time) *Clock { return &Clock{at: t} }

// NewLive returns a clock that runs with the real time, so that latencies
// stay real while a test can still jump over token ages with Advance.
func NewLive() *Clock { return &Clock{live: true} }

// Now is the test's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now().Add(c.offset)
	}
	return c.at.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Set puts the clock at t, standing still.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live, c.at, c.offset = false, t, 0
}

// Freeze stops the clock at its current time; Advance still moves it.
func (c *Clock) Freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		c.live, c.at = false, time.Now()
	}
}
