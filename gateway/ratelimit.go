package gateway

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Route classes that rate limits are configured for.
const (
	// ClassRead is a client's or citizen's Get, List, Search, Diff and
	// Preview calls.
	ClassRead = "read"
	// ClassWrite is every other authenticated call.
	ClassWrite = "write"
	// ClassPublic is calls of public routes, limited per source address.
	ClassPublic = "public"
)

// DefaultRateLimitBucket is the JetStream key-value bucket that holds the
// token buckets every gateway replica shares.
const DefaultRateLimitBucket = "tamkeen_gateway_ratelimit"

// rateLimitCASAttempts bounds the compare-and-set retries of one take.
const rateLimitCASAttempts = 16

// Leases: a replica takes up to a tenth of a bucket's burst (at most
// what the rate refills in leaseTTL, at least one token) from the shared
// bucket in one compare-and-set and spends it locally, so that a busy
// caller costs one KV round trip per lease instead of two per call. The
// tokens were debited from the shared bucket, so the replicas together
// never allow more than the bucket gives; a lease unspent after leaseTTL
// lapses (those tokens are lost, never doubled). Worst case per caller:
// a replica spends a lease up to leaseTTL after taking it, so within any
// window the calls allowed exceed the bucket's by at most one lease per
// replica.
const (
	leaseTTL      = time.Second
	leaseFraction = 10
)

// leaseSize is how many tokens one take leases under lim.
func leaseSize(lim RateLimit) int {
	n := min(lim.Burst/leaseFraction, int(lim.Rate*leaseTTL.Seconds()))
	return max(n, 1)
}

// RateLimit is a token bucket: Burst calls at once, refilled at Rate
// calls per second.
type RateLimit struct {
	Rate  float64
	Burst int
}

// ParseRateLimits reads "class=rate/burst" entries (e.g. "write=10/20",
// "read=50/100", "public=5/10") into limits by class.
func ParseRateLimits(entries []string) (map[string]RateLimit, error) {
	out := map[string]RateLimit{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		class, spec, ok := strings.Cut(e, "=")
		rate, burst, ok2 := strings.Cut(spec, "/")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%w: rate limit %q is not class=rate/burst", ErrConfig, e)
		}
		switch class {
		case ClassRead, ClassWrite, ClassPublic:
		default:
			return nil, fmt.Errorf("%w: rate limit %q: class must be %s, %s or %s", ErrConfig, e, ClassRead, ClassWrite, ClassPublic)
		}
		r, err := strconv.ParseFloat(rate, 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return nil, fmt.Errorf("%w: rate limit %q: rate must be a positive number of calls per second", ErrConfig, e)
		}
		b, err := strconv.Atoi(burst)
		if err != nil || b < 1 {
			return nil, fmt.Errorf("%w: rate limit %q: burst must be a whole number of at least 1", ErrConfig, e)
		}
		out[class] = RateLimit{Rate: r, Burst: b}
	}
	return out, nil
}

// routeClass is the rate-limit class of a gRPC method for a caller.
func routeClass(method string, caller *Caller) string {
	if caller == nil {
		return ClassPublic
	}
	_, op := splitMethod(method)
	for _, p := range []string{"Get", "List", "Search", "Diff", "Preview"} {
		if strings.HasPrefix(op, p) {
			return ClassRead
		}
	}
	return ClassWrite
}

// limiter keeps token buckets in a JetStream KV bucket, updated with
// compare-and-set, so that every replica draws from the same bucket.
//
// When the KV store does not answer within timeout (NATS gone, the
// JetStream store full or down), the replica limits with buckets of its
// own (local) instead of letting every call through: each replica then
// allows the whole limit, so the platform-wide overshoot is at most the
// number of replicas times the limit, for as long as the store is away.
// After a failure the replica stays local for retryAfter before it asks
// the store again, so an outage costs one deadline per retryAfter, not
// one per call; the first answer from the store ends the degradation.
type limiter struct {
	nc         *nats.Conn
	bucket     string
	limits     map[string]RateLimit
	now        func() time.Time
	logger     *slog.Logger
	timeout    time.Duration
	retryAfter time.Duration

	mu sync.Mutex
	kv jetstream.KeyValue

	local  localBuckets
	leases leases
	// degradedSince is when the store last failed (zero: it answers).
	degradedMu    sync.Mutex
	degradedSince time.Time
	lastTry       time.Time
}

// Sources of a rate-limit decision.
const (
	sourceShared = "shared"
	sourceLocal  = "local"
)

// degraded reports whether the limiter is limiting locally and since when.
func (l *limiter) degraded() (bool, time.Time) {
	l.degradedMu.Lock()
	defer l.degradedMu.Unlock()
	return !l.degradedSince.IsZero(), l.degradedSince
}

// useStore reports whether this call should ask the KV store: always when
// it answers, once per retryAfter while it does not.
func (l *limiter) useStore(now time.Time) bool {
	l.degradedMu.Lock()
	defer l.degradedMu.Unlock()
	if l.degradedSince.IsZero() || now.Sub(l.lastTry) >= l.retryAfter {
		l.lastTry = now
		return true
	}
	return false
}

// storeAnswered records the outcome of a call to the store; it reports
// whether the state changed (for a log line per transition, not per call).
func (l *limiter) storeAnswered(ok bool, now time.Time) (changed bool) {
	l.degradedMu.Lock()
	defer l.degradedMu.Unlock()
	was := !l.degradedSince.IsZero()
	switch {
	case ok:
		l.degradedSince = time.Time{}
	case !was:
		l.degradedSince = now
	}
	return was == ok
}

// leases are the tokens a replica holds from the shared buckets.
type leases struct {
	mu sync.Mutex
	m  map[string]lease
}

// lease is what is left of one: tokens to spend until expires, and the
// shared bucket's level when it was taken (for RateLimit-Remaining).
type lease struct {
	tokens  int
	expires time.Time
	d       decision
}

// spend takes a token of key's live lease at now.
func (ls *leases) spend(key string, now time.Time) (decision, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l, ok := ls.m[key]
	if !ok || l.tokens < 1 || !now.Before(l.expires) {
		return decision{}, false
	}
	l.tokens--
	ls.m[key] = l
	d := l.d
	d.remaining += l.tokens
	return d, true
}

// hold keeps tokens of key until expires, bounded like the local buckets.
func (ls *leases) hold(key string, tokens int, expires time.Time, d decision) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]lease{}
	}
	if len(ls.m) >= maxLocalBuckets {
		for k, l := range ls.m {
			if !expires.Before(l.expires.Add(leaseTTL)) {
				delete(ls.m, k)
			}
		}
		if len(ls.m) >= maxLocalBuckets {
			clear(ls.m)
		}
	}
	ls.m[key] = lease{tokens: tokens, expires: expires, d: d}
}

// maxLocalBuckets bounds the local buckets; past it, the buckets that are
// full again by now are forgotten (a full bucket is what a new one is).
const maxLocalBuckets = 100_000

// localBuckets are one replica's token buckets, used while the shared
// store is away.
type localBuckets struct {
	mu      sync.Mutex
	buckets map[string]localBucket
}

type localBucket struct {
	tokens float64
	last   time.Time
}

// take draws one token from key's local bucket under lim at now.
func (b *localBuckets) take(key string, lim RateLimit, now time.Time) decision {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buckets == nil {
		b.buckets = map[string]localBucket{}
	}
	lb, ok := b.buckets[key]
	if !ok {
		if len(b.buckets) >= maxLocalBuckets {
			b.forgetFull(lim, now)
		}
		lb = localBucket{tokens: float64(lim.Burst), last: now}
	}
	lb.tokens, lb.last = refill(lb.tokens, lb.last, lim, now)
	d := spend(&lb.tokens, lim)
	b.buckets[key] = lb
	return d
}

// forgetFull drops the buckets that are full again at now (b.mu held).
func (b *localBuckets) forgetFull(lim RateLimit, now time.Time) {
	for k, lb := range b.buckets {
		if t, _ := refill(lb.tokens, lb.last, lim, now); t >= float64(lim.Burst) {
			delete(b.buckets, k)
		}
	}
	if len(b.buckets) >= maxLocalBuckets {
		clear(b.buckets) // every bucket busy: start over rather than grow
	}
}

// refill adds what the rate gave since last, up to the burst, and returns
// the new level and the time it stands at (last when another replica's
// clock is ahead, so that nothing is refilled twice).
func refill(tokens float64, last time.Time, lim RateLimit, now time.Time) (float64, time.Time) {
	if elapsed := now.Sub(last); elapsed > 0 {
		tokens = math.Min(float64(lim.Burst), tokens+elapsed.Seconds()*lim.Rate)
	}
	if last.After(now) {
		now = last
	}
	return tokens, now
}

// spend takes one token when there is one and says so in the decision.
func spend(tokens *float64, lim RateLimit) decision {
	d := decision{limit: lim}
	if *tokens < 1 {
		d.retryAfter = time.Duration((1 - *tokens) / lim.Rate * float64(time.Second))
		d.reset = time.Duration((float64(lim.Burst) - *tokens) / lim.Rate * float64(time.Second))
		return d
	}
	*tokens--
	d.allowed, d.remaining = true, int(*tokens)
	d.reset = time.Duration((float64(lim.Burst) - *tokens) / lim.Rate * float64(time.Second))
	return d
}

// keyValue binds (creating on first use) the KV bucket.
func (l *limiter) keyValue(ctx context.Context) (jetstream.KeyValue, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.kv != nil {
		return l.kv, nil
	}
	js, err := jetstream.New(l.nc)
	if err != nil {
		return nil, err
	}
	// Idle buckets expire: after an hour without calls every bucket is
	// full again anyway.
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: l.bucket, History: 1, TTL: time.Hour,
		Description: "gateway rate limits: token buckets per caller and route class"})
	if err != nil {
		return nil, err
	}
	l.kv = kv
	return kv, nil
}

// decision is the outcome of one take.
type decision struct {
	allowed    bool
	limit      RateLimit
	remaining  int
	retryAfter time.Duration
	// reset is how long until the bucket is full again.
	reset time.Duration
}

// keyEncoding makes any caller id a valid KV key token.
var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// take draws one token from the bucket of (class, caller): the shared one
// in the KV store, or, while the store does not answer, the replica's own
// (source says which; err is the store's failure, if any, for the log).
func (l *limiter) take(ctx context.Context, class, caller string) (d decision, limited bool, source string, err error) {
	lim, ok := l.limits[class]
	if !ok {
		return decision{}, false, "", nil
	}
	key := class + "." + keyEncoding.EncodeToString([]byte(caller))
	if d, ok := l.leases.spend(key, l.now()); ok {
		return d, true, sourceShared, nil
	}
	if l.useStore(l.now()) {
		sctx, cancel := context.WithTimeout(ctx, l.timeout)
		var leased int
		d, leased, err = l.takeShared(sctx, key, lim)
		cancel()
		if err == nil && leased > 1 {
			l.leases.hold(key, leased-1, l.now().Add(leaseTTL), d)
		}
		if ctx.Err() != nil {
			// The caller went away: not the store's fault.
			return decision{}, true, sourceShared, ctx.Err()
		}
		if l.storeAnswered(err == nil, l.now()) {
			if err == nil {
				l.logger.InfoContext(ctx, "rate limiter: the shared store answers again; limits are shared across replicas")
			} else {
				l.logger.WarnContext(ctx, "rate limiter: the shared store does not answer; limiting per replica until it does",
					slog.String("error", err.Error()))
			}
		}
		if err == nil {
			return d, true, sourceShared, nil
		}
	}
	return l.local.take(key, lim, l.now()), true, sourceLocal, err
}

// takeShared draws a lease from key's bucket in the KV store: up to
// leaseSize tokens, at least one, of which this call spends one (leased
// says how many were taken). A failure forgets the bound bucket, so that
// the next try binds it again (creating it when the store came back
// without it).
func (l *limiter) takeShared(ctx context.Context, key string, lim RateLimit) (d decision, leased int, err error) {
	kv, err := l.keyValue(ctx)
	if err != nil {
		return decision{}, 0, err
	}
	defer func() {
		if err != nil {
			l.mu.Lock()
			l.kv = nil
			l.mu.Unlock()
		}
	}()
	for attempt := 0; attempt < rateLimitCASAttempts; attempt++ {
		now := l.now()
		tokens, last, rev := float64(lim.Burst), now, uint64(0)
		e, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			rev = e.Revision()
			if v := e.Value(); len(v) == 16 {
				tokens = math.Float64frombits(binary.BigEndian.Uint64(v[:8]))
				last = time.Unix(0, int64(binary.BigEndian.Uint64(v[8:])))
			}
		case errors.Is(err, jetstream.ErrKeyNotFound):
		default:
			return decision{}, 0, err
		}
		tokens, now = refill(tokens, last, lim, now)
		d := spend(&tokens, lim)
		if !d.allowed {
			return d, 0, nil
		}
		// The rest of the lease, from what is left in the bucket.
		extra := min(leaseSize(lim)-1, int(tokens))
		tokens -= float64(extra)
		d.remaining = int(tokens)
		d.reset = time.Duration((float64(lim.Burst) - tokens) / lim.Rate * float64(time.Second))
		var v [16]byte
		binary.BigEndian.PutUint64(v[:8], math.Float64bits(tokens))
		binary.BigEndian.PutUint64(v[8:], uint64(now.UnixNano()))
		if rev == 0 {
			_, err = kv.Create(ctx, key, v[:])
		} else {
			_, err = kv.Update(ctx, key, v[:], rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // another replica took a token meanwhile
		}
		if err != nil {
			return decision{}, 0, err
		}
		return d, 1 + extra, nil
	}
	return decision{}, 0, errors.New("rate limit bucket too contended")
}

// ceilSeconds renders d as whole seconds, rounded up, at least minimum.
func ceilSeconds(d time.Duration, minimum int64) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < minimum {
		s = minimum
	}
	return strconv.FormatInt(s, 10)
}

// rateLimitKey names whom a request's bucket belongs to: the client, the
// citizen, or the source address of a public call.
func rateLimitKey(r *http.Request, caller *Caller) string {
	switch {
	case caller == nil:
		return "ip:" + sourceAddr(r)
	case caller.Kind == Client:
		return "client:" + caller.ClientID
	default:
		return "citizen:" + caller.Subject
	}
}

// sourceAddr is the peer's IP address (the gateway does not trust
// X-Forwarded-For; a trusted proxy in front would be configured here).
func sourceAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// rateLimit applies the caller's bucket for the request's class: it sets
// the RateLimit-* headers and answers false after writing the 429 when
// the bucket is empty. While the shared KV store does not answer, the
// replica's own buckets decide (counted with outcome local_allowed or
// local_limited, and shown by /readyz as degraded): the limiter must not
// take the API down with NATS, nor let it go unlimited.
func (g *Gateway) rateLimit(w http.ResponseWriter, r *http.Request, method string, caller *Caller) bool {
	if g.limiter == nil {
		return true
	}
	ctx := r.Context()
	class := routeClass(method, caller)
	d, limited, source, err := g.limiter.take(ctx, class, rateLimitKey(r, caller))
	if err != nil && ctx.Err() != nil {
		return true // the caller is gone; the call ends on its context
	}
	if !limited {
		return true
	}
	outcome := func(o string) string {
		if source == sourceLocal {
			return "local_" + o
		}
		return o
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.limit.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("RateLimit-Reset", ceilSeconds(d.reset, 0))
	h.Set("RateLimit-Policy", strconv.Itoa(d.limit.Burst)+";w="+ceilSeconds(time.Duration(float64(d.limit.Burst)/d.limit.Rate*float64(time.Second)), 1))
	if d.allowed {
		g.metrics.rateLimited.WithLabelValues(class, outcome("allowed")).Inc()
		return true
	}
	g.metrics.rateLimited.WithLabelValues(class, outcome("limited")).Inc()
	g.refuse(w, r, &authFailure{reason: "rate_limited", status: http.StatusTooManyRequests, kind: "rate-limited",
		detail:     fmt.Sprintf("too many %s calls: the limit is %d at once and %g per second; retry later", class, d.limit.Burst, d.limit.Rate),
		retryAfter: ceilSeconds(d.retryAfter, 1)})
	return false
}

// shed takes a slot of the global concurrency limit, or writes a 503 and
// answers false when every slot is busy; release must be called after a
// true answer.
func (g *Gateway) shed(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if g.slots == nil {
		return func() {}, true
	}
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, true
	default:
		g.metrics.shed.Inc()
		writeProblem(w, r, Problem{Type: problemTypePrefix + "overloaded", Status: http.StatusServiceUnavailable,
			Detail: "the gateway is at its concurrency limit; retry shortly"}, http.Header{"Retry-After": {"1"}})
		return nil, false
	}
}
