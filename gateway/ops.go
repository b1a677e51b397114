package gateway

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// registerOps registers the public documentation, /openapi.json and
// /docs. The operators' endpoints are on OpsHandler, not here.
func (g *Gateway) registerOps() error {
	for _, rt := range []rawRoute{
		{http.MethodGet, "/openapi.json", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			writeJSON(w, http.StatusOK, g.openapi)
		}},
		{http.MethodGet, "/docs", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			// The page is self-contained: forbid loading anything else,
			// being framed (clickjacking) and leaking the URL onwards.
			h.Set("Content-Security-Policy", docsCSP)
			h.Set("Referrer-Policy", "no-referrer")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(g.docs)
		}},
		{http.MethodGet, "/openapi.yaml", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			w.Header().Set("Content-Type", "application/yaml")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(g.openapiYAML)
		}},
		{http.MethodGet, serviceDocPath, "", g.serveServiceDoc},
		{http.MethodGet, docsScriptPath, "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			h := w.Header()
			h.Set("Content-Type", "text/javascript; charset=utf-8")
			h.Set("Cache-Control", "public, max-age=86400")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(g.docsScript)
		}},
	} {
		if err := g.handlePath(rt.method, rt.path, "", rt.h); err != nil {
			return err
		}
	}
	return nil
}

// newOpsHandler builds the operators' endpoints: /healthz (the process
// answers), /readyz (every backend and NATS), /metrics and the
// /debug/pprof/ profiles. They name the backends, their states and the
// process's internals, so they are served on their own listener
// (Config.OpsAddr, ServeOps) that only monitoring reaches — never on the
// public API port, which the Ingress exposes as a whole.
func (g *Gateway) newOpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", g.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{}))
	telemetry.HandleProfiles(mux)
	// Request IDs (and nosniff) as on the API, so that a /readyz problem
	// is as traceable as any other.
	return g.requestID(mux)
}

// writeJSON writes a JSON body.
func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// check is the outcome of one readiness check.
type check struct {
	name  string
	state string
	ok    bool
	// degraded: working, with less than it should (still ready).
	degraded bool
}

// ready answers /readyz: 200 when NATS (if configured) is connected and
// every backend's gRPC health check says SERVING, else 503 naming the rest.
// A replica whose rate limiter limits on its own because the shared bucket
// does not answer is still ready (taking it out of the load balancer would
// not bring the bucket back) but says "status":"degraded", with the
// ratelimit check "LOCAL".
func (g *Gateway) ready(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	results := make([]check, len(g.backends))
	var wg sync.WaitGroup
	for i, b := range g.backends {
		wg.Go(func() {
			results[i] = g.checkBackend(ctx, b)
		})
	}
	wg.Wait()
	if g.nc != nil {
		st := g.nc.Status()
		results = append(results, check{name: "nats", state: strings.ToUpper(st.String()), ok: st == nats.CONNECTED})
	}
	if g.limiter != nil {
		c := check{name: "ratelimit", state: "SHARED", ok: true}
		if degraded, since := g.limiter.degraded(); degraded {
			c.state, c.degraded = "LOCAL since "+since.UTC().Format(time.RFC3339), true
		}
		results = append(results, c)
	}
	var bad []FieldError
	var parts []string
	status := "ready"
	for _, c := range results {
		parts = append(parts, `"`+c.name+`":"`+c.state+`"`)
		if !c.ok {
			bad = append(bad, FieldError{Field: c.name, Reason: c.state})
		}
		if c.degraded {
			status = "degraded"
		}
	}
	if len(bad) == 0 {
		sort.Strings(parts)
		writeJSON(w, http.StatusOK, []byte(`{"status":"`+status+`","checks":{`+strings.Join(parts, ",")+`}}`))
		return
	}
	names := make([]string, len(bad))
	for i, b := range bad {
		names[i] = b.Field + " (" + b.Reason + ")"
	}
	writeProblem(w, r, Problem{
		Type:   problemTypePrefix + "not-ready",
		Status: http.StatusServiceUnavailable,
		Detail: "not ready: " + strings.Join(names, ", "),
		Errors: bad,
	}, http.Header{"Retry-After": {"1"}})
}

// checkBackend asks b's health service about b's gRPC service, falling back
// to the server-wide status ("") when the service name is not registered.
func (g *Gateway) checkBackend(ctx context.Context, b backend) check {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ReadyTimeout)
	defer cancel()
	state, err := healthState(ctx, b.conn, b.service)
	if status.Code(err) == codes.NotFound {
		state, err = healthState(ctx, b.conn, "")
	}
	if err != nil {
		s := "UNREACHABLE"
		switch status.Code(err) {
		case codes.DeadlineExceeded:
			s = "TIMEOUT"
		case codes.Unimplemented:
			s = "NO_HEALTH_SERVICE"
		case codes.NotFound:
			s = "SERVICE_UNKNOWN"
		}
		return check{name: b.name, state: s}
	}
	return check{name: b.name, state: state.String(), ok: state == healthpb.HealthCheckResponse_SERVING}
}

// healthState runs one gRPC health Check.
func healthState(ctx context.Context, cc *grpc.ClientConn, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN, err
	}
	return resp.GetStatus(), nil
}

// LoopbackOnly serves h only to clients whose connection comes from a
// loopback address and answers everyone else 403: for pages that must
// never leave the developer's machine, such as `tamkeen dev`'s /dev/inbox,
// which shows every SMS, one-time codes included. It trusts the socket's
// peer address alone (the gateway drops X-Forwarded-For), so binding
// --http-addr to 0.0.0.0 does not publish the page.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Unmap().IsLoopback() {
			writeProblem(w, r, Problem{
				Type:   problemTypePrefix + "loopback-only",
				Status: http.StatusForbidden,
				Detail: "this page is served to loopback clients only",
			}, nil)
			return
		}
		h.ServeHTTP(w, r)
	})
}
