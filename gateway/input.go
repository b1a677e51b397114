package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// This file is the gateway's first line against hostile input: what the
// gateway would copy into a proto string field or gRPC metadata must be
// valid there (grpc-go refuses to marshal invalid UTF-8 and non-printable
// metadata, which used to surface as 500), JSON bodies are exactly one
// value of the right media type, and every answer carries the headers that
// stop browsers from second-guessing it.

// copiedHeaders are the request headers the gateway copies into a proto
// string field (Idempotency-Key into idempotency_key, Tamkeen-Signature
// into the webhook and receipt signature); they must be valid UTF-8.
// Authorization, which becomes gRPC metadata, is checked more strictly.
var copiedHeaders = []string{"Idempotency-Key", SignatureHeader}

// Reasons of the input field violations.
const (
	reasonNotUTF8      = "must be valid UTF-8"
	reasonNotPrintable = "must be printable ASCII"
)

// checkInput refuses, before routing, a request whose path, query
// parameters or copied headers are not valid UTF-8 (or, for
// Authorization, not printable ASCII as gRPC metadata must be): 400
// naming the part ("path", "query.<name>", "header.<Name>"). It also
// closes a connection that used Transfer-Encoding (see closeChunked).
func (g *Gateway) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		closeChunked(w, r)
		if bad := inputViolations(r); len(bad) > 0 {
			writeProblem(w, r, Problem{
				Type:   problemTypePrefix + "invalid-argument",
				Status: http.StatusBadRequest,
				Detail: "the request is not valid text: " + bad[0].Field + " " + bad[0].Reason,
				Errors: bad,
			}, nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// inputViolations lists the parts of r that checkInput refuses.
func inputViolations(r *http.Request) []FieldError {
	var bad []FieldError
	if !utf8.ValidString(r.URL.Path) {
		bad = append(bad, FieldError{Field: "path", Reason: reasonNotUTF8})
	}
	// A malformed escape is grpc-gateway's to refuse (400); the pairs
	// that did parse are checked here.
	q, _ := url.ParseQuery(r.URL.RawQuery)
	bad = append(bad, valuesViolations(q, "query", "parameter names", "query.")...)
	for _, v := range r.Header.Values("Authorization") {
		if !printableASCII(v) {
			bad = append(bad, FieldError{Field: "header.Authorization", Reason: reasonNotPrintable})
			break
		}
	}
	for _, h := range copiedHeaders {
		if !allUTF8(r.Header.Values(h)) {
			bad = append(bad, FieldError{Field: "header." + h, Reason: reasonNotUTF8})
		}
	}
	return bad
}

// sortedKeys returns q's keys in order, so that problems are stable.
func sortedKeys(q url.Values) []string {
	return slices.Sorted(maps.Keys(q))
}

// printableASCII reports whether s is what grpc-go accepts as an ASCII
// metadata value: bytes 0x20 to 0x7E.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// formViolations checks the fields of a parsed form (the /oauth2/token
// body) for valid UTF-8, naming each bad field by its name.
func formViolations(form url.Values) []FieldError {
	return valuesViolations(form, "form", "field names", "")
}

// valuesViolations checks the names and values of a query or form for
// valid UTF-8, in name order: any bad name is one error on namesField,
// and a name with a bad value is one error on valuePrefix + name.
func valuesViolations(vs url.Values, namesField, names, valuePrefix string) []FieldError {
	var bad []FieldError
	for _, k := range sortedKeys(vs) {
		if !utf8.ValidString(k) {
			bad = append(bad, FieldError{Field: namesField, Reason: names + " " + reasonNotUTF8})
			continue
		}
		if !allUTF8(vs[k]) {
			bad = append(bad, FieldError{Field: valuePrefix + k, Reason: reasonNotUTF8})
		}
	}
	return bad
}

// allUTF8 reports whether every value is valid UTF-8.
func allUTF8(values []string) bool {
	return !slices.ContainsFunc(values, func(v string) bool { return !utf8.ValidString(v) })
}

// closeChunked answers a request that arrived with Transfer-Encoding over
// HTTP/1.x with Connection: close. RFC 9112 section 6.1 requires closing
// the connection after a request that carries both Content-Length and
// Transfer-Encoding (a request-smuggling attempt), but net/http drops the
// Content-Length of such a request before any handler sees it, so the
// gateway cannot tell the two apart and closes after every chunked
// request: the rare API client streaming a body of unknown length pays one
// reconnect, and nothing smuggled behind a request can reuse its
// connection.
func closeChunked(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		w.Header().Set("Connection", "close")
	}
}

// strictJSON is jsonMarshaler with a decoder that refuses trailing data:
// json.Decoder (and so runtime.JSONPb) stops after the first value, so
// `{...}xyz` or two objects used to be accepted as the first one.
type strictJSON struct {
	*runtime.JSONPb
}

// NewDecoder returns a decoder that reads exactly one JSON value from r.
func (m strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error { return m.decode(r, v) })
}

// errTrailingData is the decoding error of a body with data after its
// JSON value; decodeViolations names the field "body" for it.
var errTrailingData = errors.New(trailingDataMsg)

// trailingDataMsg is errTrailingData's text, matched by decodeViolations.
const trailingDataMsg = "request body has data after its JSON value"

// decode reads one JSON value from r into v, refusing anything but white
// space after it. An empty body is io.EOF, which the generated handlers
// take as an empty message (POST …:publish without a body).
func (m strictJSON) decode(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if errors.Is(err, errBodyTooLarge) {
			return err
		}
		return errTrailingData
	}
	return m.Unmarshal(raw, v)
}

// hasBody reports whether r carries a request body (Content-Length above
// zero, or chunked).
func hasBody(r *http.Request) bool {
	if r.ContentLength > 0 {
		return true
	}
	return r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody
}

// jsonMediaType reports whether ct is application/json or a +json type,
// with no charset or UTF-8 (RFC 8259 section 8.1).
func jsonMediaType(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// slowMethods are the calls that may take longer than the server's read
// and write timeouts: whole documents to sign or verify, bulk CSV uploads.
var slowMethods = map[string]bool{
	signaturev1.SignatureService_SignDocument_FullMethodName:        true,
	signaturev1.SignatureService_VerifySignature_FullMethodName:     true,
	notificationv1.NotificationService_CreateBulkJob_FullMethodName: true,
	notificationv1.NotificationService_UploadBulkJob_FullMethodName: true,
}

// routeLimits runs after the route policy and before the body is read:
// a JSON route with a body that is not application/json gets 415, and the
// slow routes get Config.SlowReadTimeout and SlowWriteTimeout in place
// of the server's deadlines.
func (g *Gateway) routeLimits(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		key := routeKey(r.Method, matchedTemplate(r))
		if !g.own[key] && hasBody(r) && !jsonMediaType(r.Header.Get("Content-Type")) {
			writeUnsupportedMediaType(w, r, "application/json")
			return
		}
		if st := stateFrom(r.Context()); st != nil && slowMethods[st.method] {
			rc := http.NewResponseController(w)
			now := time.Now()
			// Not supported only outside a real server (httptest
			// recorders), where no deadline applies anyway.
			_ = rc.SetReadDeadline(now.Add(g.cfg.SlowReadTimeout))
			_ = rc.SetWriteDeadline(now.Add(g.cfg.SlowWriteTimeout))
		}
		next(w, r, params)
	}
}
