package gateway

import (
	"context"
	"log/slog"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// countingConn is a ClientConnInterface that counts the calls reaching it.
type countingConn struct{ calls int }

func (c *countingConn) Invoke(context.Context, string, any, any, ...grpc.CallOption) error {
	c.calls++
	return nil
}

func (c *countingConn) NewStream(context.Context, *grpc.StreamDesc, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	c.calls++
	return nil, nil
}

func TestGuardedConnFailsClosed(t *testing.T) {
	t.Parallel()
	const method = "/tamkeen.payment.v1.PaymentService/GetPayment"
	withState := func(rpc string) context.Context {
		return context.WithValue(context.Background(), stateKey{}, &reqState{id: "r1", rpc: rpc})
	}
	tests := []struct {
		name   string
		ctx    context.Context
		reach  bool
		stream bool
	}{
		{name: "no gateway request", ctx: context.Background()},
		{name: "no policy checked", ctx: withState("")},
		{name: "policy of another method", ctx: withState("/tamkeen.payment.v1.PaymentService/ListPayments")},
		{name: "policy of another method, stream", ctx: withState("/tamkeen.payment.v1.PaymentService/ListPayments"), stream: true},
		{name: "policy of this method", ctx: withState(method), reach: true},
		{name: "policy of this method, stream", ctx: withState(method), reach: true, stream: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := &countingConn{}
			g := guardedConn{cc: cc, logger: slog.New(slog.DiscardHandler)}
			var err error
			if tt.stream {
				_, err = g.NewStream(tt.ctx, &grpc.StreamDesc{}, method)
			} else {
				err = g.Invoke(tt.ctx, method, nil, nil)
			}
			if tt.reach && (err != nil || cc.calls != 1) {
				t.Errorf("err = %v, calls = %d; want the call made", err, cc.calls)
			}
			if !tt.reach && (status.Code(err) != codes.PermissionDenied || cc.calls != 0) {
				t.Errorf("err = %v, calls = %d; want PermissionDenied and no call", err, cc.calls)
			}
		})
	}
}

// TestRouteIndexAgreesWithRawRoutes checks that the raw handlers, which
// name their method themselves, agree with the generated route index, and
// that every generated method has a route.
func TestRouteIndexAgreesWithRawRoutes(t *testing.T) {
	t.Parallel()
	cc, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	g, err := New(Config{Issuer: "https://id.tamkeen.test"}, Deps{Backends: Backends{Auth: cc, Notification: cc, Signature: cc, Payment: cc, Content: cc}})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := generatedRoutes()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for key, m := range gen {
		methods[m] = true
		if got := g.rpcs[key]; got != m {
			t.Errorf("%s: route index says %q; the generated route calls %q", key, got, m)
		}
	}
	for _, sd := range serviceDescs() {
		for _, m := range sd.Methods {
			if full := "/" + sd.ServiceName + "/" + m.MethodName; !methods[full] {
				t.Errorf("%s has no HTTP route", full)
			}
		}
	}
	for _, key := range []string{"GET /openapi.json", "GET /docs"} {
		if m, ok := g.rpcs[key]; !ok || m != "" {
			t.Errorf("%s: index = %q, %v; want a gateway route", key, m, ok)
		}
	}
}
