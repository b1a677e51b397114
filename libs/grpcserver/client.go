package grpcserver

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// ClientOpts configures ClientOptions.
type ClientOpts struct {
	// Tracing, when set, traces outgoing calls and propagates the trace
	// context to the server.
	Tracing *telemetry.Tracing
	// MaxMsgSize limits sent and received messages in bytes; 0 means
	// DefaultMaxMsgSize, matching the servers.
	MaxMsgSize int
}

// ClientOptions returns dial options for calling Tamkeen services (the
// gateway, or in-process use in tamkeen dev). Transport credentials are the
// caller's choice and are not included: add
// grpc.WithTransportCredentials(...) to the result.
func ClientOptions(opts ClientOpts) []grpc.DialOption {
	size := opts.MaxMsgSize
	if size <= 0 {
		size = DefaultMaxMsgSize
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(size), grpc.MaxCallSendMsgSize(size)),
	}
	if opts.Tracing != nil {
		dial = append(dial, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOptions(opts.Tracing)...)))
	}
	return dial
}
