// Package rpcerr translates errors at the gRPC boundary, in one place.
//
// Services build their gRPC errors with the constructors here (Invalid,
// NotFound, ...), with the Builder New returns when they need a reason,
// metadata or fields of their own, or hand a domain error to FromDomain,
// which maps field errors and the sentinels below to the right code and
// turns anything it does not recognise into codes.Internal "internal error"
// after logging it, so that no internal detail reaches a caller. Every error carries rich details
// (google.rpc.ErrorInfo, BadRequest, RetryInfo, PreconditionFailure) so that
// the gateway can render RFC 9457 problem+json that names the bad field; the
// gateway reads them back with FieldViolations, RetryAfter and Reason.
package rpcerr

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/tamkeen/tamkeen/libs/store"
)

// Domain is the ErrorInfo domain that every Tamkeen error carries.
const Domain = "tamkeen"

// Reasons carried in google.rpc.ErrorInfo; stable, UPPER_SNAKE_CASE, meant
// for machines (the gateway turns them into problem types).
const (
	ReasonInvalidArgument    = "INVALID_ARGUMENT"
	ReasonNotFound           = "NOT_FOUND"
	ReasonAlreadyExists      = "ALREADY_EXISTS"
	ReasonConflict           = "CONFLICT"
	ReasonFailedPrecondition = "FAILED_PRECONDITION"
	ReasonUnimplemented      = "UNIMPLEMENTED"
	ReasonUnauthenticated    = "UNAUTHENTICATED"
	ReasonPermissionDenied   = "PERMISSION_DENIED"
	ReasonResourceExhausted  = "RESOURCE_EXHAUSTED"
	ReasonInternal           = "INTERNAL"
	// ReasonStorageFull and ReasonStorageUnavailable: the service's
	// database is full, or cannot be reached (store.Unavailable).
	ReasonStorageFull        = "STORAGE_FULL"
	ReasonStorageUnavailable = "STORAGE_UNAVAILABLE"
)

// Sentinels a domain package can wrap (fmt.Errorf("payment %s: %w", id,
// rpcerr.ErrNotFound)) so that FromDomain maps the error to the matching code.
// The wrapped error's full text becomes the caller-visible message, so it
// must hold nothing secret or personal.
var (
	// ErrNotFound maps to codes.NotFound.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists maps to codes.AlreadyExists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict maps to codes.Aborted: a concurrent change won; retry the
	// whole read-modify-write.
	ErrConflict = errors.New("conflict")
	// ErrFailedPrecondition maps to codes.FailedPrecondition: the resource is
	// not in a state that allows the operation.
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrInvalid maps to codes.InvalidArgument when no single field is to blame.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnauthenticated maps to codes.Unauthenticated.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrPermissionDenied maps to codes.PermissionDenied.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrResourceExhausted maps to codes.ResourceExhausted (no retry hint).
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrUnimplemented maps to codes.Unimplemented.
	ErrUnimplemented = errors.New("not implemented")
)

// internalMessage is all a caller learns about an unexpected failure.
const internalMessage = "internal error"

// FieldError says which request field is wrong and why. Field is the JSON
// (snake_case) name as the HTTP caller sees it, e.g. "phone_number", with
// dots and indexes for nested fields ("splits[1].amount"). Reason is shown to
// the caller, so it must not echo secret input back.
//
// Code is the stable machine code a caller's program switches on,
// "<field>.<what>" in lower snake case without indexes, e.g.
// "national_id.check_digit" or "splits.sum_mismatch"; empty means
// "<field>.invalid" (see CodeOf). The gateway looks the code up in its
// catalogue of Arabic and English texts; Args fill the catalogue text's
// %s placeholders in order (e.g. a limit or a character position), so
// they are shown too and must be as safe as Reason; build it with
// ArgList, which keeps FieldError comparable with == as callers and tests
// have always compared it. Reason is the English text used when the
// catalogue has no entry for the code.
type FieldError struct {
	Field  string
	Reason string
	Code   string
	Args   string
}

// argSep separates the values in FieldError.Args: a control character
// that display text never holds (libs/textcheck refuses it).
const argSep = "\x1f"

// ArgList joins the values that fill a catalogue text's placeholders into
// a FieldError.Args.
func ArgList(values ...string) string { return strings.Join(values, argSep) }

// SplitArgs is the values of a FieldError.Args, nil when there are none.
func SplitArgs(args string) []string {
	if args == "" {
		return nil
	}
	return strings.Split(args, argSep)
}

// CodeOf is e's machine code: Code when set, else the field without
// indexes followed by ".invalid" ("splits[1].amount" → "splits.amount.invalid").
func CodeOf(e FieldError) string {
	if e.Code != "" {
		return e.Code
	}
	return FieldCode(e.Field, "invalid")
}

// FieldCode builds the code "<field>.<what>" from a field path, without its
// indexes: FieldCode("splits[1].amount", "range") is "splits.amount.range".
func FieldCode(field, what string) string {
	var b strings.Builder
	depth := 0
	for _, r := range field {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return what
	}
	return b.String() + "." + what
}

// Error returns "field: reason".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Reason
}

// Invalid returns a codes.InvalidArgument error whose message lists the
// violations and whose BadRequest detail carries one FieldViolation each.
func Invalid(violations ...FieldError) error {
	msg := "invalid argument"
	if len(violations) > 0 {
		parts := make([]string, len(violations))
		for i, v := range violations {
			parts[i] = v.Field + ": " + v.Reason
		}
		msg = "invalid argument: " + strings.Join(parts, "; ")
	}
	return New(codes.InvalidArgument, ReasonInvalidArgument, msg).Fields(violations...).Err()
}

// NotFound returns codes.NotFound with the message "<kind> <id> not found",
// e.g. NotFound("payment", "pay_x") → "payment pay_x not found".
func NotFound(kind, id string) error {
	msg := kind + " not found"
	if id != "" {
		msg = kind + " " + id + " not found"
	}
	b := New(codes.NotFound, ReasonNotFound, msg).Meta("kind", kind)
	if id != "" {
		b = b.Meta("id", id)
	}
	return b.Err()
}

// AlreadyExists returns codes.AlreadyExists with msg.
func AlreadyExists(msg string) error {
	return New(codes.AlreadyExists, ReasonAlreadyExists, msg).Err()
}

// Conflict returns codes.Aborted: the operation lost a race (optimistic
// concurrency, a consumed one-time code) and may be retried from the start.
func Conflict(reason string) error {
	return New(codes.Aborted, ReasonConflict, reason).Err()
}

// FailedPrecondition returns codes.FailedPrecondition with msg and a
// PreconditionFailure detail: the system is not in a state for the call and
// retrying unchanged will not help.
func FailedPrecondition(msg string) error {
	return New(codes.FailedPrecondition, ReasonFailedPrecondition, msg).Precondition(ReasonFailedPrecondition, msg).Err()
}

// Unimplemented returns codes.Unimplemented "<op> is not implemented yet".
func Unimplemented(op string) error {
	return New(codes.Unimplemented, ReasonUnimplemented, op+" is not implemented yet").Meta("operation", op).Err()
}

// Unauthenticated returns codes.Unauthenticated with msg.
func Unauthenticated(msg string) error {
	return New(codes.Unauthenticated, ReasonUnauthenticated, msg).Err()
}

// PermissionDenied returns codes.PermissionDenied with msg.
func PermissionDenied(msg string) error {
	return New(codes.PermissionDenied, ReasonPermissionDenied, msg).Err()
}

// ResourceExhausted returns codes.ResourceExhausted with msg and, when
// retryAfter is positive, a RetryInfo detail telling the caller when to retry
// (the gateway turns it into a Retry-After header).
func ResourceExhausted(msg string, retryAfter time.Duration) error {
	return New(codes.ResourceExhausted, ReasonResourceExhausted, msg).RetryAfter(retryAfter).Err()
}

// Builder assembles one status error: a code, the caller-visible message,
// a google.rpc.ErrorInfo reason (with metadata) and, when given, field
// violations, a retry delay and precondition failures. It is the one way a
// Tamkeen status with details is made; the constructors above are its
// common cases, and a service's toStatus uses it for its own reasons (OAuth
// error codes, an idempotency-key reuse, rows of a bulk upload):
//
//	rpcerr.New(codes.InvalidArgument, "invalid_scope", msg).Field("scope", msg).Err()
//
// A Builder is a value: every method returns a changed copy.
type Builder struct {
	code       codes.Code
	msg        string
	reason     string
	md         map[string]string
	fields     []FieldError
	badRequest bool
	retryAfter time.Duration
	pre        []*errdetails.PreconditionFailure_Violation
}

// New starts a status error with code, an ErrorInfo reason (in Domain) and
// msg, which the caller sees, so it must hold nothing secret. An empty
// reason leaves the ErrorInfo out (a bare status, as status.Error makes).
func New(code codes.Code, reason, msg string) Builder {
	return Builder{code: code, msg: msg, reason: reason}
}

// Meta adds key=value to the ErrorInfo metadata.
func (b Builder) Meta(key, value string) Builder {
	md := make(map[string]string, len(b.md)+1)
	for k, v := range b.md {
		md[k] = v
	}
	md[key] = value
	b.md = md
	return b
}

// Field adds a BadRequest field violation: field is the JSON (snake_case)
// name as the HTTP caller sees it, description is shown to the caller. Its
// code is "<field>.invalid"; use Fields with a FieldError to set one.
func (b Builder) Field(field, description string) Builder {
	return b.Fields(FieldError{Field: field, Reason: description})
}

// Fields adds one BadRequest field violation per FieldError, in order; with
// none it still adds an empty BadRequest, as Invalid() has always sent.
func (b Builder) Fields(violations ...FieldError) Builder {
	b.badRequest = true
	b.fields = append(b.fields[:len(b.fields):len(b.fields)], violations...)
	return b
}

// RetryAfter adds a RetryInfo detail when d is positive (the gateway turns
// it into a Retry-After header); zero or less adds nothing.
func (b Builder) RetryAfter(d time.Duration) Builder {
	b.retryAfter = d
	return b
}

// Precondition adds a PreconditionFailure violation of type kind.
func (b Builder) Precondition(kind, description string) Builder {
	b.pre = append(b.pre[:len(b.pre):len(b.pre)], &errdetails.PreconditionFailure_Violation{Type: kind, Description: description})
	return b
}

// argsKeyPrefix starts the ErrorInfo metadata key that carries the Args of
// field violation i: "violation_args_<i>". BadRequest.FieldViolation has
// no room for them.
const argsKeyPrefix = "violation_args_"

// Err returns the status error, its details in a fixed order: ErrorInfo,
// BadRequest, RetryInfo, PreconditionFailure. Each field violation's code
// travels in its FieldViolation.reason (google.rpc's own field for a
// violation's machine-readable cause; our codes are lower dotted snake
// case, not its suggested UPPER_SNAKE, because they name the field), its
// Args in the ErrorInfo metadata (so only when there is a reason).
func (b Builder) Err() error {
	var details []protoadapt.MessageV1
	if b.badRequest && b.reason != "" {
		for i, v := range b.fields {
			if v.Args != "" {
				b = b.Meta(argsKeyPrefix+strconv.Itoa(i), v.Args)
			}
		}
	}
	if b.reason != "" {
		details = append(details, &errdetails.ErrorInfo{Reason: b.reason, Domain: Domain, Metadata: b.md})
	}
	if b.badRequest {
		br := &errdetails.BadRequest{}
		for _, v := range b.fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field:       v.Field,
				Description: v.Reason,
				Reason:      CodeOf(v),
			})
		}
		details = append(details, br)
	}
	if b.retryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(b.retryAfter)})
	}
	if len(b.pre) > 0 {
		details = append(details, &errdetails.PreconditionFailure{Violations: b.pre})
	}
	if len(details) == 0 {
		return status.Error(b.code, b.msg)
	}
	st, err := status.New(b.code, b.msg).WithDetails(details...)
	if err != nil {
		// Only a marshalling failure of the details lands here; the code
		// and message still tell the caller what happened.
		return status.Error(b.code, b.msg)
	}
	return st.Err()
}

// grpcStatuser is implemented by errors that already are gRPC statuses.
type grpcStatuser interface {
	GRPCStatus() *status.Status
}

// Rule maps one sentinel error to the status a caller gets for it: a
// service's toStatus lists its own sentinels as a []Rule, in the order they
// are checked, and hands them to Map, instead of an if-chain per service.
type Rule struct {
	// Err is matched with errors.Is.
	Err error
	// Code is the status code.
	Code codes.Code
	// Reason is the ErrorInfo reason; "" leaves the ErrorInfo out.
	Reason string
	// Msg is the caller-visible message; "" uses the error's own text
	// (which must then be caller-safe).
	Msg string
	// Field, when set, adds a BadRequest violation of that field with the
	// message as its description.
	Field string
	// FieldCode is that violation's machine code; "" is "<Field>.invalid".
	FieldCode string
}

// Map returns the status of the first rule whose Err err is or wraps, or
// nil when no rule matches (the caller then goes on, usually to
// FromDomain).
func Map(err error, rules []Rule) error {
	for _, r := range rules {
		if !errors.Is(err, r.Err) {
			continue
		}
		msg := r.Msg
		if msg == "" {
			msg = err.Error()
		}
		b := New(r.Code, r.Reason, msg)
		if r.Field != "" {
			b = b.Fields(FieldError{Field: r.Field, Reason: msg, Code: r.FieldCode})
		}
		return b.Err()
	}
	return nil
}

// sentinelRules maps the package sentinels to their codes, in the order
// FromDomain checks them.
var sentinelRules = []Rule{
	{Err: ErrNotFound, Code: codes.NotFound, Reason: ReasonNotFound},
	{Err: ErrAlreadyExists, Code: codes.AlreadyExists, Reason: ReasonAlreadyExists},
	{Err: ErrConflict, Code: codes.Aborted, Reason: ReasonConflict},
	{Err: ErrFailedPrecondition, Code: codes.FailedPrecondition, Reason: ReasonFailedPrecondition},
	{Err: ErrInvalid, Code: codes.InvalidArgument, Reason: ReasonInvalidArgument},
	{Err: ErrUnauthenticated, Code: codes.Unauthenticated, Reason: ReasonUnauthenticated},
	{Err: ErrPermissionDenied, Code: codes.PermissionDenied, Reason: ReasonPermissionDenied},
	{Err: ErrResourceExhausted, Code: codes.ResourceExhausted, Reason: ReasonResourceExhausted},
	{Err: ErrUnimplemented, Code: codes.Unimplemented, Reason: ReasonUnimplemented},
}

// FromDomain maps a domain error to a gRPC status error:
//   - nil stays nil;
//   - an error that is (or wraps) a gRPC status, e.g. one built with this
//     package, is returned as that status unchanged;
//   - *FieldError values anywhere in the chain, including inside
//     errors.Join, become one Invalid error listing them all;
//   - errors wrapping one of this package's sentinels get the matching code,
//     with err.Error() as message (so such errors must be caller-safe);
//   - context.Canceled and context.DeadlineExceeded map to their codes;
//   - anything else is logged with ctx (so the log carries the trace_id) and
//     becomes codes.Internal "internal error": its text never reaches the
//     caller.
//
// logger may be nil, in which case nothing is logged.
//
// The (err, logger, ctx) parameter order is the contract the services were
// written against, although ctx usually comes first.
func FromDomain(err error, logger *slog.Logger, ctx context.Context) error {
	if err == nil {
		return nil
	}
	var gs grpcStatuser
	if errors.As(err, &gs) {
		if st := gs.GRPCStatus(); st != nil && st.Code() != codes.OK && st.Code() != codes.Unknown {
			return st.Err()
		}
	}
	if fes := fieldErrors(err, nil); len(fes) > 0 {
		return Invalid(fes...)
	}
	if st := Map(err, sentinelRules); st != nil {
		return st
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	if st := storageStatus(err); st != nil {
		if logger != nil {
			logger.WarnContext(ctx, "database unavailable at rpc boundary", slog.String("error", err.Error()))
		}
		return st
	}
	if logger != nil {
		logger.ErrorContext(ctx, "unmapped error at rpc boundary", slog.String("error", err.Error()))
	}
	return New(codes.Internal, ReasonInternal, internalMessage).Err()
}

// fieldErrors collects every *FieldError in err's tree, depth first, in order.
func fieldErrors(err error, acc []FieldError) []FieldError {
	switch e := err.(type) {
	case nil:
		return acc
	case *FieldError:
		if e != nil {
			acc = append(acc, *e)
		}
		return acc
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			acc = fieldErrors(inner, acc)
		}
		return acc
	case interface{ Unwrap() error }:
		return fieldErrors(e.Unwrap(), acc)
	}
	return acc
}

// FieldViolations reads the BadRequest field violations back from a gRPC
// status error (the gateway side), each with its code (CodeOf when the
// sender set none) and args. It returns nil when there are none.
func FieldViolations(err error) []FieldError {
	st, ok := status.FromError(err)
	if !ok || st == nil {
		return nil
	}
	var md map[string]string
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			md = ei.GetMetadata()
			break
		}
	}
	var out []FieldError
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fe := FieldError{Field: v.GetField(), Reason: v.GetDescription(), Code: v.GetReason()}
				fe.Args = md[argsKeyPrefix+strconv.Itoa(len(out))]
				fe.Code = CodeOf(fe)
				out = append(out, fe)
			}
		}
	}
	return out
}

// RetryAfter reads the RetryInfo delay from a gRPC status error; ok is false
// when the error carries none.
func RetryAfter(err error) (time.Duration, bool) {
	st, ok := status.FromError(err)
	if !ok || st == nil {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// Reason reads the ErrorInfo reason (one of the Reason constants) from a gRPC
// status error; it returns "" when there is none.
func Reason(err error) string {
	st, ok := status.FromError(err)
	if !ok || st == nil {
		return ""
	}
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

// storageRetry is the Retry-After of an unavailable database: long enough
// not to hammer it, short enough for a failover to be over.
const storageRetry = 5 * time.Second

// storageStatus is Unavailable with the class of the database's state and
// advice that holds on every route, or nil when err is not about the
// database's state. A full database rolled the statement back (nothing
// was stored); an unreachable one may have lost the answer to a commit.
func storageStatus(err error) error {
	switch store.Unavailable(err) {
	case store.StorageFull:
		return New(codes.Unavailable, ReasonStorageFull,
			"the service's database is full: nothing was stored; retry later").RetryAfter(storageRetry).Err()
	case store.StorageDown:
		return New(codes.Unavailable, ReasonStorageUnavailable,
			"the service's database cannot be reached: a change may or may not have been stored; retry later (with the same Idempotency-Key where the route takes one)").RetryAfter(storageRetry).Err()
	}
	return nil
}
