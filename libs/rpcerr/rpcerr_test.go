package rpcerr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// overTheWire returns err as a client would see it: the status proto is
// marshalled and unmarshalled the way grpc-status-details-bin carries it.
func overTheWire(t *testing.T, err error) error {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("status.FromError(%v): not a status error", err)
	}
	b, mErr := proto.Marshal(st.Proto())
	if mErr != nil {
		t.Fatalf("marshal status: %v", mErr)
	}
	var back spb.Status
	if uErr := proto.Unmarshal(b, &back); uErr != nil {
		t.Fatalf("unmarshal status: %v", uErr)
	}
	return status.ErrorProto(&back)
}

func TestConstructors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		code       codes.Code
		msg        string
		reason     string
		fields     []rpcerr.FieldError
		retryAfter time.Duration
		hasRetry   bool
	}{
		{
			name: "invalid lists fields",
			err: rpcerr.Invalid(
				rpcerr.FieldError{Field: "phone_number", Reason: "must be in E.164 format"},
				rpcerr.FieldError{Field: "splits[1].amount", Reason: "must be positive"},
			),
			code:   codes.InvalidArgument,
			msg:    "invalid argument: phone_number: must be in E.164 format; splits[1].amount: must be positive",
			reason: rpcerr.ReasonInvalidArgument,
			fields: []rpcerr.FieldError{
				{Field: "phone_number", Reason: "must be in E.164 format", Code: "phone_number.invalid"},
				{Field: "splits[1].amount", Reason: "must be positive", Code: "splits.amount.invalid"},
			},
		},
		{
			name:   "invalid without fields",
			err:    rpcerr.Invalid(),
			code:   codes.InvalidArgument,
			msg:    "invalid argument",
			reason: rpcerr.ReasonInvalidArgument,
		},
		{
			name:   "not found",
			err:    rpcerr.NotFound("payment", "pay_x"),
			code:   codes.NotFound,
			msg:    "payment pay_x not found",
			reason: rpcerr.ReasonNotFound,
		},
		{
			name:   "already exists",
			err:    rpcerr.AlreadyExists("citizen already registered"),
			code:   codes.AlreadyExists,
			msg:    "citizen already registered",
			reason: rpcerr.ReasonAlreadyExists,
		},
		{
			name:   "conflict is aborted",
			err:    rpcerr.Conflict("draft changed since it was read"),
			code:   codes.Aborted,
			msg:    "draft changed since it was read",
			reason: rpcerr.ReasonConflict,
		},
		{
			name:   "failed precondition",
			err:    rpcerr.FailedPrecondition("payment is not captured"),
			code:   codes.FailedPrecondition,
			msg:    "payment is not captured",
			reason: rpcerr.ReasonFailedPrecondition,
		},
		{
			name:   "unimplemented",
			err:    rpcerr.Unimplemented("PAdES-LTA"),
			code:   codes.Unimplemented,
			msg:    "PAdES-LTA is not implemented yet",
			reason: rpcerr.ReasonUnimplemented,
		},
		{
			name:   "unauthenticated",
			err:    rpcerr.Unauthenticated("token expired"),
			code:   codes.Unauthenticated,
			msg:    "token expired",
			reason: rpcerr.ReasonUnauthenticated,
		},
		{
			name:   "permission denied",
			err:    rpcerr.PermissionDenied("scope payments:write required"),
			code:   codes.PermissionDenied,
			msg:    "scope payments:write required",
			reason: rpcerr.ReasonPermissionDenied,
		},
		{
			name:       "resource exhausted with retry",
			err:        rpcerr.ResourceExhausted("too many OTP requests", 90*time.Second),
			code:       codes.ResourceExhausted,
			msg:        "too many OTP requests",
			reason:     rpcerr.ReasonResourceExhausted,
			retryAfter: 90 * time.Second,
			hasRetry:   true,
		},
		{
			name:   "resource exhausted without retry",
			err:    rpcerr.ResourceExhausted("quota used up", 0),
			code:   codes.ResourceExhausted,
			msg:    "quota used up",
			reason: rpcerr.ReasonResourceExhausted,
		},
		{
			name:   "builder with own reason and field",
			err:    rpcerr.New(codes.InvalidArgument, "invalid_scope", "scope: not granted").Field("scope", "scope: not granted").Err(),
			code:   codes.InvalidArgument,
			msg:    "scope: not granted",
			reason: "invalid_scope",
			fields: []rpcerr.FieldError{{Field: "scope", Reason: "scope: not granted", Code: "scope.invalid"}},
		},
		{
			name:       "builder with retry",
			err:        rpcerr.New(codes.ResourceExhausted, "SLOW_DOWN", "wait").RetryAfter(time.Minute).Err(),
			code:       codes.ResourceExhausted,
			msg:        "wait",
			reason:     "SLOW_DOWN",
			retryAfter: time.Minute,
			hasRetry:   true,
		},
		{
			name: "builder without reason is a bare status",
			err:  rpcerr.New(codes.Unavailable, "", "provider down").Err(),
			code: codes.Unavailable,
			msg:  "provider down",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := overTheWire(t, tt.err)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Errorf("code = %v; want %v", st.Code(), tt.code)
			}
			if st.Message() != tt.msg {
				t.Errorf("message = %q; want %q", st.Message(), tt.msg)
			}
			if got := rpcerr.Reason(err); got != tt.reason {
				t.Errorf("Reason = %q; want %q", got, tt.reason)
			}
			if got := rpcerr.FieldViolations(err); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("FieldViolations = %v; want %v", got, tt.fields)
			}
			d, ok := rpcerr.RetryAfter(err)
			if ok != tt.hasRetry || d != tt.retryAfter {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", d, ok, tt.retryAfter, tt.hasRetry)
			}
		})
	}
}

func TestNotFoundDetails(t *testing.T) {
	t.Parallel()
	st := status.Convert(overTheWire(t, rpcerr.NotFound("payment", "pay_x")))
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			if ei.GetDomain() != rpcerr.Domain || ei.GetMetadata()["kind"] != "payment" || ei.GetMetadata()["id"] != "pay_x" {
				t.Errorf("ErrorInfo = %v; want domain %q, kind payment, id pay_x", ei, rpcerr.Domain)
			}
			return
		}
	}
	t.Errorf("details %v: no ErrorInfo", st.Details())
}

func TestBuilderMetadata(t *testing.T) {
	t.Parallel()
	base := rpcerr.New(codes.Aborted, rpcerr.ReasonConflict, "item it_1 moved on").Meta("item_id", "it_1")
	withVersion := base.Meta("current_version", "3")
	st := status.Convert(overTheWire(t, withVersion.Err()))
	var ei *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if e, ok := d.(*errdetails.ErrorInfo); ok {
			ei = e
		}
	}
	want := map[string]string{"item_id": "it_1", "current_version": "3"}
	if ei == nil || ei.GetDomain() != rpcerr.Domain || !reflect.DeepEqual(ei.GetMetadata(), want) {
		t.Errorf("ErrorInfo = %v; want domain %q, metadata %v", ei, rpcerr.Domain, want)
	}
	// A Builder is a value: the later Meta must not leak into base.
	st = status.Convert(base.Err())
	for _, d := range st.Details() {
		if e, ok := d.(*errdetails.ErrorInfo); ok && len(e.GetMetadata()) != 1 {
			t.Errorf("base metadata = %v; want only item_id", e.GetMetadata())
		}
	}
	if len(st.Details()) != 1 {
		t.Errorf("details = %v; want the ErrorInfo alone", st.Details())
	}
}

func TestFailedPreconditionDetails(t *testing.T) {
	t.Parallel()
	st := status.Convert(overTheWire(t, rpcerr.FailedPrecondition("credential revoked")))
	for _, d := range st.Details() {
		if pf, ok := d.(*errdetails.PreconditionFailure); ok {
			if len(pf.GetViolations()) != 1 || pf.GetViolations()[0].GetDescription() != "credential revoked" {
				t.Errorf("PreconditionFailure = %v; want one violation %q", pf, "credential revoked")
			}
			return
		}
	}
	t.Errorf("details %v: no PreconditionFailure", st.Details())
}

func TestFromDomain(t *testing.T) {
	t.Parallel()
	errDB := errors.New(`pq: password authentication failed for user "payment" at 10.0.3.7`)
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		msg    string
		fields []rpcerr.FieldError
		logged bool
	}{
		{name: "nil", err: nil, code: codes.OK},
		{
			name:   "field error",
			err:    &rpcerr.FieldError{Field: "phone_number", Reason: "must be in E.164 format"},
			code:   codes.InvalidArgument,
			msg:    "invalid argument: phone_number: must be in E.164 format",
			fields: []rpcerr.FieldError{{Field: "phone_number", Reason: "must be in E.164 format", Code: "phone_number.invalid"}},
		},
		{
			name: "wrapped join of field errors",
			err: fmt.Errorf("register: %w", errors.Join(
				&rpcerr.FieldError{Field: "national_id", Reason: "must be 9 digits"},
				&rpcerr.FieldError{Field: "email", Reason: "is not an address"},
			)),
			code: codes.InvalidArgument,
			msg:  "invalid argument: national_id: must be 9 digits; email: is not an address",
			fields: []rpcerr.FieldError{
				{Field: "national_id", Reason: "must be 9 digits", Code: "national_id.invalid"},
				{Field: "email", Reason: "is not an address", Code: "email.invalid"},
			},
		},
		{
			name: "status passes through",
			err:  fmt.Errorf("load: %w", rpcerr.NotFound("template", "tpl_1")),
			code: codes.NotFound,
			msg:  "template tpl_1 not found",
		},
		{name: "not found sentinel", err: fmt.Errorf("payment pay_1: %w", rpcerr.ErrNotFound), code: codes.NotFound, msg: "payment pay_1: not found"},
		{name: "already exists sentinel", err: rpcerr.ErrAlreadyExists, code: codes.AlreadyExists, msg: "already exists"},
		{name: "conflict sentinel", err: rpcerr.ErrConflict, code: codes.Aborted, msg: "conflict"},
		{name: "precondition sentinel", err: rpcerr.ErrFailedPrecondition, code: codes.FailedPrecondition, msg: "failed precondition"},
		{name: "invalid sentinel", err: rpcerr.ErrInvalid, code: codes.InvalidArgument, msg: "invalid argument"},
		{name: "unauthenticated sentinel", err: rpcerr.ErrUnauthenticated, code: codes.Unauthenticated, msg: "unauthenticated"},
		{name: "permission sentinel", err: rpcerr.ErrPermissionDenied, code: codes.PermissionDenied, msg: "permission denied"},
		{name: "exhausted sentinel", err: rpcerr.ErrResourceExhausted, code: codes.ResourceExhausted, msg: "resource exhausted"},
		{name: "unimplemented sentinel", err: rpcerr.ErrUnimplemented, code: codes.Unimplemented, msg: "not implemented"},
		{name: "canceled", err: fmt.Errorf("query: %w", context.Canceled), code: codes.Canceled, msg: "request canceled"},
		{name: "deadline", err: context.DeadlineExceeded, code: codes.DeadlineExceeded, msg: "deadline exceeded"},
		{name: "unknown is internal and logged", err: fmt.Errorf("store: %w", errDB), code: codes.Internal, msg: "internal error", logged: true},
		{name: "unknown status is internal", err: status.Error(codes.Unknown, "leaky downstream text"), code: codes.Internal, msg: "internal error", logged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, nil))
			got := rpcerr.FromDomain(tt.err, logger, context.Background())
			if tt.code == codes.OK {
				if got != nil {
					t.Fatalf("FromDomain(nil) = %v; want nil", got)
				}
				return
			}
			st, ok := status.FromError(got)
			if !ok {
				t.Fatalf("FromDomain(%v) = %v; want a status error", tt.err, got)
			}
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("FromDomain = %v %q; want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if f := rpcerr.FieldViolations(got); !reflect.DeepEqual(f, tt.fields) {
				t.Errorf("FieldViolations = %v; want %v", f, tt.fields)
			}
			if tt.logged != (buf.Len() > 0) {
				t.Errorf("logged = %v (%q); want %v", buf.Len() > 0, buf.String(), tt.logged)
			}
			if tt.logged && !strings.Contains(buf.String(), tt.err.Error()[:10]) {
				t.Errorf("log %q does not carry the real error %q", buf.String(), tt.err)
			}
		})
	}
}

func TestFromDomainNilLogger(t *testing.T) {
	t.Parallel()
	err := rpcerr.FromDomain(errors.New("boom"), nil, context.Background())
	if status.Code(err) != codes.Internal {
		t.Errorf("code = %v; want Internal", status.Code(err))
	}
}

func TestReadersOnPlainErrors(t *testing.T) {
	t.Parallel()
	plain := errors.New("plain")
	if got := rpcerr.FieldViolations(plain); got != nil {
		t.Errorf("FieldViolations(plain) = %v; want nil", got)
	}
	if d, ok := rpcerr.RetryAfter(plain); ok {
		t.Errorf("RetryAfter(plain) = %v, true; want false", d)
	}
	if got := rpcerr.Reason(nil); got != "" {
		t.Errorf("Reason(nil) = %q; want empty", got)
	}
}

func TestFieldErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&rpcerr.FieldError{Field: "amount", Reason: "must be positive"})
	if got, want := err.Error(), "amount: must be positive"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	errReused := errors.New("key reused")
	errDown := errors.New("provider down")
	rules := []rpcerr.Rule{
		{Err: errReused, Code: codes.InvalidArgument, Reason: "KEY_REUSED", Field: "key", FieldCode: "key.reused"},
		{Err: errDown, Code: codes.Unavailable, Msg: "try later"},
	}

	err := overTheWire(t, rpcerr.Map(fmt.Errorf("pay: %w", errReused), rules))
	if got, want := status.Code(err), codes.InvalidArgument; got != want {
		t.Errorf("code = %v; want %v", got, want)
	}
	if got, want := status.Convert(err).Message(), "pay: key reused"; got != want {
		t.Errorf("message = %q; want the error's own text %q", got, want)
	}
	if got, want := rpcerr.Reason(err), "KEY_REUSED"; got != want {
		t.Errorf("reason = %q; want %q", got, want)
	}
	if got, want := rpcerr.FieldViolations(err), []rpcerr.FieldError{{Field: "key", Reason: "pay: key reused", Code: "key.reused"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("violations = %v; want %v", got, want)
	}

	err = rpcerr.Map(errDown, rules)
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "try later" || len(st.Details()) != 0 {
		t.Errorf("Map(errDown) = %v %q %v; want Unavailable \"try later\" with no details", st.Code(), st.Message(), st.Details())
	}

	if err := rpcerr.Map(errors.New("other"), rules); err != nil {
		t.Errorf("Map(unmatched) = %v; want nil", err)
	}
}

// TestFromDomainStorageState: a full or unreachable database reaches the
// caller as Unavailable with its class and a Retry-After, not as an
// internal error.
func TestFromDomainStorageState(t *testing.T) {
	for _, tc := range []struct {
		sqlstate string
		reason   string
	}{
		{"53100", rpcerr.ReasonStorageFull},
		{"57P01", rpcerr.ReasonStorageUnavailable},
	} {
		err := rpcerr.FromDomain(fmt.Errorf("payment: insert: %w", &pgconn.PgError{Code: tc.sqlstate}), nil, context.Background())
		retry, ok := rpcerr.RetryAfter(err)
		if status.Code(err) != codes.Unavailable || rpcerr.Reason(err) != tc.reason || !ok || retry <= 0 {
			t.Errorf("SQLSTATE %s: %v reason %q retry %v; want Unavailable, %s, a Retry-After", tc.sqlstate, status.Code(err), rpcerr.Reason(err), retry, tc.reason)
		}
	}
	if err := rpcerr.FromDomain(errors.New("a bug"), nil, context.Background()); status.Code(err) != codes.Internal {
		t.Errorf("an unknown error = %v; want Internal", status.Code(err))
	}
}

// TestFieldCodesAndArgsCrossTheWire: a violation's code and args reach the
// gateway side through a marshalled status; a violation without a code
// gets "<field>.invalid", indexes left out.
func TestFieldCodesAndArgsCrossTheWire(t *testing.T) {
	t.Parallel()
	err := overTheWire(t, rpcerr.Invalid(
		rpcerr.FieldError{Field: "national_id", Reason: "check digit does not match", Code: "national_id.check_digit"},
		rpcerr.FieldError{Field: "given_name", Reason: "must be at most 100 characters", Code: "given_name.too_long", Args: rpcerr.ArgList("100")},
		rpcerr.FieldError{Field: "splits[2].account", Reason: "bad"},
	))
	want := []rpcerr.FieldError{
		{Field: "national_id", Reason: "check digit does not match", Code: "national_id.check_digit"},
		{Field: "given_name", Reason: "must be at most 100 characters", Code: "given_name.too_long", Args: rpcerr.ArgList("100")},
		{Field: "splits[2].account", Reason: "bad", Code: "splits.account.invalid"},
	}
	if got := rpcerr.FieldViolations(err); !reflect.DeepEqual(got, want) {
		t.Errorf("FieldViolations = %+v; want %+v", got, want)
	}
}

func TestFieldCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ field, what, want string }{
		{"national_id", "length", "national_id.length"},
		{"splits[1].amount", "range", "splits.amount.range"},
		{"recipients[0][1]", "invalid", "recipients.invalid"},
		{"", "invalid", "invalid"},
	} {
		if got := rpcerr.FieldCode(tt.field, tt.what); got != tt.want {
			t.Errorf("FieldCode(%q, %q) = %q; want %q", tt.field, tt.what, got, tt.want)
		}
	}
}

func TestArgList(t *testing.T) {
	t.Parallel()
	if got := rpcerr.SplitArgs(rpcerr.ArgList("U+202E", "5")); !reflect.DeepEqual(got, []string{"U+202E", "5"}) {
		t.Errorf("SplitArgs(ArgList) = %q", got)
	}
	if got := rpcerr.SplitArgs(""); got != nil {
		t.Errorf("SplitArgs(\"\") = %q; want nil", got)
	}
}
