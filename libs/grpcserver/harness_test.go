package grpcserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// The test service is written by hand (no generated code): Echo is unary,
// Numbers streams back n values. What Echo does depends on the request.
const (
	echoService   = "tamkeen.test.v1.Echo"
	methodEcho    = "/" + echoService + "/Echo"
	methodNumbers = "/" + echoService + "/Numbers"
)

// echoer is the handler type the service descriptor asserts.
type echoer interface {
	Echo(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	Numbers(*wrapperspb.Int32Value, grpc.ServerStream) error
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: echoService,
	HandlerType: (*echoer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req any) (any, error) {
				return srv.(echoer).Echo(ctx, req.(*wrapperspb.StringValue))
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: methodEcho}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Numbers",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.Int32Value)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(echoer).Numbers(in, stream)
		},
	}},
}

// echo implements echoer. Requests: "panic" panics, "block" signals started
// and waits for release (or cancellation), "stuck" waits for cancellation
// only, "fail" returns an unexpected error, "invalid" a field error,
// "busy" a rate limit; anything else is echoed.
type echo struct {
	started chan struct{}
	release chan struct{}
}

func newEcho() *echo {
	return &echo{started: make(chan struct{}, 8), release: make(chan struct{})}
}

// errStore is an unexpected error whose text must not reach callers.
var errStore = errors.New("store: dial tcp 10.0.3.7:5432: connection refused")

func (e *echo) Echo(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	switch in.GetValue() {
	case "panic":
		var m map[string]int
		//lint:ignore SA5000 the nil map write is the point: a real runtime panic, not a panic("...") call.
		m["boom"]++
	case "block":
		e.started <- struct{}{}
		select {
		case <-e.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case "stuck":
		e.started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	case "fail":
		return nil, errStore
	case "invalid":
		return nil, errors.Join(
			&rpcerr.FieldError{Field: "phone_number", Reason: "must be in E.164 format"},
			&rpcerr.FieldError{Field: "template_id", Reason: "is required"},
		)
	case "busy":
		return nil, rpcerr.ResourceExhausted("too many requests", 30*time.Second)
	}
	return wrapperspb.String(in.GetValue()), nil
}

func (e *echo) Numbers(in *wrapperspb.Int32Value, stream grpc.ServerStream) error {
	if in.GetValue() < 0 {
		panic("negative count")
	}
	for i := range in.GetValue() {
		if err := stream.SendMsg(wrapperspb.Int32(i)); err != nil {
			return err
		}
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// callLogs returns the request log records for method.
func (b *syncBuffer) callLogs(t *testing.T, method string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range b.lines(t) {
		if m["msg"] == "grpc call" && m["method"] == method {
			out = append(out, m)
		}
	}
	return out
}

// harness is a running server on an in-memory listener and a client for it.
type harness struct {
	srv    *grpcserver.Server
	svc    *echo
	conn   *grpc.ClientConn
	logs   *syncBuffer
	stop   context.CancelFunc
	served chan error
}

// start runs a server built from opts (Logger is filled in) until the test
// ends or h.stop is called. dial adds client options.
func start(t *testing.T, opts grpcserver.Options, dial ...grpc.DialOption) *harness {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = telemetry.NewLogger(logs, telemetry.LoggerOptions{Service: "test", Level: slog.LevelDebug})
	}
	h := &harness{srv: grpcserver.New(opts), svc: newEcho(), logs: logs, served: make(chan error, 1)}
	h.srv.RegisterService(&echoDesc, h.svc)

	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.served <- h.srv.Serve(ctx, lis) }()

	dial = append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
	}, dial...)
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	h.conn = conn
	t.Cleanup(func() {
		cancel()
		_ = conn.Close()
		select {
		case <-h.served:
		case <-time.After(15 * time.Second):
			t.Errorf("Serve did not return after the test")
		}
	})
	return h
}

// echoCall calls Echo with value.
func (h *harness) echoCall(ctx context.Context, value string) (string, error) {
	out := new(wrapperspb.StringValue)
	err := h.conn.Invoke(ctx, methodEcho, wrapperspb.String(value), out)
	return out.GetValue(), err
}

// numbers calls Numbers(n) and collects the stream.
func (h *harness) numbers(ctx context.Context, n int32) ([]int32, error) {
	cs, err := h.conn.NewStream(ctx, &echoDesc.Streams[0], methodNumbers)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(wrapperspb.Int32(n)); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var got []int32
	for {
		v := new(wrapperspb.Int32Value)
		if err := cs.RecvMsg(v); err != nil {
			if errors.Is(err, io.EOF) {
				return got, nil
			}
			return got, err
		}
		got = append(got, v.GetValue())
	}
}
