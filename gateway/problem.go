package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/gateway/problems"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// problemTypePrefix starts every problem "type" URI. A URN needs no network
// and cannot be mistaken for a link to follow.
const problemTypePrefix = "urn:tamkeen:problem:"

// StatusClientClosedRequest is the non-standard status (nginx's 499) for
// codes.Canceled: the caller went away before the answer.
const StatusClientClosedRequest = 499

// defaultRetryAfter is the Retry-After of a 429 whose error carries no
// RetryInfo.
const defaultRetryAfter = time.Second

// Problem is an RFC 9457 problem details object as the gateway writes it.
type Problem struct {
	// Type is a URN naming the kind of problem, e.g.
	// "urn:tamkeen:problem:invalid-argument".
	Type string `json:"type"`
	// Code is the type's last segment ("invalid-argument"): the same
	// stable machine code, for a program to switch on without parsing.
	Code string `json:"code"`
	// Title is the HTTP status text.
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail explains this occurrence; never internals for 5xx. It is in
	// the language of the Content-Language header (see localize).
	Detail string `json:"detail,omitempty"`
	// Instance is the request path (without the query, which may carry PII).
	Instance string `json:"instance,omitempty"`
	// RequestID is the request's X-Request-Id.
	RequestID string `json:"request_id,omitempty"`
	// TraceID is the W3C trace ID of the request's server span.
	TraceID string `json:"trace_id,omitempty"`
	// Errors names the bad fields, or the backends that are not ready.
	Errors []FieldError `json:"errors,omitempty"`
	// OAuthError is the RFC 6749 section 5.2 error code; only /oauth2/token
	// sets it, so that standard OAuth clients understand the failure.
	OAuthError string `json:"error,omitempty"`
	// MissingRight names the access right a 403 missing-right lacks, e.g.
	// "payment/CreatePayment" or "notification/SendSms template tpl_9".
	MissingRight string `json:"missing_right,omitempty"`
}

// FieldError names one bad request field (snake_case, dotted path) and why:
// Code is the stable machine code ("national_id.check_digit"), Reason the
// text for people, in the problem's language.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
	Code   string `json:"code"`
	// args fill the catalogue text's placeholders (rpcerr.FieldError.Args).
	args string
}

// httpStatusFor maps a gRPC code to the HTTP status of the problem.
//
// The rule for FailedPrecondition: the services use it for "the resource is
// not in a state that allows this" (rpcerr.FailedPrecondition), which is a
// state conflict, so it is 409 Conflict. Only when the caller made the request
// conditional (If-Match, If-Unmodified-Since, or If-None-Match on a method
// that changes state) is it 412 Precondition Failed, because then the failed
// precondition is the caller's own header.
func httpStatusFor(code codes.Code, r *http.Request) int {
	if code == codes.FailedPrecondition && r != nil && conditional(r) {
		return http.StatusPreconditionFailed
	}
	if s, ok := httpStatusOf[code]; ok {
		return s
	}
	// Internal, Unknown, DataLoss and codes we do not know.
	return http.StatusInternalServerError
}

// httpStatusOf is the HTTP status of each gRPC code that is not a 500
// (FailedPrecondition as a state conflict; see httpStatusFor).
var httpStatusOf = map[codes.Code]int{
	codes.OK:                 http.StatusOK,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unauthenticated:    http.StatusUnauthorized,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.Aborted:            http.StatusConflict,
	codes.FailedPrecondition: http.StatusConflict,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.Canceled:           StatusClientClosedRequest,
}

// unprocessableReasons are the ErrorInfo reasons of InvalidArgument errors
// that are well-formed requests the service cannot process, answered 422
// rather than 400: an Idempotency-Key reused with a different body (the
// IETF idempotency-key draft's rule; payment.ReasonIdempotencyKeyReused).
var unprocessableReasons = map[string]bool{
	"IDEMPOTENCY_KEY_REUSED": true,
}

// conditional reports whether r carries a precondition header of its own.
func conditional(r *http.Request) bool {
	h := r.Header
	if h.Get("If-Match") != "" || h.Get("If-Unmodified-Since") != "" {
		return true
	}
	return h.Get("If-None-Match") != "" && r.Method != http.MethodGet && r.Method != http.MethodHead
}

// genericDetail is what a caller learns about failures whose message may
// hold internals (addresses, stack traces, SQL).
var genericDetail = map[codes.Code]string{
	codes.Internal:         "internal error",
	codes.Unknown:          "internal error",
	codes.DataLoss:         "internal error",
	codes.Unavailable:      "the service is temporarily unavailable; retry later",
	codes.DeadlineExceeded: "the service did not answer in time",
	codes.Canceled:         "the request was canceled",
}

// problemTitle is the HTTP status text, with a name for 499.
func problemTitle(code int) string {
	if code == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Error"
}

// typeFor builds the problem type URN from an rpcerr reason or a code.
func typeFor(reason string, code codes.Code) string {
	if reason == "" {
		reason = codeName(code)
	}
	return problemTypePrefix + strings.ReplaceAll(strings.ToLower(reason), "_", "-")
}

// codeName is the canonical upper-snake name of code ("INVALID_ARGUMENT").
func codeName(code codes.Code) string {
	s := code.String()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 && s[i] >= 'A' && s[i] <= 'Z' && s[i-1] >= 'a' && s[i-1] <= 'z' {
			b.WriteByte('_')
		}
		b.WriteByte(s[i])
	}
	return strings.ToUpper(b.String())
}

// Messages of grpc-gateway's and protojson's own decoding errors that name
// a field; they become FieldErrors.
var (
	reUnknownField = regexp.MustCompile(`unknown field "([^"]+)"`)
	reInvalidValue = regexp.MustCompile(`invalid value for [^ ]+ field ([A-Za-z0-9_.]+)`)
	reParameter    = regexp.MustCompile(`parameter:? ([A-Za-z0-9_.]+)`)
	reProtoPrefix  = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?`)
	reSyntaxLine   = regexp.MustCompile(`\s*\(line \d+:\d+\)`)
)

// decodeViolations reads the field grpc-gateway's own InvalidArgument
// messages name (bad JSON, unknown field, bad path or query parameter).
func decodeViolations(msg string) []FieldError {
	if strings.Contains(msg, trailingDataMsg) {
		return []FieldError{{Field: "body", Reason: "must be exactly one JSON value", Code: "body.format"}}
	}
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		return []FieldError{{Field: m[1], Reason: "unknown field", Code: rpcerr.FieldCode(m[1], "unknown_field")}}
	}
	if m := reInvalidValue.FindStringSubmatch(msg); m != nil {
		// protojson names the field by its JSON name (nationalId); callers
		// write and read the proto name (national_id).
		f := snakeCase(m[1])
		return []FieldError{{Field: f, Reason: "invalid value", Code: rpcerr.FieldCode(f, "invalid")}}
	}
	if strings.HasPrefix(msg, "type mismatch, parameter") || strings.HasPrefix(msg, "missing parameter") {
		if m := reParameter.FindStringSubmatch(msg); m != nil {
			reason, what := "invalid value", "invalid"
			if strings.HasPrefix(msg, "missing") {
				reason, what = "required", "required"
			}
			return []FieldError{{Field: m[1], Reason: reason, Code: rpcerr.FieldCode(m[1], what)}}
		}
	}
	return nil
}

// snakeCase turns protojson's lowerCamelCase JSON name back into the proto
// field name the API uses: every proto field here is lower snake_case, for
// which the mapping is exact.
func snakeCase(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// cleanDecodeDetail turns a protojson error into a sentence for callers.
func cleanDecodeDetail(msg string) string {
	if !strings.HasPrefix(msg, "proto:") {
		return msg
	}
	msg = reProtoPrefix.ReplaceAllString(msg, "")
	msg = reSyntaxLine.ReplaceAllString(msg, "")
	return "request body is not valid JSON for this operation: " + msg
}

// problemFromError maps any error that reaches the HTTP edge to a problem
// and the extra headers it needs. This is the ONE place where gRPC codes
// become HTTP statuses.
func problemFromError(r *http.Request, err error) (Problem, http.Header) {
	hdr := http.Header{}
	if st := stateFrom(r.Context()); st != nil && st.tooLarge {
		return Problem{
			Type:   problemTypePrefix + "payload-too-large",
			Title:  problemTitle(http.StatusRequestEntityTooLarge),
			Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("request body is larger than %d bytes", st.limit),
		}, hdr
	}
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		msg := "malformed request path"
		if hse.HTTPStatus != http.StatusBadRequest {
			msg = problemTitle(hse.HTTPStatus)
		}
		return Problem{
			Type:   typeFor("", codeForHTTP(hse.HTTPStatus)),
			Title:  problemTitle(hse.HTTPStatus),
			Status: hse.HTTPStatus,
			Detail: msg,
		}, hdr
	}
	s := status.Convert(err)
	code := s.Code()
	if code == codes.OK {
		// Only a nil error or an OK status lands here: a bug upstream,
		// not a success to report.
		code = codes.Unknown
	}
	httpCode := httpStatusFor(code, r)
	if code == codes.InvalidArgument && unprocessableReasons[rpcerr.Reason(err)] {
		httpCode = http.StatusUnprocessableEntity
	}
	p := Problem{
		Type:   typeFor(rpcerr.Reason(err), code),
		Title:  problemTitle(httpCode),
		Status: httpCode,
		Detail: s.Message(),
	}
	if d, ok := genericDetail[code]; ok {
		p.Detail = d
	} else if httpCode == http.StatusInternalServerError {
		// Codes this gateway does not know are treated like Internal.
		p.Detail = genericDetail[codes.Internal]
	}
	for _, v := range rpcerr.FieldViolations(err) {
		p.Errors = append(p.Errors, FieldError{Field: v.Field, Reason: v.Reason, Code: rpcerr.CodeOf(v), args: v.Args})
	}
	if code == codes.InvalidArgument && len(p.Errors) == 0 {
		p.Errors = decodeViolations(s.Message())
		p.Detail = cleanDecodeDetail(p.Detail)
	}
	switch code {
	case codes.ResourceExhausted:
		d, ok := rpcerr.RetryAfter(err)
		if !ok || d <= 0 {
			d = defaultRetryAfter
		}
		hdr.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
	case codes.Unavailable:
		hdr.Set("Retry-After", "1")
	case codes.Unauthenticated:
		// A service may hand the whole RFC 6750/9470 challenge as its
		// message (e.g. `Bearer error="insufficient_user_authentication",
		// acr_values="loa2"`); otherwise the plain scheme is announced.
		challenge := `Bearer realm="tamkeen"`
		if strings.HasPrefix(s.Message(), "Bearer ") {
			challenge = s.Message()
			p.Detail = "the access token is not sufficient for this route"
		}
		hdr.Set("WWW-Authenticate", challenge)
	}
	return p, hdr
}

// codeForHTTP names the gRPC code whose problem type fits a routing status.
func codeForHTTP(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusBadRequest:
		return codes.InvalidArgument
	default:
		return codes.Internal
	}
}

// writeProblem completes p with the request's identity and writes it.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem, hdr http.Header) {
	ctx := r.Context()
	if st := stateFrom(ctx); st != nil {
		p.RequestID = st.id
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		p.TraceID = sc.TraceID().String()
	}
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.Title == "" {
		p.Title = problemTitle(p.Status)
	}
	lang := problems.Language(r.Header.Get("Accept-Language"))
	localize(&p, lang)
	body, err := json.Marshal(p)
	if err != nil {
		// Problem holds only strings and ints; Marshal cannot fail.
		body = []byte(`{"type":"about:blank","status":500}`)
	}
	h := w.Header()
	for k, vs := range hdr {
		h[k] = vs
	}
	// A failed call may have set response metadata headers already; the
	// body is a problem, so its framing headers must be ours.
	h.Del("Content-Length")
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	h.Set("Content-Type", ProblemContentType)
	h.Set("Content-Language", lang)
	h.Add("Vary", "Accept-Language")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

// writeUnsupportedMediaType answers 415 to a body that is not of type
// want, and names want in Accept-Post or Accept-Patch for the methods
// that have one (RFC 9110 section 15.5.16, RFC 5789 section 3.1).
func writeUnsupportedMediaType(w http.ResponseWriter, r *http.Request, want string) {
	hdr := http.Header{}
	switch r.Method {
	case http.MethodPost:
		hdr.Set("Accept-Post", want)
	case http.MethodPatch:
		hdr.Set("Accept-Patch", want)
	}
	writeProblem(w, r, Problem{
		Type:   problemTypePrefix + "unsupported-media-type",
		Status: http.StatusUnsupportedMediaType,
		Detail: "Content-Type must be " + want,
	}, hdr)
}

// writeError maps err and writes it as a problem.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, hdr := problemFromError(r, err)
	writeProblem(w, r, p, hdr)
}

// errorHandler is the grpc-gateway ErrorHandlerFunc: every failed call and
// every decoding error of the generated handlers ends here.
func (g *Gateway) errorHandler(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	var re *rightError
	if errors.As(err, &re) {
		g.refuse(w, r, re.f)
		return
	}
	p, hdr := problemFromError(r, err)
	if p.Status >= 500 && p.Status != http.StatusNotImplemented {
		g.logger.WarnContext(ctx, "backend call failed",
			"code", status.Code(err).String(), "status", p.Status, "request_id", RequestID(ctx), "error", status.Convert(err).Message())
	}
	writeProblem(w, r, p, hdr)
}

// routingErrorHandler answers requests no route matches: 404 for an
// unknown path, 405 with Allow for a known path and the wrong method.
func (g *Gateway) routingErrorHandler(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	p := Problem{Type: typeFor("", codeForHTTP(httpStatus)), Status: httpStatus, Title: problemTitle(httpStatus)}
	hdr := http.Header{}
	switch httpStatus {
	case http.StatusNotFound:
		p.Type = problemTypePrefix + "route-not-found"
		p.Detail = "no route matches " + r.Method + " " + r.URL.Path
	case http.StatusMethodNotAllowed:
		p.Type = problemTypePrefix + "method-not-allowed"
		allow := g.routes.allowed(r)
		p.Detail = r.Method + " is not allowed on " + r.URL.Path
		if len(allow) > 0 {
			hdr.Set("Allow", strings.Join(allow, ", "))
			p.Detail += "; allowed: " + strings.Join(allow, ", ")
		}
	default:
		p.Detail = "malformed request"
	}
	writeProblem(w, r, p, hdr)
}

// localize gives p and its violations their machine codes and puts their
// texts in lang, from the catalogue (gateway/problems).
//
// English, the default for API clients, keeps the enablers' own texts,
// which can be more specific than the catalogue's (they name the
// character, the state or the id); the catalogue's English fills in only
// where an enabler gave none. Arabic takes the catalogue's text of every
// code it lists and keeps the English text of the others, so that a
// new code never leaves a caller with nothing. The codes are the same in
// every language.
func localize(p *Problem, lang string) {
	p.Code = strings.TrimPrefix(p.Type, problemTypePrefix)
	for i := range p.Errors {
		e := &p.Errors[i]
		if e.Code == "" {
			e.Code = rpcerr.FieldCode(e.Field, "invalid")
		}
		if lang == problems.English && e.Reason != "" {
			continue
		}
		if t, ok := problems.Text(lang, e.Code, rpcerr.SplitArgs(e.args)); ok {
			e.Reason = t
		}
	}
	if lang == problems.English && p.Detail != "" {
		return
	}
	t, ok := problems.Text(lang, p.Code, nil)
	if !ok {
		return
	}
	if p.Code == "invalid-argument" && len(p.Errors) > 0 {
		// As the enablers write it in English: "invalid argument: field:
		// reason; field: reason".
		parts := make([]string, len(p.Errors))
		for i, e := range p.Errors {
			parts[i] = e.Field + ": " + e.Reason
		}
		sep := "; "
		if lang == problems.Arabic {
			sep = "؛ "
		}
		t += ": " + strings.Join(parts, sep)
	}
	p.Detail = t
}
