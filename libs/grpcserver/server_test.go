package grpcserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// callTimeout bounds each call so a broken server fails the test quickly.
const callTimeout = 5 * time.Second

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}

func TestRecoveryKeepsServing(t *testing.T) {
	h := start(t, grpcserver.Options{})
	ctx := callCtx(t)

	_, err := h.echoCall(ctx, "panic")
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("panicking call = %v %q; want Internal %q", st.Code(), st.Message(), "internal error")
	}
	if _, err := h.numbers(ctx, -1); status.Code(err) != codes.Internal {
		t.Errorf("panicking stream = %v; want Internal", err)
	}
	// The process survived and still serves.
	if got, err := h.echoCall(ctx, "hello"); err != nil || got != "hello" {
		t.Errorf("after panic: Echo = %q, %v; want hello, nil", got, err)
	}
	if got, err := h.numbers(ctx, 3); err != nil || len(got) != 3 {
		t.Errorf("after panic: Numbers = %v, %v; want 3 values", got, err)
	}

	var panics int
	for _, m := range h.logs.lines(t) {
		if m["msg"] == "panic in grpc handler" {
			panics++
			if stack, _ := m["stack"].(string); !strings.Contains(stack, "(*echo).") {
				t.Errorf("panic log stack does not point at the handler: %.200s", stack)
			}
		}
	}
	if panics != 2 {
		t.Errorf("panic log lines = %d; want 2", panics)
	}
}

func TestRequestLogCarriesClientTraceID(t *testing.T) {
	serverSpans := tracetest.NewInMemoryExporter()
	clientSpans := tracetest.NewInMemoryExporter()
	serverTr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{ServiceName: "echo", Exporter: serverSpans})
	if err != nil {
		t.Fatal(err)
	}
	clientTr, err := telemetry.NewTracing(context.Background(), telemetry.TracingOptions{ServiceName: "gateway", Exporter: clientSpans})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, grpcserver.Options{Tracing: serverTr}, grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: clientTr})...)

	ctx, span := clientTr.Provider.Tracer("test").Start(callCtx(t), "ministry-request")
	for _, v := range []string{"hello", "fail"} {
		_, _ = h.echoCall(ctx, v)
	}
	span.End()
	want := span.SpanContext().TraceID()

	logs := h.logs.callLogs(t, methodEcho)
	if len(logs) != 2 {
		t.Fatalf("request log lines = %d; want 2:\n%s", len(logs), h.logs.String())
	}
	for _, m := range logs {
		if m["trace_id"] != want.String() {
			t.Errorf("request log trace_id = %v; want the client's %s", m["trace_id"], want)
		}
	}
	// The log line for the unexpected error carries the same trace.
	for _, m := range h.logs.lines(t) {
		if m["msg"] == "unmapped error at rpc boundary" && m["trace_id"] != want.String() {
			t.Errorf("error log trace_id = %v; want %s", m["trace_id"], want)
		}
	}

	// The server span is a child of the client's RPC span, in the same trace.
	clientRPC := map[trace.SpanID]bool{}
	for _, s := range clientSpans.GetSpans() {
		if s.SpanKind == trace.SpanKindClient {
			clientRPC[s.SpanContext.SpanID()] = true
		}
	}
	// otelgrpc ends the server span after the answer is on the wire, so
	// the client can hold its reply before the span is recorded: wait for
	// it rather than race it.
	serverKind := func() (n int) {
		for _, s := range serverSpans.GetSpans() {
			if s.SpanKind == trace.SpanKindServer {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(5 * time.Second); serverKind() < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	var servers int
	for _, s := range serverSpans.GetSpans() {
		if s.SpanKind != trace.SpanKindServer {
			continue
		}
		servers++
		if s.SpanContext.TraceID() != want || !clientRPC[s.Parent.SpanID()] {
			t.Errorf("server span %s: trace %s parent %s; want trace %s and a client RPC span as parent",
				s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(), want)
		}
	}
	if servers != 2 {
		t.Errorf("server spans = %d; want 2", servers)
	}
}

func TestRequestLogFieldsAndNoBody(t *testing.T) {
	h := start(t, grpcserver.Options{})
	ctx := callCtx(t)
	const secret = "otp=493817;password=Tamkeen-S3cret!"
	if got, err := h.echoCall(ctx, secret); err != nil || got != secret {
		t.Fatalf("Echo = %q, %v; want the secret echoed", got, err)
	}
	if _, err := h.echoCall(ctx, "invalid"); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Echo(invalid) = %v; want InvalidArgument", err)
	}
	all := h.logs.String()
	for _, leak := range []string{"493817", "S3cret", "E.164"} {
		if strings.Contains(all, leak) {
			t.Errorf("log contains %q from a request, response or field reason:\n%s", leak, all)
		}
	}
	logs := h.logs.callLogs(t, methodEcho)
	if len(logs) != 2 {
		t.Fatalf("request log lines = %d; want 2:\n%s", len(logs), all)
	}
	ok, bad := logs[0], logs[1]
	if ok["code"] != "OK" || ok["peer"] == nil || ok["level"] != "INFO" || ok["service"] != "test" {
		t.Errorf("OK call log = %v; want code OK, a peer, level INFO, service test", ok)
	}
	if d, isNum := ok["duration_ms"].(float64); !isNum || d < 0 {
		t.Errorf("duration_ms = %v; want a non-negative number", ok["duration_ms"])
	}
	if bad["code"] != "InvalidArgument" || bad["reason"] != rpcerr.ReasonInvalidArgument || bad["fields"] != "phone_number,template_id" {
		t.Errorf("invalid call log = %v; want code InvalidArgument, its reason and field names", bad)
	}
}

func TestErrorsAreMapped(t *testing.T) {
	h := start(t, grpcserver.Options{})
	ctx := callCtx(t)
	tests := []struct {
		name       string
		req        string
		code       codes.Code
		msg        string
		fields     []rpcerr.FieldError
		retryAfter time.Duration
	}{
		{name: "unexpected error hides its text", req: "fail", code: codes.Internal, msg: "internal error"},
		{
			name: "joined field errors", req: "invalid", code: codes.InvalidArgument,
			msg: "invalid argument: phone_number: must be in E.164 format; template_id: is required",
			fields: []rpcerr.FieldError{
				{Field: "phone_number", Reason: "must be in E.164 format", Code: "phone_number.invalid"},
				{Field: "template_id", Reason: "is required", Code: "template_id.invalid"},
			},
		},
		{name: "retry info", req: "busy", code: codes.ResourceExhausted, msg: "too many requests", retryAfter: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.echoCall(ctx, tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("Echo(%s) = %v %q; want %v %q", tt.req, st.Code(), st.Message(), tt.code, tt.msg)
			}
			got := rpcerr.FieldViolations(err)
			if len(got) != len(tt.fields) {
				t.Fatalf("FieldViolations = %v; want %v", got, tt.fields)
			}
			for i := range got {
				if got[i] != tt.fields[i] {
					t.Errorf("FieldViolations[%d] = %v; want %v", i, got[i], tt.fields[i])
				}
			}
			d, ok := rpcerr.RetryAfter(err)
			if ok != (tt.retryAfter > 0) || d != tt.retryAfter {
				t.Errorf("RetryAfter = %v, %v; want %v", d, ok, tt.retryAfter)
			}
		})
	}
	if !strings.Contains(h.logs.String(), errStore.Error()) {
		t.Errorf("the unexpected error was not logged for operators")
	}
}

func TestExtraInterceptorsRunInsideBuiltins(t *testing.T) {
	var calls int
	extra := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		calls++
		if info.FullMethod == methodEcho {
			if v, _ := req.(interface{ GetValue() string }); v != nil && v.GetValue() == "interceptor-panic" {
				panic("interceptor bug")
			}
		}
		return handler(ctx, req)
	}
	h := start(t, grpcserver.Options{UnaryInterceptors: []grpc.UnaryServerInterceptor{extra}})
	ctx := callCtx(t)
	if _, err := h.echoCall(ctx, "interceptor-panic"); status.Code(err) != codes.Internal {
		t.Errorf("panic in extra interceptor = %v; want Internal (recovered)", err)
	}
	if got, err := h.echoCall(ctx, "hi"); err != nil || got != "hi" {
		t.Errorf("Echo = %q, %v; want hi", got, err)
	}
	if calls != 2 {
		t.Errorf("extra interceptor calls = %d; want 2", calls)
	}
}

func TestHealthReportsServingThenNotServing(t *testing.T) {
	h := start(t, grpcserver.Options{ShutdownTimeout: 5 * time.Second})
	ctx := callCtx(t)
	hc := healthpb.NewHealthClient(h.conn)

	for _, svc := range []string{"", echoService} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, %v; want SERVING", svc, resp.GetStatus(), err)
		}
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "tamkeen.nope.v1.Nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check(unregistered) = %v; want NotFound", err)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{Service: echoService})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch status = %v, %v; want SERVING", m.GetStatus(), err)
	}

	h.stop()
	// Shutdown's first step reaches watchers while the server still runs.
	if m, err := w.Recv(); err != nil || m.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch status after shutdown began = %v, %v; want NOT_SERVING", m.GetStatus(), err)
	}
	resp, err := h.srv.Health().Check(ctx, &healthpb.HealthCheckRequest{Service: echoService})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("Health().Check = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	// The open Watch is an in-flight call; ending it lets GracefulStop finish.
	stopWatch()
	select {
	case err := <-h.served:
		if err != nil {
			t.Errorf("Serve = %v; want nil", err)
		}
		h.served <- err // for the cleanup
	case <-time.After(3 * time.Second):
		t.Errorf("Serve did not return after the last call ended")
	}
}

func TestGracefulShutdownWaitsForInFlightCall(t *testing.T) {
	h := start(t, grpcserver.Options{ShutdownTimeout: 5 * time.Second})
	ctx := callCtx(t)
	type result struct {
		got string
		err error
	}
	res := make(chan result, 1)
	go func() {
		got, err := h.echoCall(ctx, "block")
		res <- result{got, err}
	}()
	<-h.svc.started
	h.stop()

	select {
	case err := <-h.served:
		t.Fatalf("Serve returned %v while a call was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(h.svc.release)
	r := <-res
	if r.err != nil || r.got != "block" {
		t.Errorf("in-flight call = %q, %v; want it to complete", r.got, r.err)
	}
	select {
	case err := <-h.served:
		if err != nil {
			t.Errorf("Serve = %v; want nil", err)
		}
		h.served <- err
	case <-time.After(2 * time.Second):
		t.Fatalf("Serve did not return after the in-flight call completed")
	}
	// New calls are refused once the server stopped.
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := h.echoCall(short, "late"); err == nil {
		t.Errorf("call after shutdown succeeded; want an error")
	}
}

func TestShutdownDeadlineStopsStuckCall(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := start(t, grpcserver.Options{ShutdownTimeout: timeout})
	ctx := callCtx(t)
	errc := make(chan error, 1)
	go func() {
		_, err := h.echoCall(ctx, "stuck")
		errc <- err
	}()
	<-h.svc.started
	began := time.Now()
	h.stop()
	select {
	case err := <-h.served:
		if err != nil {
			t.Errorf("Serve = %v; want nil", err)
		}
		h.served <- err
	case <-time.After(timeout + 3*time.Second):
		t.Fatalf("Serve did not return within the shutdown deadline")
	}
	if took := time.Since(began); took < timeout {
		t.Errorf("Serve returned after %v; want it to wait for the %v deadline", took, timeout)
	}
	if err := <-errc; err == nil {
		t.Errorf("stuck call succeeded; want it cancelled by Stop")
	}
	if !strings.Contains(h.logs.String(), "graceful stop timed out") {
		t.Errorf("no log line about the forced stop")
	}
}

func TestMaxMessageSize(t *testing.T) {
	h := start(t, grpcserver.Options{MaxRecvMsgSize: 1024, MaxSendMsgSize: 1024})
	ctx := callCtx(t)
	tests := []struct {
		name string
		size int
		code codes.Code
	}{
		{name: "small", size: 100, code: codes.OK},
		{name: "too large", size: 2048, code: codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.echoCall(ctx, strings.Repeat("x", tt.size))
			if status.Code(err) != tt.code {
				t.Errorf("Echo(%d bytes) = %v; want %v", tt.size, err, tt.code)
			}
		})
	}
	// The server still serves after rejecting a large message.
	if _, err := h.echoCall(ctx, "ok"); err != nil {
		t.Errorf("Echo after rejection = %v", err)
	}
}

func TestClientMaxMessageSize(t *testing.T) {
	h := start(t, grpcserver.Options{}, grpcserver.ClientOptions(grpcserver.ClientOpts{MaxMsgSize: 1024})...)
	ctx := callCtx(t)
	if _, err := h.echoCall(ctx, strings.Repeat("x", 2048)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("client sending 2 KiB with a 1 KiB limit = %v; want ResourceExhausted", err)
	}
}

// counterValue returns the value of grpc_server_handled_total for labels.
func counterValue(t *testing.T, g prometheus.Gatherer, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "grpc_server_handled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	n := 0
	for _, lp := range m.GetLabel() {
		if v, ok := labels[lp.GetName()]; ok {
			if v != lp.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(labels)
}

func TestMetrics(t *testing.T) {
	reg := telemetry.NewRegistry()
	// Two servers share one registry, as in tamkeen dev.
	h1 := start(t, grpcserver.Options{Registerer: reg})
	h2 := start(t, grpcserver.Options{Registerer: reg})
	ctx := callCtx(t)
	for _, v := range []string{"a", "b", "fail"} {
		_, _ = h1.echoCall(ctx, v)
	}
	_, _ = h2.echoCall(ctx, "c")
	if _, err := h1.numbers(ctx, 2); err != nil {
		t.Fatalf("Numbers: %v", err)
	}
	tests := []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"grpc_service": echoService, "grpc_method": "Echo", "grpc_code": "OK", "grpc_type": "unary"}, 3},
		{map[string]string{"grpc_service": echoService, "grpc_method": "Echo", "grpc_code": "Internal"}, 1},
		{map[string]string{"grpc_service": echoService, "grpc_method": "Numbers", "grpc_code": "OK", "grpc_type": "server_stream"}, 1},
	}
	for _, tt := range tests {
		if got := counterValue(t, reg, tt.labels); got != tt.want {
			t.Errorf("grpc_server_handled_total%v = %v; want %v", tt.labels, got, tt.want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var histogram bool
	for _, mf := range mfs {
		if mf.GetName() == "grpc_server_handling_seconds" {
			histogram = true
		}
	}
	if !histogram {
		t.Errorf("grpc_server_handling_seconds not registered")
	}
}

func TestServeReturnsWhenListenerFails(t *testing.T) {
	srv := grpcserver.New(grpcserver.Options{})
	lis := &failingListener{}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background(), lis) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("Serve = nil; want the accept error")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Serve did not return after Accept failed")
	}
}

func TestDrainDelayKeepsServingWhileNotServing(t *testing.T) {
	const drain = 400 * time.Millisecond
	h := start(t, grpcserver.Options{DrainDelay: drain, ShutdownTimeout: time.Second})
	ctx := callCtx(t)
	h.stop()
	deadline := time.Now().Add(drain / 2)
	for {
		resp, err := h.srv.Health().Check(ctx, &healthpb.HealthCheckRequest{Service: echoService})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %v, %v; want NOT_SERVING early in the drain", resp.GetStatus(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Traffic that still arrives during the drain is served.
	if got, err := h.echoCall(ctx, "late but welcome"); err != nil || got != "late but welcome" {
		t.Errorf("call during drain = %q, %v; want it served", got, err)
	}
}

func TestLogLevels(t *testing.T) {
	h := start(t, grpcserver.Options{})
	ctx := callCtx(t)
	if _, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health Check: %v", err)
	}
	_, _ = h.echoCall(ctx, "fail")
	_, _ = h.numbers(ctx, 1)
	tests := []struct {
		method, kind, code, level string
	}{
		{"/grpc.health.v1.Health/Check", "unary", "OK", "DEBUG"},
		{methodEcho, "unary", "Internal", "ERROR"},
		{methodNumbers, "stream", "OK", "INFO"},
	}
	for _, tt := range tests {
		logs := h.logs.callLogs(t, tt.method)
		if len(logs) != 1 {
			t.Errorf("%s: %d request log lines; want 1", tt.method, len(logs))
			continue
		}
		m := logs[0]
		if m["kind"] != tt.kind || m["code"] != tt.code || m["level"] != tt.level {
			t.Errorf("%s log = kind %v code %v level %v; want %s %s %s", tt.method, m["kind"], m["code"], m["level"], tt.kind, tt.code, tt.level)
		}
	}
}
