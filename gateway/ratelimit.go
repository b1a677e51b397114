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
type limiter struct {
	nc     *nats.Conn
	bucket string
	limits map[string]RateLimit
	now    func() time.Time
	logger *slog.Logger

	mu sync.Mutex
	kv jetstream.KeyValue
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

// take draws one token from the bucket of (class, caller).
func (l *limiter) take(ctx context.Context, class, caller string) (decision, bool, error) {
	lim, ok := l.limits[class]
	if !ok {
		return decision{}, false, nil
	}
	kv, err := l.keyValue(ctx)
	if err != nil {
		return decision{}, true, err
	}
	key := class + "." + keyEncoding.EncodeToString([]byte(caller))
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
			return decision{}, true, err
		}
		if elapsed := now.Sub(last); elapsed > 0 {
			tokens = math.Min(float64(lim.Burst), tokens+elapsed.Seconds()*lim.Rate)
		}
		if last.After(now) {
			// Another replica's clock is ahead; do not refill twice.
			now = last
		}
		d := decision{limit: lim}
		if tokens < 1 {
			d.retryAfter = time.Duration((1 - tokens) / lim.Rate * float64(time.Second))
			d.reset = time.Duration((float64(lim.Burst) - tokens) / lim.Rate * float64(time.Second))
			return d, true, nil
		}
		tokens--
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
			return decision{}, true, err
		}
		d.allowed, d.remaining = true, int(tokens)
		d.reset = time.Duration((float64(lim.Burst) - tokens) / lim.Rate * float64(time.Second))
		return d, true, nil
	}
	return decision{}, true, errors.New("rate limit bucket too contended")
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
// the bucket is empty. A KV failure lets the call through (and is logged
// and counted): the limiter protects the services, it must not take the
// API down with NATS.
func (g *Gateway) rateLimit(w http.ResponseWriter, r *http.Request, method string, caller *Caller) bool {
	if g.limiter == nil {
		return true
	}
	ctx := r.Context()
	class := routeClass(method, caller)
	d, limited, err := g.limiter.take(ctx, class, rateLimitKey(r, caller))
	if err != nil {
		g.metrics.rateLimited.WithLabelValues(class, "error").Inc()
		g.logger.WarnContext(ctx, "rate limiter unavailable; call let through", slog.String("error", err.Error()),
			slog.String("request_id", RequestID(ctx)))
		return true
	}
	if !limited {
		return true
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.limit.Burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("RateLimit-Reset", ceilSeconds(d.reset, 0))
	h.Set("RateLimit-Policy", strconv.Itoa(d.limit.Burst)+";w="+ceilSeconds(time.Duration(float64(d.limit.Burst)/d.limit.Rate*float64(time.Second)), 1))
	if d.allowed {
		g.metrics.rateLimited.WithLabelValues(class, "allowed").Inc()
		return true
	}
	g.metrics.rateLimited.WithLabelValues(class, "limited").Inc()
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
