package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
)

// fakeOrigins is auth's answer, changeable by the test, counting calls.
type fakeOrigins struct {
	mu    sync.Mutex
	by    map[string][]string
	err   error
	calls int
}

func (f *fakeOrigins) fetch(context.Context) (map[string][]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.by, f.err
}

func (f *fakeOrigins) set(by map[string][]string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.by, f.err = by, err
}

func (f *fakeOrigins) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// The cache loads on first use, serves its copy until it is older than the
// refresh interval, then reloads in the background (the request that
// noticed gets the old copy); a failed reload keeps the previous copy; a
// failed first load admits nothing and is retried once per interval.
func TestOriginsCacheRefresh(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC))
	f := &fakeOrigins{err: errors.New("auth is down")}
	c := &originsCache{fetch: f.fetch, refresh: 10 * time.Second, now: clock.Now, logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()

	if c.get(ctx).registered("https://a.ps") || f.count() != 1 {
		t.Fatalf("first load while auth is down: registered or %d calls; want nothing admitted after 1 call", f.count())
	}
	f.set(map[string][]string{"a": {"https://a.ps"}}, nil)
	if c.get(ctx).registered("https://a.ps") || f.count() != 1 {
		t.Errorf("within the interval after a failed first load: %d calls; want no retry yet", f.count())
	}
	clock.Advance(10 * time.Second)
	if s := c.get(ctx); !s.registered("https://a.ps") || !s.allows("a", "https://a.ps") || s.allows("b", "https://a.ps") || f.count() != 2 {
		t.Fatalf("retry after the interval: %d calls; want a's origin loaded, for a only", f.count())
	}

	f.set(map[string][]string{"b": {"https://b.ps"}}, nil)
	clock.Advance(9 * time.Second)
	if s := c.get(ctx); !s.registered("https://a.ps") || s.registered("https://b.ps") || f.count() != 2 {
		t.Errorf("before the interval: %d calls; want the old copy without a call", f.count())
	}
	clock.Advance(time.Second)
	if s := c.get(ctx); !s.registered("https://a.ps") {
		t.Error("the request that starts a reload should get the old copy")
	}
	c.background.Wait()
	if s := c.get(ctx); s.registered("https://a.ps") || !s.allows("b", "https://b.ps") || f.count() != 3 {
		t.Errorf("after the reload: %d calls; want b's origin only", f.count())
	}

	f.set(nil, errors.New("auth is down again"))
	clock.Advance(10 * time.Second)
	c.get(ctx)
	c.background.Wait()
	if s := c.get(ctx); !s.allows("b", "https://b.ps") {
		t.Error("a failed reload dropped the previous copy; want it kept")
	}
}

// A misbehaving auth cannot make a replica hold more than maxCORSOrigins.
func TestOriginsCacheBound(t *testing.T) {
	by := map[string][]string{}
	for i := 0; i < maxCORSOrigins+5; i++ {
		id := fmt.Sprintf("c%05d", i)
		by[id] = []string{"https://" + id + ".ps"}
	}
	f := &fakeOrigins{by: by}
	c := &originsCache{fetch: f.fetch, refresh: time.Minute, now: time.Now, logger: slog.New(slog.DiscardHandler)}
	s := c.get(context.Background())
	if len(s.union) != maxCORSOrigins {
		t.Errorf("held %d origins; want the bound %d", len(s.union), maxCORSOrigins)
	}
	if !s.registered("https://c00000.ps") || s.registered(fmt.Sprintf("https://c%05d.ps", maxCORSOrigins+4)) {
		t.Error("want the first origins (by client id) kept and the ones past the bound dropped")
	}
}
