package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

func TestHTTPStatusForEveryCode(t *testing.T) {
	t.Parallel()
	plain := httptest.NewRequest(http.MethodPost, "/x", nil)
	conditional := httptest.NewRequest(http.MethodPut, "/x", nil)
	conditional.Header.Set("If-Match", `"1"`)
	tests := []struct {
		code codes.Code
		r    *http.Request
		want int
	}{
		{codes.OK, plain, 200},
		{codes.Canceled, plain, 499},
		{codes.Unknown, plain, 500},
		{codes.InvalidArgument, plain, 400},
		{codes.DeadlineExceeded, plain, 504},
		{codes.NotFound, plain, 404},
		{codes.AlreadyExists, plain, 409},
		{codes.PermissionDenied, plain, 403},
		{codes.ResourceExhausted, plain, 429},
		{codes.FailedPrecondition, plain, 409},
		{codes.FailedPrecondition, conditional, 412},
		{codes.Aborted, plain, 409},
		{codes.OutOfRange, plain, 400},
		{codes.Unimplemented, plain, 501},
		{codes.Internal, plain, 500},
		{codes.Unavailable, plain, 503},
		{codes.DataLoss, plain, 500},
		{codes.Unauthenticated, plain, 401},
		{codes.Code(99), plain, 500},
	}
	for _, tt := range tests {
		if got := httpStatusFor(tt.code, tt.r); got != tt.want {
			t.Errorf("httpStatusFor(%v, If-Match=%q) = %d; want %d", tt.code, tt.r.Header.Get("If-Match"), got, tt.want)
		}
	}
}

func TestProblemFromError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantType   string
		wantDetail string
		wantFields []FieldError
		wantRetry  string
	}{
		{name: "rpcerr field violations", err: rpcerr.Invalid(rpcerr.FieldError{Field: "phone_number", Reason: "not a phone number"}),
			wantStatus: 400, wantType: "urn:tamkeen:problem:invalid-argument", wantFields: []FieldError{{"phone_number", "not a phone number", "phone_number.invalid", ""}}},
		{name: "protojson unknown field", err: status.Error(codes.InvalidArgument, `proto: (line 1:2): unknown field "colour"`),
			wantStatus: 400, wantDetail: `request body is not valid JSON for this operation: unknown field "colour"`, wantFields: []FieldError{{"colour", "unknown field", "colour.unknown_field", ""}}},
		{name: "path parameter", err: status.Error(codes.InvalidArgument, `type mismatch, parameter: version, error: strconv.ParseInt: parsing "x": invalid syntax`),
			wantStatus: 400, wantFields: []FieldError{{"version", "invalid value", "version.invalid", ""}}},
		{name: "missing parameter", err: status.Error(codes.InvalidArgument, `missing parameter id`),
			wantStatus: 400, wantFields: []FieldError{{"id", "required", "id.required", ""}}},
		{name: "not found keeps message", err: rpcerr.NotFound("payment", "pay_1"),
			wantStatus: 404, wantType: "urn:tamkeen:problem:not-found", wantDetail: "payment pay_1 not found"},
		{name: "internal hides message", err: errors.New("pq: password authentication failed"),
			wantStatus: 500, wantType: "urn:tamkeen:problem:unknown", wantDetail: "internal error"},
		{name: "retry after", err: rpcerr.ResourceExhausted("too many", 1500*time.Millisecond),
			wantStatus: 429, wantType: "urn:tamkeen:problem:resource-exhausted", wantRetry: "2"},
		{name: "routing status", err: &runtime.HTTPStatusError{HTTPStatus: 400, Err: errors.New("bad escape")},
			wantStatus: 400, wantDetail: "malformed request path"},
		{name: "idempotency key reused", err: reusedKeyError(t),
			wantStatus: 422, wantType: "urn:tamkeen:problem:idempotency-key-reused", wantFields: []FieldError{{"idempotency_key", "already used with another body", "idempotency_key.invalid", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/x", nil)
			p, hdr := problemFromError(r, tt.err)
			if p.Status != tt.wantStatus {
				t.Errorf("status = %d; want %d", p.Status, tt.wantStatus)
			}
			if tt.wantType != "" && p.Type != tt.wantType {
				t.Errorf("type = %q; want %q", p.Type, tt.wantType)
			}
			if tt.wantDetail != "" && p.Detail != tt.wantDetail {
				t.Errorf("detail = %q; want %q", p.Detail, tt.wantDetail)
			}
			if tt.wantFields != nil && !equalFields(p.Errors, tt.wantFields) {
				t.Errorf("errors = %+v; want %+v", p.Errors, tt.wantFields)
			}
			if got := hdr.Get("Retry-After"); got != tt.wantRetry && tt.wantRetry != "" {
				t.Errorf("Retry-After = %q; want %q", got, tt.wantRetry)
			}
		})
	}
}

func equalFields(a, b []FieldError) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCodeName(t *testing.T) {
	t.Parallel()
	for code, want := range map[codes.Code]string{codes.InvalidArgument: "INVALID_ARGUMENT", codes.OK: "OK", codes.DataLoss: "DATA_LOSS"} {
		if got := codeName(code); got != want {
			t.Errorf("codeName(%v) = %q; want %q", code, got, want)
		}
	}
}

// FuzzRequestID: whatever a caller sends, the accepted ID is safe to log
// and echo, and generated IDs are always valid.
func FuzzRequestID(f *testing.F) {
	for _, s := range []string{"", "abc", strings.Repeat("x", 65), "a\nb", "ü", "req_0123", "\x00"} {
		f.Add(s)
	}
	g := &Gateway{random: strings.NewReader("")}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidRequestID(id) {
			if len(id) == 0 || len(id) > 64 || strings.ContainsAny(id, " \n\r\t\"\\") || !utf8.ValidString(id) {
				t.Fatalf("ValidRequestID(%q) = true", id)
			}
		}
		if gen := g.newRequestID(); !ValidRequestID(gen) {
			t.Fatalf("generated ID %q is not valid", gen)
		}
	})
}

// FuzzProblemFromError: any status message and code map to a well-formed
// problem with a known status; 5xx never echo the message.
func FuzzProblemFromError(f *testing.F) {
	f.Add(uint32(3), `proto: (line 1:2): unknown field "x"`)
	f.Add(uint32(13), "secret dsn postgres://u:p@h/db")
	f.Add(uint32(16), "Bearer error=\"x\"")
	f.Add(uint32(3), "type mismatch, parameter: ")
	f.Fuzz(func(t *testing.T, code uint32, msg string) {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/x", nil)
		p, _ := problemFromError(r, status.Error(codes.Code(code%20), msg))
		if p.Status < 400 || p.Status > 599 {
			t.Fatalf("status %d for code %d", p.Status, code)
		}
		if p.Status >= 500 && p.Status != 501 {
			generic := false
			for _, d := range genericDetail {
				generic = generic || p.Detail == d
			}
			if !generic {
				t.Fatalf("5xx detail %q is not a generic one (message %q)", p.Detail, msg)
			}
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}

func TestDecodeViolationsNamesProtoFields(t *testing.T) {
	for msg, want := range map[string]FieldError{
		`proto: (line 1:16): invalid value for string field nationalId: 401234567`: {Field: "national_id", Reason: "invalid value", Code: "national_id.invalid"},
		`proto: (line 1:11): invalid value for int64 field amount: "lots"`:         {Field: "amount", Reason: "invalid value", Code: "amount.invalid"},
		`proto: (line 1:2): unknown field "nationl_id"`:                            {Field: "nationl_id", Reason: "unknown field", Code: "nationl_id.unknown_field"},
	} {
		got := decodeViolations(msg)
		if len(got) != 1 || got[0] != want {
			t.Errorf("decodeViolations(%q) = %+v; want [%+v]", msg, got, want)
		}
	}
}

// reusedKeyError is what the payment service answers for an Idempotency-Key
// reused with a different body.
func reusedKeyError(t *testing.T) error {
	t.Helper()
	return rpcerr.New(codes.InvalidArgument, "IDEMPOTENCY_KEY_REUSED", "idempotency key already used with another body").
		Field("idempotency_key", "already used with another body").Err()
}
