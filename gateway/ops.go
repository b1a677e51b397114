package gateway

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// registerOps registers /healthz, /readyz, /metrics, /openapi.json and
// /docs.
func (g *Gateway) registerOps() error {
	metricsHandler := promhttp.HandlerFor(g.registry, promhttp.HandlerOpts{})
	for _, rt := range []rawRoute{
		{http.MethodGet, "/healthz", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			writeJSON(w, http.StatusOK, []byte(`{"status":"ok"}`))
		}},
		{http.MethodGet, "/readyz", "", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			g.ready(w, r)
		}},
		{http.MethodGet, "/metrics", "", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			metricsHandler.ServeHTTP(w, r)
		}},
		{http.MethodGet, "/openapi.json", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			writeJSON(w, http.StatusOK, g.openapi)
		}},
		{http.MethodGet, "/docs", "", func(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
			h := w.Header()
			h.Set("Content-Type", "text/html; charset=utf-8")
			// The page is self-contained: forbid loading anything else,
			// being framed (clickjacking) and leaking the URL onwards.
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
			h.Set("Referrer-Policy", "no-referrer")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(g.docs)
		}},
	} {
		if err := g.handlePath(rt.method, rt.path, "", rt.h); err != nil {
			return err
		}
	}
	return nil
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
}

// ready answers /readyz: 200 when NATS (if configured) is connected and
// every backend's gRPC health check says SERVING, else 503 naming the rest.
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
	var bad []FieldError
	var parts []string
	for _, c := range results {
		parts = append(parts, `"`+c.name+`":"`+c.state+`"`)
		if !c.ok {
			bad = append(bad, FieldError{Field: c.name, Reason: c.state})
		}
	}
	if len(bad) == 0 {
		sort.Strings(parts)
		writeJSON(w, http.StatusOK, []byte(`{"status":"ready","checks":{`+strings.Join(parts, ",")+`}}`))
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
