package gateway

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// jsonMarshaler is the wire format of every JSON route: snake_case field
// names, unset fields omitted, unknown request fields rejected, exactly
// one JSON value per body (strictJSON).
var jsonMarshaler = strictJSON{&runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}}

// createdMethods answer 201 Created instead of 200 (DESIGN.md section 7).
var createdMethods = map[string]bool{
	authv1.AuthService_RegisterCitizen_FullMethodName:                true,
	notificationv1.NotificationService_SendSms_FullMethodName:        true,
	notificationv1.NotificationService_SendEmail_FullMethodName:      true,
	notificationv1.NotificationService_CreateBulkJob_FullMethodName:  true,
	notificationv1.NotificationService_CreateTemplate_FullMethodName: true,
	signaturev1.SignatureService_CreateCredential_FullMethodName:     true,
	paymentv1.PaymentService_CreatePayment_FullMethodName:            true,
	paymentv1.PaymentService_CreateRefund_FullMethodName:             true,
	contentv1.ContentService_CreateItem_FullMethodName:               true,

	// Outbound webhooks (issue 17 item 4).
	notificationv1.NotificationService_CreateWebhookEndpoint_FullMethodName: true,
}

// newServeMux builds the grpc-gateway mux with the gateway's marshaler,
// error handlers, header policy and route recording.
func (g *Gateway) newServeMux() *runtime.ServeMux {
	return runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, jsonMarshaler),
		runtime.WithErrorHandler(g.errorHandler),
		runtime.WithRoutingErrorHandler(g.routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithOutgoingTrailerMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithMetadata(requestIDMetadata),
		runtime.WithForwardResponseOption(createdStatus),
		runtime.WithMiddlewares(recordRoute, g.corsHeaders, g.authorize, g.corsCaller, g.routeLimits),
		// A form POST must not silently reach a GET route, and a header must
		// not change the method behind the route policy's back.
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
	)
}

// incomingHeader forwards no header by name: grpc-gateway itself always
// passes Authorization on as "authorization", the request ID is added by
// requestIDMetadata from the validated value, and nothing else a caller
// sends becomes metadata (the default matcher would pass Grpc-Metadata-*
// and the permanent HTTP headers).
func incomingHeader(string) (string, bool) {
	return "", false
}

// requestIDMetadata adds the gateway's request ID as x-request-id.
func requestIDMetadata(ctx context.Context, _ *http.Request) metadata.MD {
	if st := stateFrom(ctx); st != nil && st.id != "" {
		return metadata.Pairs("x-request-id", st.id)
	}
	return nil
}

// createdStatus sets 201 for the methods that create a resource.
func createdStatus(ctx context.Context, w http.ResponseWriter, _ proto.Message) error {
	if m, ok := runtime.RPCMethod(ctx); ok && createdMethods[m] {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// recordRoute stores the matched path template in the request state, so
// that metrics, spans and the access log name the route, not the raw path.
func recordRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if st := stateFrom(r.Context()); st != nil {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				st.route = templateOf(p.String())
			}
		}
		next(w, r, params)
	}
}

// reCapture matches grpc-gateway's "{name=*}" rendering of a variable.
var reCapture = regexp.MustCompile(`\{([^=}]+)=\*\}`)

// templateOf turns "/v1/items/{id=*}:publish" into "/v1/items/{id}:publish".
func templateOf(pattern string) string {
	return reCapture.ReplaceAllString(pattern, "{$1}")
}

// splitPattern splits "GET /x" into its method and path; no method is GET.
func splitPattern(pattern string) (method, path string) {
	pattern = strings.TrimSpace(pattern)
	if i := strings.IndexByte(pattern, ' '); i > 0 {
		return strings.ToUpper(pattern[:i]), strings.TrimSpace(pattern[i+1:])
	}
	return http.MethodGet, pattern
}

// handlePath registers h on the mux and on the route table, as the route
// of the gRPC method rpc ("" for the gateway's own routes, which no route
// policy covers).
func (g *Gateway) handlePath(method, path, rpc string, h runtime.HandlerFunc) error {
	if err := g.mux.HandlePath(method, path, h); err != nil {
		return err
	}
	g.rpcs[routeKey(method, path)] = rpc
	g.own[routeKey(method, path)] = true
	return g.routes.add(method, path)
}

// routeTable answers "which methods does this path allow" for 405 Allow
// headers. It is a second grpc-gateway mux holding the same patterns whose
// only middleware marks a match and never calls the handler, so matching
// follows exactly the rules of the real mux.
type routeTable struct {
	probe *runtime.ServeMux
}

// probeKey marks a probe request in its context.
type probeKey struct{}

// probeHit is set when the probe mux matched a route; template is the
// matched route's path template.
type probeHit struct {
	matched  bool
	template string
}

// init builds the probe mux with every generated route.
func (t *routeTable) init() error {
	t.probe = runtime.NewServeMux(
		runtime.WithMiddlewares(func(runtime.HandlerFunc) runtime.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request, _ map[string]string) {
				if hit, ok := r.Context().Value(probeKey{}).(*probeHit); ok {
					hit.matched = true
					hit.template = matchedTemplate(r)
				}
			}
		}),
		runtime.WithRoutingErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, int) {}),
		runtime.WithErrorHandler(func(context.Context, *runtime.ServeMux, runtime.Marshaler, http.ResponseWriter, *http.Request, error) {
		}),
		runtime.WithDisablePathLengthFallback(),
		runtime.WithDisableHTTPMethodOverride(),
	)
	ctx := context.Background()
	// The clients are never called: the probe's middleware stops every
	// request before the generated handler runs.
	var cc *grpc.ClientConn
	for _, err := range []error{
		authv1.RegisterAuthServiceHandlerClient(ctx, t.probe, authv1.NewAuthServiceClient(cc)),
		notificationv1.RegisterNotificationServiceHandlerClient(ctx, t.probe, notificationv1.NewNotificationServiceClient(cc)),
		signaturev1.RegisterSignatureServiceHandlerClient(ctx, t.probe, signaturev1.NewSignatureServiceClient(cc)),
		paymentv1.RegisterPaymentServiceHandlerClient(ctx, t.probe, paymentv1.NewPaymentServiceClient(cc)),
		contentv1.RegisterContentServiceHandlerClient(ctx, t.probe, contentv1.NewContentServiceClient(cc)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// add registers one extra (method, path) pattern.
func (t *routeTable) add(method, path string) error {
	if t.probe == nil {
		if err := t.init(); err != nil {
			return err
		}
	}
	return t.probe.HandlePath(method, path, func(http.ResponseWriter, *http.Request, map[string]string) {})
}

// allowMethods are the methods probed for an Allow header.
var allowMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed lists the methods that have a route for r's path.
func (t *routeTable) allowed(r *http.Request) []string {
	if t.probe == nil {
		if err := t.init(); err != nil {
			return nil
		}
	}
	var out []string
	for _, m := range allowMethods {
		// headAsGET answers HEAD on every GET route.
		if t.has(r, m) || m == http.MethodHead && slices.Contains(out, http.MethodGet) {
			out = append(out, m)
		}
	}
	return out
}

// discardWriter is a ResponseWriter that drops everything (for probes).
type discardWriter struct{}

// Header returns a fresh header map.
func (discardWriter) Header() http.Header { return http.Header{} }

// Write discards b.
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader discards the status.
func (discardWriter) WriteHeader(int) {}

// idempotencyKeyField is the request field the Idempotency-Key header is
// copied into, in every request message that has it (payments, refunds,
// SMS and e-mail sends, bulk jobs).
const idempotencyKeyField = "idempotency_key"

// idempotencyKeys is an enabler connection that copies the Idempotency-Key
// header into the idempotency_key string field of any request message that
// has one, so that the services need no HTTP knowledge and a new
// idempotent route needs only the field. The header wins over a value in
// the body.
type idempotencyKeys struct {
	grpc.ClientConnInterface
}

// Invoke sets idempotency_key from the header and makes the call.
func (c idempotencyKeys) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if st := stateFrom(ctx); st != nil && st.idempotencyKey != "" {
		if m, ok := args.(proto.Message); ok {
			r := m.ProtoReflect()
			if f := r.Descriptor().Fields().ByName(idempotencyKeyField); f != nil && f.Kind() == protoreflect.StringKind && f.Cardinality() != protoreflect.Repeated {
				r.Set(f, protoreflect.ValueOfString(st.idempotencyKey))
			}
		}
	}
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}
