package gateway

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
)

// newTestLimiter is one replica's limiter on the shared bucket of nc's
// server, on a frozen clock.
func newTestLimiter(t testing.TB, ns *natsembed.Server, limits map[string]RateLimit, now func() time.Time) *limiter {
	t.Helper()
	return &limiter{nc: natstest.Connect(t, ns), bucket: DefaultRateLimitBucket, limits: limits, now: now,
		logger: slog.New(slog.DiscardHandler), timeout: 5 * time.Second, retryAfter: 2 * time.Second}
}

// TestRateLimitLeases: two replicas drawing from one bucket of 100 (rate
// 100/s, so leases of 10) allow exactly 100 calls between them on a
// frozen clock, in about one KV write per lease rather than one per call;
// a lease lapses after leaseTTL and its tokens are not spent twice.
func TestRateLimitLeases(t *testing.T) {
	ns := natstest.Start(t, natsembed.Options{})
	at := time.Unix(1_800_000_000, 0)
	now := func() time.Time { return at }
	lim := RateLimit{Rate: 100, Burst: 100}
	if n := leaseSize(lim); n != 10 {
		t.Fatalf("leaseSize(%v) = %d; want 10", lim, n)
	}
	limits := map[string]RateLimit{ClassRead: lim}
	replicas := []*limiter{newTestLimiter(t, ns, limits, now), newTestLimiter(t, ns, limits, now)}
	ctx := context.Background()
	allowed := 0
	for i := range 150 {
		d, limited, source, err := replicas[i%2].take(ctx, ClassRead, "client:moh")
		if err != nil || !limited || source != sourceShared {
			t.Fatalf("take %d = %v, %v, %s; want a shared decision", i, limited, err, source)
		}
		if d.allowed {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("two replicas allowed %d of 150 calls on a bucket of 100; want exactly 100", allowed)
	}
	kv, err := replicas[0].keyValue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, ClassRead+"."+keyEncoding.EncodeToString([]byte("client:moh")))
	if err != nil {
		t.Fatal(err)
	}
	if rev := e.Revision(); rev > 12 {
		t.Errorf("the bucket was written %d times for 100 tokens; want about 10 (one per lease)", rev)
	}
	t.Logf("100 calls allowed with %d writes to the shared bucket", e.Revision())

	// A lease taken and not spent lapses: after leaseTTL the replica goes
	// back to the bucket, which has refilled only by the rate.
	at = at.Add(200 * time.Millisecond) // 20 tokens back
	a := replicas[0]
	if d, _, _, _ := a.take(ctx, ClassRead, "client:moh"); !d.allowed {
		t.Fatal("a call after the refill was limited")
	}
	at = at.Add(leaseTTL) // the lease (9 tokens left) lapses; 100 more refilled, capped at 100
	got := 0
	for range 120 {
		if d, _, _, _ := a.take(ctx, ClassRead, "client:moh"); d.allowed {
			got++
		}
	}
	if got > 100 {
		t.Errorf("after a lapsed lease %d calls passed; want at most the burst, 100", got)
	}
}

// BenchmarkRateLimitTake is one replica taking tokens of a busy client's
// bucket (1,000 at once, refilled at once): with leases of 100, one KV
// round trip per 100 calls instead of a Get and an Update per call.
func BenchmarkRateLimitTake(b *testing.B) {
	ns := natstest.Start(b, natsembed.Options{})
	lim := newTestLimiter(b, ns, map[string]RateLimit{ClassRead: {Rate: 1e6, Burst: 1000}}, time.Now)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, _, _, err := lim.take(ctx, ClassRead, "client:moh"); err != nil || !d.allowed {
			b.Fatal(d, err)
		}
	}
}
