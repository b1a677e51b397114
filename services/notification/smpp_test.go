package notification

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiptLog collects the receipts a provider hands over.
type receiptLog struct {
	mu   sync.Mutex
	byID map[string]Receipt
}

func (l *receiptLog) add(_ context.Context, provider string, r Receipt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = map[string]Receipt{}
	}
	l.byID[r.MessageID] = r
	return nil
}

func (l *receiptLog) get(id string) (Receipt, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.byID[id]
	return r, ok
}

// runProvider runs p until the test ends.
func runProvider(t *testing.T, p *SMPPProvider) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func TestSMPPSubmitAgainstIndependentSMSC(t *testing.T) {
	t.Parallel()
	center := newSMSC(t)
	var receipts receiptLog
	cfg := smppConfig(center.addr())
	cfg.EnquireLink = 50 * time.Millisecond
	p := NewSMPPProvider(cfg, receipts.add, nil)
	runProvider(t, p)
	ctx := context.Background()

	arabic := strings.Repeat("موعد تطعيم طفلكم غداً في عيادة رام الله. ", 4) // 164 UCS-2 units: 3 parts
	tests := []struct {
		name       string
		body       string
		wantCoding byte
		wantParts  int
	}{
		{"latin, one part", "Your appointment is at 10:00 [room 4]", 0x00, 1},
		{"gsm-7 over 160 septets", strings.Repeat("a", 161), 0x00, 2},
		{"arabic in concatenated ucs-2", arabic, 0x08, 3},
		{"one arabic letter forces ucs-2", strings.Repeat("a", 69) + "ب", 0x08, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(center.got())
			ids, err := p.SendSMS(ctx, SMS{To: "+970599000123", Body: tc.body, Reference: "ntf_" + tc.name})
			if err != nil {
				t.Fatalf("SendSMS = %v", err)
			}
			got := center.got()[before:]
			if len(got) != tc.wantParts || len(strings.Split(ids, ",")) != tc.wantParts {
				t.Fatalf("SMSC got %d submit_sm, ids %q; want %d parts", len(got), ids, tc.wantParts)
			}
			if got := MeasureSMS(tc.body).Segments; got != tc.wantParts {
				t.Fatalf("MeasureSMS counts %d segments; the SMSC got %d", got, tc.wantParts)
			}
			var text strings.Builder
			var ref byte
			for i, s := range got {
				if s.Dest != "970599000123" || s.Source != "Tamkeen" {
					t.Errorf("part %d to %q from %q; want 970599000123 from Tamkeen", i+1, s.Dest, s.Source)
				}
				if s.DataCoding != tc.wantCoding {
					t.Errorf("part %d data_coding %#x; want %#x", i+1, s.DataCoding, tc.wantCoding)
				}
				r, total, part, ok := s.UDH()
				switch {
				case tc.wantParts == 1 && ok:
					t.Errorf("single part carries a UDH")
				case tc.wantParts > 1 && (!ok || int(total) != tc.wantParts || int(part) != i+1 || (i > 0 && r != ref)):
					t.Errorf("part %d UDH = ref %d total %d part %d ok %v; want total %d part %d, one ref", i+1, r, total, part, ok, tc.wantParts, i+1)
				}
				ref = r
				if tc.wantCoding == 0x08 && len(s.Payload) > 140 {
					t.Errorf("part %d is %d octets; a UCS-2 part must fit 140", i+1, len(s.Payload))
				}
				text.WriteString(s.Text())
			}
			if text.String() != tc.body {
				t.Errorf("SMSC reassembled %q; want %q", text.String(), tc.body)
			}
			for _, id := range strings.Split(ids, ",") {
				waitFor(t, 5*time.Second, "receipt for "+id, func() bool {
					r, ok := receipts.get(id)
					return ok && r.State == ReceiptDelivered
				})
			}
		})
	}
	waitFor(t, 5*time.Second, "enquire_link keep-alives", func() bool { e, _ := center.counts(); return e >= 2 })
	_, acks := center.counts()
	if acks == 0 {
		t.Errorf("the SMSC got no deliver_sm_resp for its receipts")
	}
}

func TestSMPPThrottlingSlowsAndLosesNothing(t *testing.T) {
	t.Parallel()
	center := newSMSC(t)
	center.receipts = false
	center.throttle = 6
	cfg := smppConfig(center.addr())
	cfg.ThrottleDelay = 20 * time.Millisecond
	p := NewSMPPProvider(cfg, nil, nil)
	runProvider(t, p)

	const n = 30
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := p.SendSMS(context.Background(), SMS{To: "+970599000200", Body: fmt.Sprintf("message %d", i), Reference: fmt.Sprint(i)}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("SendSMS under throttling = %v; want every message accepted", err)
	}
	got := center.got()
	seen := map[string]bool{}
	for _, s := range got {
		seen[s.Text()] = true
	}
	if len(got) != n || len(seen) != n {
		t.Errorf("SMSC accepted %d messages (%d distinct); want %d, each once", len(got), len(seen), n)
	}
	_, throttled, _ := p.Stats()
	if throttled != 6 {
		t.Errorf("provider saw %d throttling answers; want 6", throttled)
	}
	// Back-off doubles from 20 ms while the SMSC keeps throttling.
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Errorf("30 messages through 6 throttling answers took %v; want the sender to slow down", el)
	}
}

// proxy forwards TCP to target and can cut every connection, as a
// network failure would.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); p.cut() })
	return p
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestSMPPReconnectsAfterTheLinkBreaks(t *testing.T) {
	t.Parallel()
	center := newSMSC(t)
	center.receipts = false
	px := newProxy(t, center.addr())
	p := NewSMPPProvider(smppConfig(px.l.Addr().String()), nil, nil)
	runProvider(t, p)
	ctx := context.Background()
	if _, err := p.SendSMS(ctx, SMS{To: "+970599000300", Body: "before", Reference: "a"}); err != nil {
		t.Fatal(err)
	}
	px.cut()
	waitFor(t, 5*time.Second, "a second bind", func() bool { _, _, binds := p.Stats(); return binds >= 2 })
	if _, err := p.SendSMS(ctx, SMS{To: "+970599000300", Body: "after", Reference: "b"}); err != nil {
		t.Fatalf("SendSMS after reconnecting = %v", err)
	}
	if got := len(center.got()); got != 2 {
		t.Errorf("SMSC got %d messages; want 2", got)
	}
}

func TestSMPPRefusedConnectionIsATemporaryError(t *testing.T) {
	t.Parallel()
	cfg := smppConfig(closedAddr(t))
	cfg.BindWait = 50 * time.Millisecond
	p := NewSMPPProvider(cfg, nil, nil)
	runProvider(t, p)
	_, err := p.SendSMS(context.Background(), SMS{To: "+970599000400", Body: "x", Reference: "r"})
	if err == nil || errors.Is(err, ErrPermanentSend) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("SendSMS with the SMSC down = %v; want a temporary error (nothing sent)", err)
	}
}

// BenchmarkSMPPSubmit is the sustained submit rate to an SMPP peer over
// loopback (the fiorix test SMSC, receipts on), 16 senders, window 64:
// messages/s and segments/s for a 2-part Arabic message.
func BenchmarkSMPPSubmit(b *testing.B) {
	center := newSMSC(b)
	cfg := smppConfig(center.addr())
	cfg.Window = 64
	var receipts receiptLog
	p := NewSMPPProvider(cfg, receipts.add, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	body := strings.Repeat("موعد التطعيم ", 8) // 104 UCS-2 units: 2 parts
	segs := MeasureSMS(body).Segments
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.SendSMS(ctx, SMS{To: "+970599000500", Body: body, Reference: "b"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N)/el, "msgs/s")
	b.ReportMetric(float64(b.N*segs)/el, "segments/s")
}
