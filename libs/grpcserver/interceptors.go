package grpcserver

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// healthPrefix marks health-check calls, logged at debug level because
// probes call them every few seconds.
const healthPrefix = "/grpc.health.v1.Health/"

// unaryLog logs one line per call: method, code, duration, peer and, through
// the context, the trace ID. Request and response bodies are never logged:
// they hold OTPs, passwords, national IDs and documents.
func unaryLog(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		logCall(ctx, logger, info.FullMethod, "unary", start, err)
		return resp, err
	}
}

// streamLog is unaryLog for streaming calls; it logs when the stream ends.
func streamLog(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logCall(ss.Context(), logger, info.FullMethod, "stream", start, err)
		return err
	}
}

// logCall writes the request log line for one finished call.
func logCall(ctx context.Context, logger *slog.Logger, method, kind string, start time.Time, err error) {
	code := status.Code(err)
	level := levelFor(code)
	if strings.HasPrefix(method, healthPrefix) {
		level = slog.LevelDebug
	}
	if !logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("kind", kind),
		slog.String("code", code.String()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	if err != nil {
		// Not the status message: a field reason may echo caller input.
		// The machine reason and the names of bad fields are enough to
		// find the call; the handler logs details it knows to be safe.
		if reason := rpcerr.Reason(err); reason != "" {
			attrs = append(attrs, slog.String("reason", reason))
		}
		if fes := rpcerr.FieldViolations(err); len(fes) > 0 {
			names := make([]string, len(fes))
			for i, fe := range fes {
				names[i] = fe.Field
			}
			attrs = append(attrs, slog.String("fields", strings.Join(names, ",")))
		}
	}
	logger.LogAttrs(ctx, level, "grpc call", attrs...)
}

// levelFor picks the log level of a finished call by how much an operator
// should care: caller mistakes are info, server faults are errors.
func levelFor(code codes.Code) slog.Level {
	switch code {
	case codes.DeadlineExceeded, codes.Unavailable:
		return slog.LevelWarn
	case codes.Unknown, codes.Internal, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// recoveryHandler turns a panic into codes.Internal with a generic message
// and logs the panic and stack with ctx, so the report carries the trace ID.
func recoveryHandler(logger *slog.Logger) recovery.RecoveryHandlerFuncContext {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in grpc handler",
			slog.String("panic", fmt.Sprint(p)),
			slog.String("stack", string(debug.Stack())),
		)
		return status.Error(codes.Internal, "internal error")
	}
}

// unaryRecover keeps the process alive when a handler panics.
func unaryRecover(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return recovery.UnaryServerInterceptor(recovery.WithRecoveryHandlerContext(recoveryHandler(logger)))
}

// streamRecover keeps the process alive when a stream handler panics.
func streamRecover(logger *slog.Logger) grpc.StreamServerInterceptor {
	return recovery.StreamServerInterceptor(recovery.WithRecoveryHandlerContext(recoveryHandler(logger)))
}

// unaryMapErrors passes handler errors through rpcerr.FromDomain: statuses
// stay as they are; field errors and rpcerr sentinels get their codes; any
// other error is logged and becomes Internal, instead of grpc-go's default
// of codes.Unknown carrying err.Error() to the caller.
func unaryMapErrors(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return resp, rpcerr.FromDomain(err, logger, ctx)
		}
		return resp, nil
	}
}

// streamMapErrors is unaryMapErrors for streaming calls.
func streamMapErrors(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := handler(srv, ss); err != nil {
			return rpcerr.FromDomain(err, logger, ss.Context())
		}
		return nil
	}
}
