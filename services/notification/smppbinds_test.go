package notification

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sendBulk submits n bulk (non-urgent) messages through p from senders
// goroutines and returns the first error.
func sendBulk(t *testing.T, p *SMPPProvider, n, senders int) error {
	t.Helper()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, senders)
	)
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				if _, err := p.SendSMS(context.Background(), SMS{To: "+970599000300", Body: fmt.Sprintf("bulk %d", i), Reference: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// TestOTPPassesABulkSendAtTheSMSC sends 100,000 bulk messages over two
// binds into the independent test SMSC and, once the bulk is under way
// and its senders queue for the window (the SMSC pauses), an OTP: the
// OTP's submit_sm must reach the SMSC before the bulk's last one, behind
// only the bulk submits already in the window (none of the queued ones).
// No timing is asserted; the rate is logged.
func TestOTPPassesABulkSendAtTheSMSC(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 messages: not with -short")
	}
	const (
		bulk    = 100_000
		senders = 256
	)
	center := newSMSC(t)
	center.receipts = false
	cfg := smppConfig(center.addr())
	cfg.Binds = 2
	// The pause below must not look like a lost link.
	cfg.ResponseTimeout, cfg.EnquireLink = time.Minute, time.Minute
	p := NewSMPPProvider(cfg, nil, nil)
	runProvider(t, p)

	start := time.Now()
	bulkDone := make(chan error, 1)
	go func() { bulkDone <- sendBulk(t, p, bulk, senders) }()
	waitFor(t, 60*time.Second, "the bulk under way", func() bool {
		s, _, _ := p.Stats()
		return s >= 5000
	})
	// Stop the SMSC mid-bulk: the window fills and the bulk senders
	// queue for it. Then the OTP comes, and the SMSC goes on.
	hold := make(chan struct{})
	center.mu.Lock()
	center.hold = hold
	center.mu.Unlock()
	// Every bind is then held or idle: the round robin can give the
	// window's last slots to a bind already held, leaving the other with
	// nothing in flight to be held on (which made waiting for both binds
	// held flaky), so the wait is for the SMSC to stop receiving.
	lastGot, stableSince := -1, time.Now()
	waitFor(t, 30*time.Second, "the binds stopped and bulk senders queued", func() bool {
		center.mu.Lock()
		held := center.held
		center.mu.Unlock()
		if n := len(center.got()); n != lastGot {
			lastGot, stableSince = n, time.Now()
		}
		p.window.mu.Lock()
		defer p.window.mu.Unlock()
		return held >= 1 && p.window.used == cfg.Window && len(p.window.normal) > 0 &&
			time.Since(stableSince) >= 500*time.Millisecond
	})
	before := len(center.got())
	otp := make(chan error, 1)
	go func() {
		_, err := p.SendSMS(context.Background(), SMS{To: "+970599000301", Body: "Your code is 123456", Reference: "otp", Urgent: true})
		otp <- err
	}()
	waitFor(t, 30*time.Second, "the OTP waiting for the window", func() bool {
		p.window.mu.Lock()
		defer p.window.mu.Unlock()
		return len(p.window.urgent) == 1
	})
	p.window.mu.Lock()
	queued := len(p.window.normal)
	p.window.mu.Unlock()
	center.mu.Lock()
	center.hold = nil
	center.mu.Unlock()
	close(hold)
	if err := <-otp; err != nil {
		t.Fatalf("OTP = %v", err)
	}
	if err := <-bulkDone; err != nil {
		t.Fatalf("bulk send = %v", err)
	}
	elapsed := time.Since(start)
	got := center.got()
	otpAt := -1
	for i, s := range got {
		if s.Dest == "970599000301" {
			otpAt = i
		}
	}
	t.Logf("100,000 bulk submit_sm over %d binds in %v (%.0f/s, with a pause); the OTP was submit %d of %d, sent when %d had arrived and %d bulk sends waited for the window",
		cfg.Binds, elapsed.Round(time.Millisecond), bulk/elapsed.Seconds(), otpAt+1, len(got), before, queued)
	if len(got) != bulk+1 {
		t.Fatalf("SMSC got %d submit_sm; want %d", len(got), bulk+1)
	}
	if otpAt < 0 || otpAt >= len(got)-1 {
		t.Fatalf("the OTP arrived at %d of %d; want before the bulk's last submit_sm", otpAt, len(got))
	}
	// The OTP takes the first slot that frees, ahead of every bulk send
	// queued for the window. What reaches the SMSC before it is the
	// window's submits in flight when it came and, the binds being
	// read independently, what the other bind carries while the OTP's
	// own bind drains the submits ahead of it on its connection — at most
	// a window more — never the queue behind it.
	if ahead := otpAt - before; ahead > 2*cfg.Window || ahead >= queued {
		t.Errorf("the OTP arrived after %d more bulk submits; want at most two windows (%d) and fewer than the %d queued bulk sends", ahead, 2*cfg.Window, queued)
	}
	if _, _, binds := p.Stats(); int(binds) != cfg.Binds {
		t.Errorf("provider bound %d sessions; want %d", binds, cfg.Binds)
	}
}

// TestSMPPBindsRate logs the submit rate with one bind and with four:
// the figure for the operators' sizing, not an assertion.
func TestSMPPBindsRate(t *testing.T) {
	if testing.Short() {
		t.Skip("a rate figure: not with -short")
	}
	for _, binds := range []int{1, 4} {
		center := newSMSC(t)
		center.receipts = false
		cfg := smppConfig(center.addr())
		cfg.Binds, cfg.Window = binds, 40
		p := NewSMPPProvider(cfg, nil, nil)
		runProvider(t, p)
		const n = 20_000
		start := time.Now()
		if err := sendBulk(t, p, n, 64); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		if got := len(center.got()); got != n {
			t.Fatalf("SMSC got %d; want %d", got, n)
		}
		t.Logf("%d binds, window %d: %d submit_sm in %v (%.0f/s)", binds, cfg.Window, n, el.Round(time.Millisecond), n/el.Seconds())
	}
}

// TestPriorityWindow: an urgent waiter gets the next free slot before
// every earlier normal waiter.
func TestPriorityWindow(t *testing.T) {
	t.Parallel()
	w := newPriorityWindow(1)
	ctx := context.Background()
	if err := w.acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 4)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			_ = w.acquire(ctx, false)
			order <- fmt.Sprint("normal", i)
			w.release()
		})
	}
	waitFor(t, 5*time.Second, "three normal waiters", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.normal) == 3
	})
	wg.Go(func() {
		_ = w.acquire(ctx, true)
		order <- "urgent"
		w.release()
	})
	waitFor(t, 5*time.Second, "the urgent waiter", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.urgent) == 1
	})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.acquire(cctx, false); err == nil {
		t.Fatal("acquire with an ended context took a slot")
	}
	w.release()
	wg.Wait()
	if first := <-order; first != "urgent" {
		t.Errorf("first served %s; want urgent", first)
	}
	if w.inUse() != 0 {
		t.Errorf("%d slots in use after all released; want 0", w.inUse())
	}
}
