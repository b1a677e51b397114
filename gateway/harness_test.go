package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/grpcserver"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines parses the JSON log lines written so far.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the log lines whose msg is msg.
func (b *syncBuffer) find(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, m := range b.lines(t) {
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// recorder keeps what the test services received.
type recorder struct {
	// jwksCalls counts auth's GetJwks calls.
	jwksCalls  int
	mu         sync.Mutex
	issueToken *authv1.IssueTokenRequest
	payment    *paymentv1.CreatePaymentRequest
	refund     *paymentv1.CreateRefundRequest
	webhook    *paymentv1.HandleProviderWebhookRequest
	receipt    *notificationv1.ReceiveDeliveryReceiptRequest
	// upload is the first message of the last UploadBulkJob, uploaded
	// its whole body and uploadChunks how many messages carried it.
	upload       *notificationv1.UploadBulkJobRequest
	uploaded     []byte
	uploadChunks int
	md           metadata.MD
	issueTokMD   metadata.MD
	tokenErr     error
	contentMeta  metadata.MD
	credMeta     metadata.MD
	// gate, when set, holds GetItem("block") until it is closed; entered
	// gets a value when such a call arrives.
	gate    chan struct{}
	entered chan struct{}
	// sms counts SendSms calls that reached the service.
	sms int
	// origins are the web origins auth's ClientOriginsService answers
	// (cors_test.go), by client id.
	origins map[string][]string
}

// contentServer is a small ContentService: GetItem ids steer its answer.
//   - "code-N": fails with gRPC code N;
//   - "violations": InvalidArgument naming translations.ar.title;
//   - "national-id": InvalidArgument with coded violations (a catalogued
//     one, one with an argument, one the catalogue does not know);
//   - "exhausted-N": ResourceExhausted with RetryInfo N ms (0: none);
//   - "challenge": Unauthenticated with an RFC 9470 challenge;
//   - otherwise: the item, after logging "get item" from ctx.
type contentServer struct {
	contentv1.UnimplementedContentServiceServer
	logger *slog.Logger
	rec    *recorder
}

func (s *contentServer) GetItem(ctx context.Context, in *contentv1.GetItemRequest) (*contentv1.Item, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.rec.mu.Lock()
	s.rec.contentMeta = md
	s.rec.mu.Unlock()
	id := in.GetId()
	switch {
	case strings.HasPrefix(id, "code-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "code-"))
		return nil, status.Error(codes.Code(n), "secret internals: dial tcp 10.0.0.7:5432")
	case id == "violations":
		return nil, rpcerr.Invalid(rpcerr.FieldError{Field: "translations.ar.title", Reason: "must not be empty"})
	case id == "national-id":
		return nil, rpcerr.Invalid(
			rpcerr.FieldError{Field: "national_id", Reason: "check digit does not match: please re-check the number", Code: "national_id.check_digit"},
			rpcerr.FieldError{Field: "given_name", Reason: "must be at most 100 characters", Code: "given_name.too_long", Args: rpcerr.ArgList("100")},
			rpcerr.FieldError{Field: "note", Reason: "a refusal the catalogue does not know", Code: "note.uncatalogued"})
	case strings.HasPrefix(id, "exhausted-"):
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "exhausted-"))
		return nil, rpcerr.ResourceExhausted("slow down", time.Duration(n)*time.Millisecond)
	case id == "challenge":
		return nil, status.Error(codes.Unauthenticated, `Bearer error="insufficient_user_authentication", acr_values="loa2", max_age=300`)
	case id == "precondition":
		return nil, rpcerr.FailedPrecondition("item is not in review")
	case id == "panic":
		panic("boom")
	case id == "block":
		s.rec.mu.Lock()
		gate, entered := s.rec.gate, s.rec.entered
		s.rec.mu.Unlock()
		if entered != nil {
			entered <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
	}
	var rid string
	if v := md.Get("x-request-id"); len(v) > 0 {
		rid = v[0]
	}
	s.logger.InfoContext(ctx, "get item", slog.String("request_id", rid))
	return &contentv1.Item{Id: id, Type: "faq", Ministry: "moh", State: "published", Version: 3,
		Translations: map[string]*contentv1.Translation{"ar": {Title: "سؤال"}}}, nil
}

func (s *contentServer) CreateItem(_ context.Context, in *contentv1.CreateItemRequest) (*contentv1.Item, error) {
	if in.GetType() == "" {
		return nil, rpcerr.Invalid(rpcerr.FieldError{Field: "type", Reason: "required"})
	}
	return &contentv1.Item{Id: "cnt_1", Type: in.GetType(), Ministry: in.GetMinistry(), State: "draft", Version: 1}, nil
}

// signatureServer echoes the raw bytes it receives and issues
// credentials, recording the metadata CreateCredential gets.
type signatureServer struct {
	signaturev1.UnimplementedSignatureServiceServer
	rec *recorder
	// tsa, when set, answers Timestamp as a real RFC 3161 TSA; otherwise
	// Timestamp echoes the query.
	tsa *testTSA
}

func (s signatureServer) SignDocument(context.Context, *signaturev1.SignDocumentRequest) (*signaturev1.Signature, error) {
	return &signaturev1.Signature{SignatureId: "sig_1", Format: "cades", Level: "B-T"}, nil
}

func (s signatureServer) CreateCredential(ctx context.Context, in *signaturev1.CreateCredentialRequest) (*signaturev1.Credential, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.credMeta = md
	return &signaturev1.Credential{CredentialId: "crd_1", Status: "active", KeyAlgorithm: "ecdsa-p256"}, nil
}

func (signatureServer) ListCredentials(context.Context, *signaturev1.ListCredentialsRequest) (*signaturev1.ListCredentialsResponse, error) {
	return &signaturev1.ListCredentialsResponse{}, nil
}

func (s signatureServer) Timestamp(_ context.Context, in *signaturev1.TimestampRequest) (*signaturev1.TimestampResponse, error) {
	if s.tsa != nil {
		reply, err := s.tsa.respond(in.GetQuery())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return &signaturev1.TimestampResponse{Reply: reply}, nil
	}
	return &signaturev1.TimestampResponse{Reply: in.GetQuery()}, nil
}

func (signatureServer) CheckOcsp(_ context.Context, in *signaturev1.CheckOcspRequest) (*signaturev1.CheckOcspResponse, error) {
	return &signaturev1.CheckOcspResponse{Response: in.GetRequest()}, nil
}

func (signatureServer) GetCaCertificates(context.Context, *signaturev1.GetCaCertificatesRequest) (*signaturev1.GetCaCertificatesResponse, error) {
	return &signaturev1.GetCaCertificatesResponse{Pem: testPEM}, nil
}

func (signatureServer) GetCrl(context.Context, *signaturev1.GetCrlRequest) (*signaturev1.GetCrlResponse, error) {
	return &signaturev1.GetCrlResponse{Crl: testCRL}, nil
}

// testPEM and testCRL stand in for real PKI objects; the gateway must not
// care what the bytes are.
const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

var testCRL = []byte{0x30, 0x82, 0x00, 0xff, 0x00, 0x01}

// authServer records IssueToken requests and publishes jwks (GetJwks).
type authServer struct {
	authv1.UnimplementedAuthServiceServer
	rec  *recorder
	jwks *authv1.Jwks
}

func (s *authServer) GetJwks(context.Context, *authv1.GetJwksRequest) (*authv1.Jwks, error) {
	s.rec.mu.Lock()
	s.rec.jwksCalls++
	s.rec.mu.Unlock()
	return s.jwks, nil
}

func (s *authServer) IssueToken(ctx context.Context, in *authv1.IssueTokenRequest) (*authv1.TokenResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.issueToken = in
	s.rec.issueTokMD = md
	if s.rec.tokenErr != nil {
		return nil, s.rec.tokenErr
	}
	return &authv1.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 300, Scope: in.GetScope()}, nil
}

// paymentServer records payments, refunds and webhooks.
type paymentServer struct {
	paymentv1.UnimplementedPaymentServiceServer
	rec *recorder
}

func (s *paymentServer) CreatePayment(ctx context.Context, in *paymentv1.CreatePaymentRequest) (*paymentv1.Payment, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.payment, s.rec.md = in, md
	return &paymentv1.Payment{Id: "pay_1", State: "created", Amount: in.GetAmount(), Currency: in.GetCurrency()}, nil
}

func (s *paymentServer) CreateRefund(_ context.Context, in *paymentv1.CreateRefundRequest) (*paymentv1.Refund, error) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.refund = in
	return &paymentv1.Refund{Id: "ref_1", PaymentId: in.GetPaymentId(), Amount: in.GetAmount()}, nil
}

func (s *paymentServer) HandleProviderWebhook(_ context.Context, in *paymentv1.HandleProviderWebhookRequest) (*paymentv1.HandleProviderWebhookResponse, error) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.webhook = in
	return &paymentv1.HandleProviderWebhookResponse{}, nil
}

// notificationServer records delivery receipts.
type notificationServer struct {
	notificationv1.UnimplementedNotificationServiceServer
	rec *recorder
}

// SendSms answers with two segments per message, so metering has
// something to count.
func (s *notificationServer) SendSms(_ context.Context, in *notificationv1.SendSmsRequest) (*notificationv1.Notification, error) {
	s.rec.mu.Lock()
	s.rec.sms++
	s.rec.mu.Unlock()
	return &notificationv1.Notification{Id: "ntf_1", Channel: "sms", Status: "created", TemplateId: in.GetTemplateId(), Segments: 2}, nil
}

func (s *notificationServer) SendEmail(_ context.Context, in *notificationv1.SendEmailRequest) (*notificationv1.Notification, error) {
	return &notificationv1.Notification{Id: "ntf_2", Channel: "email", Status: "created", TemplateId: in.GetTemplateId()}, nil
}

// UploadBulkJob records the stream; a body containing "BAD" is refused
// with a coded field violation, as the service refuses a malformed CSV.
func (s *notificationServer) UploadBulkJob(stream grpc.ClientStreamingServer[notificationv1.UploadBulkJobRequest, notificationv1.BulkJob]) error {
	var (
		first *notificationv1.UploadBulkJobRequest
		body  []byte
		n     int
	)
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if first == nil {
			first = m
		}
		body = append(body, m.GetChunk()...)
		n++
	}
	s.rec.mu.Lock()
	s.rec.upload, s.rec.uploaded, s.rec.uploadChunks = first, body, n
	s.rec.mu.Unlock()
	if bytes.Contains(body, []byte("BAD")) {
		return rpcerr.New(codes.InvalidArgument, rpcerr.ReasonInvalidArgument, "row 3 is not valid CSV").
			Fields(rpcerr.FieldError{Field: "csv", Reason: "row 3 is not valid CSV", Code: "csv.malformed"}).Err()
	}
	return stream.SendAndClose(&notificationv1.BulkJob{Id: "blk_1", Status: "in-progress", Validated: int32(bytes.Count(body, []byte("\n")) - 1)})
}

func (s *notificationServer) ReceiveDeliveryReceipt(_ context.Context, in *notificationv1.ReceiveDeliveryReceiptRequest) (*notificationv1.ReceiveDeliveryReceiptResponse, error) {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.receipt = in
	return &notificationv1.ReceiveDeliveryReceiptResponse{}, nil
}

// stack is a gateway in front of a real gRPC server holding all five test
// services, with a real embedded NATS, each side logging to its buffer.
type stack struct {
	// clock is the gateway's clock; key signs tokens its JWKS publishes.
	clock *clocktest.Clock
	key   *tokenKey
	// defaultAuth is sent by do when the test names no Authorization: a
	// client token with every scope (empty with noAuth).
	defaultAuth string

	gw  *gateway.Gateway
	srv *httptest.Server
	// ops serves the gateway's OpsHandler (/healthz, /readyz, /metrics).
	ops     *httptest.Server
	grpc    *grpcserver.Server
	nats    *natsembed.Server
	nc      *nats.Conn
	rec     *recorder
	gwLog   *syncBuffer
	svcLog  *syncBuffer
	handler http.Handler
	jwksURL string
	// grpcAddr is the test services' gRPC address.
	grpcAddr string
	// calls counts the unary calls the gateway made to the services.
	calls atomic.Int64
	// xroadTokens is auth's GatewayTokenService (xroad_test.go).
	xroadTokens *gatewayTokenServer
	// spans are the gateway's ended spans.
	spans *tracetest.InMemoryExporter
}

// stackOpts tweaks newStack.
type stackOpts struct {
	cfg    gateway.Config
	noNATS bool
	// noAuth leaves Config.Issuer empty (authentication not configured);
	// otherwise the stack sets Issuer to testIssuer and, unless cfg names
	// one, JWKSURL to a test server publishing s.key.
	noAuth bool
	// db is the gateway's database (Deps.DB), already migrated.
	db *store.DB
	// share makes this a second replica of share: same clock, token key,
	// JWKS and embedded NATS server (its own connection, gRPC server and
	// test services).
	share *stack
	// tsa makes the signature service's Timestamp a real RFC 3161 TSA.
	tsa *testTSA
	// oidc is auth's OpenID Provider handler (Deps.OIDC).
	oidc http.Handler
}

// newStack starts the whole thing for one test.
func newStack(t testing.TB, opts stackOpts) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{rec: &recorder{}, gwLog: &syncBuffer{}, svcLog: &syncBuffer{}, clock: clocktest.NewLive()}
	if opts.share != nil {
		s.clock, s.key = opts.share.clock, opts.share.key
		if opts.cfg.JWKSURL == "" {
			opts.cfg.JWKSURL = opts.share.jwksURL
		}
	} else {
		s.key = newTokenKey(t, "k1")
	}
	if !opts.noAuth {
		opts.cfg.Issuer = testIssuer
		if opts.cfg.JWKSURL == "" {
			opts.cfg.JWKSURL = startJWKS(t, s.key.jwk(t)).URL
		}
		s.jwksURL = opts.cfg.JWKSURL
		s.defaultAuth = bearer(s.key.sign(t, with(clientClaims(s.clock.Now(), "demo-ministry", allScopes...),
			map[string]any{"exp": s.clock.Now().Add(time.Hour).Unix()}), nil))
	}

	// Separate tracing on each side: only propagation over gRPC metadata
	// can make the trace IDs match.
	s.spans = tracetest.NewInMemoryExporter()
	gwTracing, err := telemetry.NewTracing(ctx, telemetry.TracingOptions{ServiceName: "gateway", Exporter: s.spans})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	svcTracing, err := telemetry.NewTracing(ctx, telemetry.TracingOptions{ServiceName: "content", Exporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	t.Cleanup(func() { _ = gwTracing.Shutdown(ctx); _ = svcTracing.Shutdown(ctx) })
	svcLogger := telemetry.NewLogger(s.svcLog, telemetry.LoggerOptions{Service: "content"})

	s.grpc = grpcserver.New(grpcserver.Options{Logger: svcLogger, Tracing: svcTracing})
	s.grpc.RegisterService(&contentv1.ContentService_ServiceDesc, &contentServer{logger: svcLogger, rec: s.rec})
	s.grpc.RegisterService(&signaturev1.SignatureService_ServiceDesc, signatureServer{rec: s.rec, tsa: opts.tsa})
	k := s.key.jwk(t)
	s.grpc.RegisterService(&authv1.AuthService_ServiceDesc, &authServer{rec: s.rec, jwks: &authv1.Jwks{Keys: []*authv1.Jwk{{
		Kty: k["kty"].(string), Crv: k["crv"].(string), Kid: k["kid"].(string), Use: k["use"].(string), Alg: k["alg"].(string),
		X: k["x"].(string), Y: k["y"].(string),
	}}}})
	s.grpc.RegisterService(&authv1.ClientOriginsService_ServiceDesc, &originsServer{rec: s.rec})
	s.xroadTokens = &gatewayTokenServer{s: s}
	s.grpc.RegisterService(&authv1.GatewayTokenService_ServiceDesc, s.xroadTokens)
	s.grpc.RegisterService(&paymentv1.PaymentService_ServiceDesc, &paymentServer{rec: s.rec})
	s.grpc.RegisterService(&notificationv1.NotificationService_ServiceDesc, &notificationServer{rec: s.rec})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.grpcAddr = lis.Addr().String()
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = s.grpc.Serve(sctx, lis) }()
	t.Cleanup(func() { stop(); <-done })

	cc, err := grpc.NewClient(lis.Addr().String(), append(grpcserver.ClientOptions(grpcserver.ClientOpts{Tracing: gwTracing}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			s.calls.Add(1)
			return invoker(ctx, method, req, reply, cc, opts...)
		}))...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })

	switch {
	case opts.share != nil && opts.share.nats != nil:
		s.nats = opts.share.nats
		s.nc = natstest.Connect(t, s.nats)
	case !opts.noNATS:
		s.nats = natstest.Start(t, natsembed.Options{})
		s.nc = natstest.Connect(t, s.nats)
	}
	s.gw, err = gateway.New(opts.cfg, gateway.Deps{
		Logger:   telemetry.NewLogger(s.gwLog, telemetry.LoggerOptions{Service: "gateway"}),
		Tracing:  gwTracing,
		Registry: telemetry.NewRegistry(),
		Backends: gateway.Backends{Auth: cc, Notification: cc, Signature: cc, Payment: cc, Content: cc},
		NATS:     s.nc,
		Now:      s.clock.Now,
		DB:       opts.db,
		OIDC:     opts.oidc,
	})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	s.handler = s.gw.Handler()
	s.srv = httptest.NewServer(s.handler)
	t.Cleanup(s.srv.Close)
	s.ops = httptest.NewServer(s.gw.OpsHandler())
	t.Cleanup(s.ops.Close)
	return s
}

// opsGet fetches path from the operations handler.
func (s *stack) opsGet(t testing.TB, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.ops.Client().Get(s.ops.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// do sends a request to the gateway and returns the response and body.
// Without an "Authorization" key in hdr it sends s.defaultAuth; an empty
// value sends no Authorization header.
func (s *stack) do(t testing.TB, method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if _, ok := hdr["Authorization"]; !ok && s.defaultAuth != "" {
		req.Header.Set("Authorization", s.defaultAuth)
	}
	// JSON routes need their media type (415 otherwise); an empty
	// "Content-Type" in hdr sends none.
	if _, ok := hdr["Content-Type"]; !ok && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// problem decodes a problem+json response, failing the test otherwise.
func problem(t testing.TB, resp *http.Response, body []byte) gateway.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != gateway.ProblemContentType {
		t.Fatalf("Content-Type = %q; want %q (body %s)", ct, gateway.ProblemContentType, body)
	}
	var p gateway.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status = %d; want the HTTP status %d", p.Status, resp.StatusCode)
	}
	if p.RequestID == "" || p.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("problem request_id = %q; want X-Request-Id %q", p.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if p.Type == "" || p.Title == "" {
		t.Errorf("problem type/title empty: %s", body)
	}
	if want := strings.TrimPrefix(p.Type, "urn:tamkeen:problem:"); p.Code != want {
		t.Errorf("problem code = %q; want the type's last segment %q", p.Code, want)
	}
	for _, e := range p.Errors {
		if e.Code == "" {
			t.Errorf("violation of %q has no code: %s", e.Field, body)
		}
	}
	if cl := resp.Header.Get("Content-Language"); cl != "en" && cl != "ar" {
		t.Errorf("Content-Language = %q; want en or ar", cl)
	}
	return p
}
