package telemetry

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys shared by every Tamkeen service, so that log queries
// work the same everywhere.
const (
	KeyService = "service"
	KeyTraceID = "trace_id"
	KeySpanID  = "span_id"
)

// LoggerOptions configures NewLogger.
type LoggerOptions struct {
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
	// Service names the process or enabler ("payment"); it is added to
	// every record as the "service" attribute when not empty.
	Service string
}

// NewLogger returns a JSON logger writing to w. Records logged with a
// context (logger.InfoContext and friends) that holds a valid OpenTelemetry
// span carry its "trace_id" and "span_id", so a log line can be found from a
// trace and back.
func NewLogger(w io.Writer, opts LoggerOptions) *slog.Logger {
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	var h slog.Handler = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	if opts.Service != "" {
		h = h.WithAttrs([]slog.Attr{slog.String(KeyService, opts.Service)})
	}
	return slog.New(TraceHandler(h))
}

// TraceHandler wraps h so that every record handled with a context holding
// a valid span gets top-level "trace_id" and "span_id" attributes, even under
// groups opened with WithGroup. Wrapping an already wrapped handler returns
// it unchanged, so libraries can call it on any logger they are given.
func TraceHandler(h slog.Handler) slog.Handler {
	if th, ok := h.(*traceHandler); ok {
		return th
	}
	return &traceHandler{base: h, cur: h}
}

// traceHandler adds trace and span IDs. It keeps the handler as it was before
// the first WithGroup (base) and the attrs/groups added after it (ops), so
// that the IDs can be attached at the top level rather than inside a group.
type traceHandler struct {
	base slog.Handler // h with every WithAttrs up to the first WithGroup
	cur  slog.Handler // h with everything applied
	ops  []handlerOp  // WithGroup/WithAttrs calls since the first group
}

// handlerOp is one WithGroup (group != "") or WithAttrs call to replay.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

// Enabled reports whether the wrapped handler handles level.
func (h *traceHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.cur.Enabled(ctx, level)
}

// Handle adds the IDs of ctx's span, when there is one, and passes r on.
func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.cur.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(KeyTraceID, sc.TraceID().String()),
		slog.String(KeySpanID, sc.SpanID().String()),
	}
	if len(h.ops) == 0 {
		// Clone: a record handed to several handlers must not be
		// modified in place.
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.cur.Handle(ctx, r)
	}
	// Rare path: rebuild the group chain on top of the IDs.
	next := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			next = next.WithGroup(op.group)
		} else {
			next = next.WithAttrs(op.attrs)
		}
	}
	return next.Handle(ctx, r)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	n := &traceHandler{base: h.base, cur: h.cur.WithAttrs(attrs)}
	if len(h.ops) == 0 {
		n.base = n.cur
		return n
	}
	n.ops = append(append([]handlerOp(nil), h.ops...), handlerOp{attrs: attrs})
	return n
}

// WithGroup returns a handler that nests later attributes under name.
func (h *traceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &traceHandler{
		base: h.base,
		cur:  h.cur.WithGroup(name),
		ops:  append(append([]handlerOp(nil), h.ops...), handlerOp{group: name}),
	}
}
