package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// maxRequestIDLen bounds an accepted incoming X-Request-Id.
const maxRequestIDLen = 64

// unmatchedRoute labels requests no route matched, so that scanners
// cannot blow up the metrics' cardinality with raw paths.
const unmatchedRoute = "unmatched"

// reqState is what the middlewares learn about one request; it travels in
// the request context as a pointer so that inner layers can fill it in.
type reqState struct {
	id             string
	route          string
	idempotencyKey string
	limit          int64
	tooLarge       bool
	// rpc is the gRPC method whose policy the request passed.
	rpc string
	// method is the gRPC method behind the matched route, set before its
	// policy is checked (so refused calls are audited too).
	method string
	// rights are the client's rights that admit rpc, when rights are
	// enforced; the backend call checks their narrowing.
	rights []Right
	// usage is the metered units of the successful backend call.
	usage []usageUnit
	// caller is the verified token's principal; nil on public routes.
	caller *Caller
}

// stateKey is the context key of *reqState.
type stateKey struct{}

// stateFrom returns the request's state, or nil outside the gateway.
func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// RequestID returns the request ID the gateway assigned to the request
// whose context is ctx, or "" outside a gateway request. Extra handlers
// mounted with Handle can use it in their logs.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// ValidRequestID reports whether id may be used as given: 1 to 64
// characters of [A-Za-z0-9._-]. Anything else is replaced by a fresh ID so
// that logs cannot be forged or flooded through the header.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns "req_" and 16 random bytes in hex.
func (g *Gateway) newRequestID() string {
	var b [16]byte
	if _, err := io.ReadFull(g.random, b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a counter
		// keeps IDs unique if an injected reader runs dry.
		return "req_seq" + strconv.FormatUint(g.fallbackID.Add(1), 10)
	}
	return "req_" + hex.EncodeToString(b[:])
}

// wrap applies the middlewares around the mux, outermost first: request ID
// and state, the server span, observation (metrics, access log, recovery),
// the audit log and metering (which hold the response until it is
// recorded), the body limit, the input checks, conditional GET, and HEAD
// answered as GET (head.go).
func (g *Gateway) wrap(h http.Handler) http.Handler {
	h = g.headAsGET(h)
	h = conditionalGET(h)
	h = g.checkInput(h)
	h = g.limitBody(h)
	h = g.record(h)
	h = g.observe(h)
	h = otelhttp.NewHandler(h, "http.server",
		otelhttp.WithTracerProvider(g.tracer),
		otelhttp.WithPropagators(g.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
	return g.requestID(h)
}

// requestID accepts a well-formed X-Request-Id or makes one, echoes it and
// starts the request state.
func (g *Gateway) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !ValidRequestID(id) {
			id = g.newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		// Every answer, problems, 404s and raw bodies included: browsers
		// must not sniff a JSON or PEM body into something executable.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// grpc-gateway would turn these into a call deadline and into
		// x-forwarded-* metadata; callers must not choose either. The
		// client's address (clientaddr.go: the peer, or what trusted
		// proxies say it is) becomes the request's RemoteAddr, so that
		// the audit log, the rate limits and the x-forwarded-for the
		// services see all name the same client.
		if len(g.trustedProxies) > 0 {
			r.RemoteAddr = net.JoinHostPort(clientAddr(r, g.trustedProxies), "0")
		}
		r.Header.Del("Grpc-Timeout")
		r.Header.Del("X-Forwarded-For")
		r.Header.Del("X-Forwarded-Host")
		st := &reqState{id: id, route: unmatchedRoute, idempotencyKey: r.Header.Get("Idempotency-Key")}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	statusRecord
	bytes int64
}

// WriteHeader records the first status.
func (w *statusWriter) WriteHeader(code int) {
	w.note(code)
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the bytes and implies 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	w.note(http.StatusOK)
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe counts, times and logs each request, names its span after the
// route and turns a panic into a 500 problem.
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := g.now()
		ctx := r.Context()
		span := trace.SpanFromContext(ctx)
		if sc := span.SpanContext(); sc.IsValid() {
			// W3C Trace Context Level 2 response header.
			w.Header().Set("traceresponse", fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags()))
		}
		sw := &statusWriter{ResponseWriter: w}
		g.metrics.inFlight.Inc()
		defer func() {
			g.metrics.inFlight.Dec()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel panic value
					panic(v)
				}
				g.logger.ErrorContext(ctx, "handler panic", slog.Any("panic", v))
				if !sw.written() {
					writeProblem(sw, r, Problem{Type: problemTypePrefix + "internal", Status: http.StatusInternalServerError, Detail: "internal error"}, nil)
				}
			}
			status := sw.code()
			route := unmatchedRoute
			if st := stateFrom(ctx); st != nil {
				route = st.route
			}
			elapsed := g.now().Sub(start)
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route))
			code := strconv.Itoa(status)
			g.metrics.requests.WithLabelValues(r.Method, route, code).Inc()
			g.metrics.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
			// Never the query, body or Authorization: they carry PII and
			// secrets. The caller is named by its opaque IDs only.
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes),
				slog.String("request_id", RequestID(ctx)),
			}
			if c, ok := CallerFrom(ctx); ok {
				attrs = append(attrs, slog.String("subject", c.Subject))
				if c.ClientID != "" {
					attrs = append(attrs, slog.String("client_id", c.ClientID))
				}
			}
			g.logger.LogAttrs(ctx, slog.LevelInfo, "http request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// limitBody refuses bodies larger than Config.MaxBodyBytes with 413: at
// once when Content-Length says so, otherwise when the reader crosses the
// limit (the decoding error then becomes a 413 problem).
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateFrom(r.Context())
		if st != nil {
			st.limit = g.cfg.MaxBodyBytes
		}
		if r.ContentLength > g.cfg.MaxBodyBytes {
			if st != nil {
				st.tooLarge = true
			}
			writeError(w, r, errBodyTooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &limitedBody{rc: r.Body, left: g.cfg.MaxBodyBytes, st: st}
		}
		next.ServeHTTP(w, r)
	})
}

// errBodyTooLarge is returned by a limited body past its limit.
var errBodyTooLarge = errors.New("request body too large")

// limitedBody fails with errBodyTooLarge once more than left bytes are read
// and flags the request state so that the error becomes a 413.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
	st   *reqState
}

// Read reads at most left+1 bytes in total.
func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		if b.st != nil {
			b.st.tooLarge = true
		}
		return n, errBodyTooLarge
	}
	return n, err
}

// Close closes the underlying body.
func (b *limitedBody) Close() error { return b.rc.Close() }

// readLimited reads r's body up to limit bytes for the raw routes; more
// marks the request too large.
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	st := stateFrom(r.Context())
	if st != nil && (st.limit == 0 || limit < st.limit) {
		st.limit = limit
	}
	if r.ContentLength > limit {
		if st != nil {
			st.tooLarge = true
		}
		return nil, errBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		if st != nil {
			st.tooLarge = true
		}
		return nil, errBodyTooLarge
	}
	return b, nil
}

// metrics are the gateway's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// authFailures counts requests refused by the route policy.
	authFailures *prometheus.CounterVec
	// rateLimited counts rate-limit decisions by class and outcome.
	rateLimited *prometheus.CounterVec
	// shed counts calls refused at the concurrency limit.
	shed prometheus.Counter
	// auditWrites counts audit/usage writes by outcome.
	auditWrites *prometheus.CounterVec
	// auditStamps counts time-stamps of the audit head by outcome.
	auditStamps *prometheus.CounterVec
}

// newMetrics registers the gateway's collectors on reg.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_http_requests_total",
			Help: "HTTP requests by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gateway_http_request_duration_seconds",
			Help:    "HTTP request latency by method and route template.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gateway_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_auth_failures_total",
			Help: "Requests refused by the route policy, by reason (missing_token, expired, bad_signature, insufficient_scope, insufficient_acr, max_age, ...).",
		}, []string{"reason"}),
	}
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_rate_limit_decisions_total",
		Help: "Rate-limit decisions by route class and outcome (allowed, limited; local_allowed, local_limited while the shared bucket does not answer).",
	}, []string{"class", "outcome"})
	m.shed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gateway_shed_total",
		Help: "Calls refused with 503 at the global concurrency limit.",
	})
	m.auditWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_audit_writes_total",
		Help: "Calls recorded in the audit log and usage counters, by outcome (ok, error).",
	}, []string{"outcome"})
	m.auditStamps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_audit_timestamps_total",
		Help: "RFC 3161 time-stamps of the audit chain head, by outcome (ok, error).",
	}, []string{"outcome"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.authFailures, m.rateLimited, m.shed, m.auditWrites, m.auditStamps} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	return m, nil
}
