// Package gateway is Tamkeen's HTTP front door: it transcodes the public
// HTTP/JSON API (DESIGN.md section 7) to the five enablers' gRPC APIs with
// grpc-gateway, renders every error as RFC 9457 application/problem+json,
// carries request IDs and W3C trace context through to the services, logs
// one access line per request and serves /openapi.json and /docs. Its
// Prometheus metrics, /healthz, /readyz and pprof are on a separate
// operations handler (OpsHandler, served by ServeOps on Config.OpsAddr),
// never on the public API port.
//
// Routes whose wire format is not JSON (RFC 3161 time-stamping, PEM and DER
// PKI objects, OCSP, signed provider webhooks and the RFC 6749 token form)
// are raw handlers that override the generated ones; see raw.go.
//
// Every route of a gRPC method passes its policy (policy.go: public, or a
// client token with scopes, or a citizen token with a least acr and a
// max_age) before its body is read; tokens are ES256 JWTs verified against
// the issuer's JWKS (libs/jwks). Refusals are problems with RFC 6750 and
// RFC 9470 WWW-Authenticate challenges; see authn.go.
//
// Headers forwarded to the services as gRPC metadata are exactly
// "authorization" and "x-request-id" (the gateway's own, validated request
// ID); nothing else a caller sends becomes metadata. The Idempotency-Key
// header is copied by the gateway into the idempotency_key field of every
// request message that has one (payments, refunds, SMS and e-mail sends,
// bulk jobs; routes.go idempotencyKeys; the header wins over a body
// value), so the services read it from the message alone.
package gateway

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Defaults applied by Config.withDefaults to zero fields.
const (
	DefaultHTTPAddr          = "127.0.0.1:8080"
	DefaultMaxBodyBytes      = 32 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included,
	// so that a client trickling its body (one byte every 2 s) is cut.
	DefaultReadTimeout = 20 * time.Second
	// DefaultWriteTimeout bounds the time from the end of the request
	// headers to the end of the response; it must exceed the slowest
	// ordinary backend call.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout closes keep-alive connections idle this long.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultSlowReadTimeout and DefaultSlowWriteTimeout replace the two
	// above on the routes that carry whole documents or bulk uploads
	// (slowMethods: signing, verification, bulk SMS jobs).
	DefaultSlowReadTimeout  = 2 * time.Minute
	DefaultSlowWriteTimeout = 2 * time.Minute
	// DefaultOpsAddr is where /metrics, /healthz, /readyz and pprof are
	// served: loopback, never the public API port.
	DefaultOpsAddr         = "127.0.0.1:8081"
	DefaultShutdownTimeout = 15 * time.Second
	DefaultReadyTimeout    = 2 * time.Second
	// DefaultRawBodyBytes bounds the raw bodies of /tsa, OCSP, webhooks,
	// receipts and the token form, which are all small.
	DefaultRawBodyBytes = 1 << 20
)

// ErrConfig is wrapped by every error Config.Validate and New return for a
// bad configuration or missing dependency.
var ErrConfig = errors.New("gateway: invalid configuration")

// Config is the gateway's configuration. Zero values take the defaults above.
type Config struct {
	// HTTPAddr is where cmd/gateway listens; Run itself takes a listener.
	HTTPAddr string `flag:"http-addr" default:"127.0.0.1:8080" usage:"HTTP listen address"`
	// MaxBodyBytes bounds JSON request bodies; larger ones get 413.
	MaxBodyBytes int64 `flag:"max-body-bytes" default:"33554432" usage:"largest JSON request body in bytes"`
	// RawBodyBytes bounds the bodies of the raw (non-JSON) routes.
	RawBodyBytes int64 `flag:"raw-body-bytes" default:"1048576" usage:"largest raw (TSA, OCSP, webhook, token form) body in bytes"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration `flag:"read-header-timeout" default:"10s" usage:"time allowed to read request headers"`
	// ReadTimeout bounds reading a whole request, headers and body.
	ReadTimeout time.Duration `flag:"read-timeout" default:"20s" usage:"time allowed to read a whole request, body included"`
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the response.
	WriteTimeout time.Duration `flag:"write-timeout" default:"60s" usage:"time allowed from the end of the request headers to the end of the response"`
	// IdleTimeout closes keep-alive connections that stay idle this long.
	IdleTimeout time.Duration `flag:"idle-timeout" default:"60s" usage:"how long an idle keep-alive connection stays open"`
	// SlowReadTimeout replaces ReadTimeout on the routes that carry whole
	// documents or bulk uploads (signing, verification, bulk SMS jobs).
	SlowReadTimeout time.Duration `flag:"slow-read-timeout" default:"2m" usage:"read-timeout of the document signing/verification and bulk upload routes"`
	// SlowWriteTimeout replaces WriteTimeout on the same routes.
	SlowWriteTimeout time.Duration `flag:"slow-write-timeout" default:"2m" usage:"write-timeout of the document signing/verification and bulk upload routes"`
	// OpsAddr is where cmd/gateway serves /metrics, /healthz, /readyz and
	// pprof (Gateway.OpsHandler); ServeOps itself takes a listener.
	OpsAddr string `flag:"ops-addr" default:"127.0.0.1:8081" usage:"operations listen address (/metrics, /healthz, /readyz, /debug/pprof); keep it off the public network"`
	// ShutdownTimeout bounds graceful shutdown once Run's ctx is done.
	ShutdownTimeout time.Duration `flag:"shutdown-timeout" default:"15s" usage:"graceful shutdown deadline"`
	// ReadyTimeout bounds each backend health check behind /readyz.
	ReadyTimeout time.Duration `flag:"ready-timeout" default:"2s" usage:"per-backend health check timeout for /readyz"`
	// Version is shown in the OpenAPI document's info.version.
	Version string `flag:"api-version" default:"v1" usage:"API version shown in /openapi.json"`
	// Issuer is the iss every access token must carry: the gateway's
	// public base URL, e.g. https://api.tamkeen.ps. Empty means
	// authentication is not configured and every route that needs a token
	// answers 503.
	Issuer string `flag:"issuer" usage:"token issuer (the gateway's public base URL); empty refuses every route that needs a token"`
	// Audience must be one of each access token's aud values.
	Audience string `flag:"audience" default:"tamkeen" usage:"audience access tokens must be issued for"`
	// JWKSURL is where the token signing keys are published; empty means
	// Issuer + "/.well-known/jwks.json" (served by the gateway itself).
	JWKSURL string `flag:"jwks-url" usage:"JWKS URL; default <issuer>/.well-known/jwks.json"`
	// RevokedSessionsBucket is the JetStream KV bucket of sessions the
	// auth enabler ended early (logout, refresh-token reuse); their
	// citizen tokens are refused. Needs Deps.NATS; see revocation.go.
	RevokedSessionsBucket string `flag:"revoked-sessions-bucket" default:"tamkeen_gateway_revoked_sessions" usage:"JetStream KV bucket of ended sessions whose access tokens are refused"`
	// RevokedSessionsTTL is how long an ended session is remembered: at
	// least auth's access-token-ttl plus 90 seconds.
	RevokedSessionsTTL time.Duration `flag:"revoked-sessions-ttl" default:"15m" usage:"how long an ended session's tokens are refused: at least auth's access-token-ttl + 90s"`

	// MaxTokenLifetime is the longest exp - iat of an accepted access
	// token; auth issues them for 10 minutes. Zero: jwks.DefaultMaxLifetime.
	MaxTokenLifetime time.Duration `flag:"max-token-lifetime" default:"1h" usage:"refuse access tokens whose lifetime (exp - iat) is longer"`

	// EnforceRights refuses (403) every client-token call that no access
	// right of the client admits (deny by default); needs Deps.DB. Off,
	// scopes alone decide.
	EnforceRights bool `flag:"enforce-rights" usage:"deny client calls that no access right admits (needs the gateway database)"`
	// RightsRefresh is how often each replica reloads the rights table.
	RightsRefresh time.Duration `flag:"rights-refresh" default:"2s" usage:"how often access rights are reloaded"`
	// TrustedProxies are the load balancers or Ingress controllers in
	// front of the gateway whose X-Forwarded-For hops it believes
	// (clientaddr.go); empty: the peer is the client.
	TrustedProxies []string `flag:"trusted-proxies" usage:"comma-separated CIDRs of proxies in front of the gateway whose X-Forwarded-For it believes (e.g. the Ingress controllers' pod network); empty: none"`
	// RateLimits are token buckets per caller and route class,
	// "class=rate/burst" with class read, write or public (e.g.
	// "write=10/20"); shared by every replica through a JetStream KV
	// bucket on Deps.NATS. Empty: no rate limits.
	RateLimits []string `flag:"rate-limits" usage:"token buckets per caller and route class: read|write|public=rate/burst, e.g. write=10/20,read=50/100 (needs NATS JetStream)"`
	// RateLimitBucket is the JetStream KV bucket of the token buckets.
	RateLimitBucket string `flag:"rate-limit-bucket" default:"tamkeen_gateway_ratelimit" usage:"JetStream KV bucket shared by the replicas' rate limiters"`
	// RateLimitTimeout bounds each call to that bucket; past it the
	// replica limits with buckets of its own (and /readyz says degraded)
	// until the bucket answers again, asked every RateLimitRetry.
	RateLimitTimeout time.Duration `flag:"rate-limit-timeout" default:"250ms" usage:"deadline of each call to the shared rate-limit bucket; past it the replica limits on its own"`
	RateLimitRetry   time.Duration `flag:"rate-limit-retry" default:"2s" usage:"while the shared rate-limit bucket does not answer, how often it is asked again"`
	// MaxConcurrent is how many API calls one replica serves at once;
	// more are shed with 503 before they reach a service. 0: no limit.
	MaxConcurrent int `flag:"max-concurrent" usage:"API calls served at once before shedding with 503 (0: no limit)"`
	// SandboxURL is where the payment process serves the sandbox
	// acquirer's checkout pages (its ops address) in test environments; the
	// gateway proxies /sandbox/ there. Empty in production.
	SandboxURL string `flag:"sandbox-url" usage:"payment sandbox pages to proxy at /sandbox/ (test environments only), e.g. http://payment:9464"`
	// OIDCURL is where the auth process serves its OpenID Provider and
	// hosted sign-in pages (its ops address); the gateway proxies the
	// issuer's /oauth2/ paths there, and the authorization_code and
	// refresh_token grants of /oauth2/token. Empty (and no Deps.OIDC): no
	// code flow, /oauth2/token serves client_credentials alone.
	OIDCURL string `flag:"oidc-url" usage:"auth's OpenID Provider and sign-in pages to proxy at /oauth2/ (the auth process's ops address), e.g. http://auth:9464"`
	// Audit writes every API call to the hash-chained audit log before
	// its response is released; needs Deps.DB.
	Audit bool `flag:"audit" usage:"record every API call in the hash-chained, time-stamped audit log (needs the gateway database)"`
	// AuditChain names this replica's hash chain.
	AuditChain string `flag:"audit-chain" default:"gateway" usage:"this replica's audit chain (give each replica its own, e.g. the pod name)"`
	// AuditStampEvery is how many records may follow the last
	// time-stamped head; negative turns time-stamping off.
	AuditStampEvery int `flag:"audit-stamp-every" default:"1000" usage:"time-stamp the audit chain head after this many records (negative: never)"`
	// AuditStampInterval is the longest a new head waits for its
	// time-stamp (checked by Run).
	AuditStampInterval time.Duration `flag:"audit-stamp-interval" default:"1m" usage:"time-stamp a new audit chain head at least this often"`
	// Metering counts usage per client per day for charge-back; needs
	// Deps.DB.
	Metering bool `flag:"metering" usage:"meter usage per client and day for charge-back (needs the gateway database)"`
	// CORSRefresh is how often a replica reloads the web origins clients
	// registered with auth (cors.go).
	CORSRefresh time.Duration `flag:"cors-refresh" default:"10s" usage:"how often the web origins clients registered (CORS) are reloaded from auth"`

	// X-Road / UXP provider side (xroad.go); off while XRoadAddr is
	// empty. XRoadAddr is where cmd/gateway serves it; ServeXRoad itself
	// takes a listener.
	XRoadAddr string `flag:"xroad-addr" usage:"X-Road provider listener (TLS, client certificate required) for the platform's security server; empty: off"`
	// XRoadCert and XRoadKey are the listener's TLS certificate and key
	// (PEM files).
	XRoadCert string `flag:"xroad-cert" usage:"PEM certificate of the X-Road listener"`
	XRoadKey  string `flag:"xroad-key" usage:"PEM private key of the X-Road listener"`
	// XRoadClientCA is the PEM file of the CA(s) the security server's
	// client certificate must chain to.
	XRoadClientCA string `flag:"xroad-client-ca" usage:"PEM CA certificate(s) the provider security server's TLS client certificate must chain to"`
	// XRoadClientPins, when set, are the SHA-256 fingerprints (hex) of
	// the only client certificates accepted.
	XRoadClientPins []string `flag:"xroad-client-pins" usage:"comma-separated SHA-256 fingerprints (hex) of the accepted security server certificates; empty: any the CA issued"`
	// XRoadGatewaySecret authenticates the gateway to auth's internal
	// GatewayTokenService (auth's gateway-secret).
	XRoadGatewaySecret string `flag:"xroad-gateway-secret" secret:"true" usage:"the secret auth's gateway-secret is set to, presented to get the mapped clients' tokens"`
	// XRoadTraceUserID puts X-Road-UserId (a personal identifier) on the
	// trace span too; it is always in the audit record.
	XRoadTraceUserID bool `flag:"xroad-trace-user-id" usage:"also put X-Road-UserId (a personal identifier) on trace spans; it is always in the audit record"`
}

// DefaultAudience is the aud of Tamkeen access tokens.
const DefaultAudience = "tamkeen"

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	c.HTTPAddr = cmp.Or(c.HTTPAddr, DefaultHTTPAddr)
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.RawBodyBytes = cmp.Or(c.RawBodyBytes, DefaultRawBodyBytes)
	c.ReadHeaderTimeout = cmp.Or(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, DefaultWriteTimeout)
	c.IdleTimeout = cmp.Or(c.IdleTimeout, DefaultIdleTimeout)
	c.SlowReadTimeout = cmp.Or(c.SlowReadTimeout, DefaultSlowReadTimeout)
	c.SlowWriteTimeout = cmp.Or(c.SlowWriteTimeout, DefaultSlowWriteTimeout)
	c.OpsAddr = cmp.Or(c.OpsAddr, DefaultOpsAddr)
	c.ShutdownTimeout = cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	c.Version = cmp.Or(c.Version, "v1")
	c.Audience = cmp.Or(c.Audience, DefaultAudience)
	c.RightsRefresh = cmp.Or(c.RightsRefresh, DefaultRightsRefresh)
	c.CORSRefresh = cmp.Or(c.CORSRefresh, DefaultCORSRefresh)
	c.RateLimitBucket = cmp.Or(c.RateLimitBucket, DefaultRateLimitBucket)
	c.RateLimitTimeout = cmp.Or(c.RateLimitTimeout, 250*time.Millisecond)
	c.RateLimitRetry = cmp.Or(c.RateLimitRetry, 2*time.Second)
	c.AuditChain = cmp.Or(c.AuditChain, DefaultAuditChain)
	c.RevokedSessionsBucket = cmp.Or(c.RevokedSessionsBucket, DefaultRevokedSessionsBucket)
	c.RevokedSessionsTTL = cmp.Or(c.RevokedSessionsTTL, DefaultRevokedSessionsTTL)
	c.AuditStampEvery = cmp.Or(c.AuditStampEvery, DefaultAuditStampEvery)
	c.AuditStampInterval = cmp.Or(c.AuditStampInterval, DefaultAuditStampInterval)
	if c.JWKSURL == "" && c.Issuer != "" {
		c.JWKSURL = strings.TrimSuffix(c.Issuer, "/") + "/.well-known/jwks.json"
	}
	return c
}

// Validate reports every setting that cannot work; zero values are fine
// (they take defaults).
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: max-body-bytes %d is negative", ErrConfig, c.MaxBodyBytes))
	}
	if c.RawBodyBytes < 0 {
		errs = append(errs, fmt.Errorf("%w: raw-body-bytes %d is negative", ErrConfig, c.RawBodyBytes))
	}
	for name, d := range map[string]time.Duration{
		"read-header-timeout":  c.ReadHeaderTimeout,
		"read-timeout":         c.ReadTimeout,
		"write-timeout":        c.WriteTimeout,
		"idle-timeout":         c.IdleTimeout,
		"slow-read-timeout":    c.SlowReadTimeout,
		"slow-write-timeout":   c.SlowWriteTimeout,
		"shutdown-timeout":     c.ShutdownTimeout,
		"ready-timeout":        c.ReadyTimeout,
		"rights-refresh":       c.RightsRefresh,
		"max-token-lifetime":   c.MaxTokenLifetime,
		"audit-stamp-interval": c.AuditStampInterval,
		"revoked-sessions-ttl": c.RevokedSessionsTTL,
		"cors-refresh":         c.CORSRefresh,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v is negative", ErrConfig, name, d))
		}
	}
	if c.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("%w: max-concurrent %d is negative", ErrConfig, c.MaxConcurrent))
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if _, err := ParseRateLimits(c.RateLimits); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateXRoad()...)
	for name, addr := range map[string]string{"http-addr": c.HTTPAddr, "ops-addr": c.OpsAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s %q: %v", ErrConfig, name, addr, err))
		}
	}
	if c.Issuer != "" {
		if err := checkHTTPURL(c.Issuer); err != nil {
			errs = append(errs, fmt.Errorf("%w: issuer %q: %v", ErrConfig, c.Issuer, err))
		}
	}
	if c.JWKSURL != "" {
		if c.Issuer == "" {
			errs = append(errs, fmt.Errorf("%w: jwks-url is set but issuer is not", ErrConfig))
		}
		if err := checkHTTPURL(c.JWKSURL); err != nil {
			errs = append(errs, fmt.Errorf("%w: jwks-url %q: %v", ErrConfig, c.JWKSURL, err))
		}
	}
	return errors.Join(errs...)
}

// checkHTTPURL accepts an absolute http(s) URL without query or fragment.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http or https URL")
	case u.Host == "":
		return errors.New("has no host")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// Backends are the client connections to the five enablers. The connections
// should be dialled with grpcserver.ClientOptions (or at least an otelgrpc
// client stats handler using the same provider and propagator as
// Deps.Tracing) so that the services see the gateway's trace. Several
// fields may share one connection (tamkeen dev serves every enabler on one
// gRPC server).
type Backends struct {
	Auth         *grpc.ClientConn
	Notification *grpc.ClientConn
	Signature    *grpc.ClientConn
	Payment      *grpc.ClientConn
	Content      *grpc.ClientConn
}

// named lists the backends with their gRPC service names, in a stable order.
func (b Backends) named() []backend {
	return []backend{
		{name: "auth", service: authv1.AuthService_ServiceDesc.ServiceName, conn: b.Auth},
		{name: "notification", service: notificationv1.NotificationService_ServiceDesc.ServiceName, conn: b.Notification},
		{name: "signature", service: signaturev1.SignatureService_ServiceDesc.ServiceName, conn: b.Signature},
		{name: "payment", service: paymentv1.PaymentService_ServiceDesc.ServiceName, conn: b.Payment},
		{name: "content", service: contentv1.ContentService_ServiceDesc.ServiceName, conn: b.Content},
	}
}

// backend is one enabler connection with the names readiness reports.
type backend struct {
	name    string
	service string
	conn    *grpc.ClientConn
}

// Deps are the gateway's collaborators.
type Deps struct {
	// Logger receives the access log and gateway errors; nil discards.
	Logger *slog.Logger
	// Tracing provides the tracer provider and propagator for the server
	// spans; nil means no tracing (no trace IDs in logs or problems).
	Tracing *telemetry.Tracing
	// Registry receives the gateway's HTTP metrics and is served at
	// /metrics; nil means a fresh registry.
	Registry *prometheus.Registry
	// Backends are the enablers' connections; all five are required.
	Backends Backends
	// NATS is checked by /readyz; nil means the gateway does not depend on
	// NATS and readiness skips it.
	NATS *nats.Conn
	// Now is the clock for latencies; nil means time.Now.
	Now func() time.Time
	// Random is the entropy for request IDs; nil means crypto/rand.
	Random io.Reader
	// HTTPClient fetches the token signing keys from Config.JWKSURL; nil
	// means a client with jwks.DefaultHTTPTimeout.
	HTTPClient *http.Client
	// OIDC is auth's OpenID Provider handler in-process (`tamkeen dev`:
	// auth.Service.Pages); it takes precedence over Config.OIDCURL.
	OIDC http.Handler
	// DB is the gateway's own database (access rights, audit log, usage),
	// migrated with Migrations; needed by Config.EnforceRights, Audit and
	// Metering, unused otherwise.
	DB *store.DB
}

// Gateway is the HTTP front door. Build it with New.
type Gateway struct {
	cfg        Config
	logger     *slog.Logger
	tracer     trace.TracerProvider
	propagator propagation.TextMapPropagator
	registry   *prometheus.Registry
	metrics    *metrics
	backends   []backend
	nc         *nats.Conn
	now        func() time.Time
	random     io.Reader
	fallbackID atomic.Uint64

	// verifier checks access tokens; nil when Config.Issuer is empty.
	verifier *jwks.Verifier
	// revocations are the sessions ended early; nil without NATS.
	revocations *revocations
	// trustedProxies is Config.TrustedProxies parsed.
	trustedProxies []netip.Prefix
	// policies is Policies(), by gRPC full method name.
	policies map[string]Policy
	// rpcs maps routeKey(method, template) to the gRPC method behind the
	// route, or to "" for the gateway's own routes; a route missing here
	// is denied.
	rpcs map[string]string
	// own holds the routeKeys registered with handlePath (raw routes, the
	// gateway's own and Handle's), which are not JSON routes.
	own map[string]bool

	// oidc is auth's OpenID Provider (setUpOIDC); nil without one.
	oidc http.Handler
	// rights is the replica's copy of the access rights; nil when
	// Config.EnforceRights is off.
	rights *rightsCache
	// limiter draws from the shared token buckets; nil without
	// Config.RateLimits.
	limiter *limiter
	// slots is the global concurrency limit; nil without one.
	slots chan struct{}
	// recorder writes audit records and usage; nil when both are off.
	recorder *recorder
	// origins are the web origins clients registered (cors.go).
	origins *originsCache
	// ownOrigin is the issuer's origin: requests from it are not
	// cross-origin.
	ownOrigin string
	// xroad is the X-Road provider listener's state; nil when off.
	xroad *xroadListener

	mux                  *runtime.ServeMux
	routes               *routeTable
	openapi, openapiYAML []byte
	docs, docsScript     []byte
	handler              http.Handler
	ops                  http.Handler
}

// New builds the gateway: it sets up token verification, registers the five services' generated
// handlers, the raw routes and the operational endpoints.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Gateway{cfg: cfg, logger: deps.Logger, registry: deps.Registry, nc: deps.NATS, routes: &routeTable{}, own: map[string]bool{}}
	proxies, err := parseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	g.trustedProxies = proxies
	g.now, g.random = deps.Now, deps.Random
	if g.now == nil {
		g.now = time.Now
	}
	if g.random == nil {
		g.random = rand.Reader
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if deps.Tracing != nil && deps.Tracing.Provider != nil {
		g.tracer, g.propagator = deps.Tracing.Provider, deps.Tracing.Propagator
	} else {
		g.tracer = noop.NewTracerProvider()
	}
	if g.propagator == nil {
		g.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if g.registry == nil {
		g.registry = prometheus.NewRegistry()
	}
	var missing []string
	for _, b := range deps.Backends.named() {
		if b.conn == nil {
			missing = append(missing, b.name)
		}
		g.backends = append(g.backends, b)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing backend connections: %v", ErrConfig, missing)
	}
	m, err := newMetrics(g.registry)
	if err != nil {
		return nil, err
	}
	g.metrics = m
	client := deps.HTTPClient
	if client == nil && deps.Backends.Auth != nil && cfg.JWKSURL == strings.TrimSuffix(cfg.Issuer, "/")+"/.well-known/jwks.json" {
		// The gateway publishes the keys itself (from auth): it reads them
		// from auth directly, not through its own front door, where the
		// public routes' per-address rate limit (or the Ingress) could
		// refuse it its own keys.
		client = &http.Client{Transport: jwksFromAuth{authv1.NewAuthServiceClient(deps.Backends.Auth)}}
	}
	if err := g.setUpAuth(client); err != nil {
		return nil, err
	}
	if err := g.setUpSecurity(deps); err != nil {
		return nil, err
	}
	if err := g.setUpXRoad(deps.DB, deps.Backends.Auth); err != nil {
		return nil, err
	}
	g.origins = newOriginsCache(deps.Backends.Auth, cfg.CORSRefresh, g.now, g.logger)
	g.ownOrigin = originOf(cfg.Issuer)

	g.mux = g.newServeMux()
	ctx := context.Background()
	bk := deps.Backends.guarded(g.logger, g.cfg.Metering)
	for _, reg := range []func() error{
		func() error {
			return authv1.RegisterAuthServiceHandlerClient(ctx, g.mux, authv1.NewAuthServiceClient(bk.Auth))
		},
		func() error {
			return notificationv1.RegisterNotificationServiceHandlerClient(ctx, g.mux, notificationv1.NewNotificationServiceClient(idempotencyKeys{bk.Notification}))
		},
		func() error {
			return signaturev1.RegisterSignatureServiceHandlerClient(ctx, g.mux, signaturev1.NewSignatureServiceClient(bk.Signature))
		},
		func() error {
			return paymentv1.RegisterPaymentServiceHandlerClient(ctx, g.mux, paymentv1.NewPaymentServiceClient(idempotencyKeys{bk.Payment}))
		},
		func() error {
			return contentv1.RegisterContentServiceHandlerClient(ctx, g.mux, contentv1.NewContentServiceClient(bk.Content))
		},
	} {
		if err := reg(); err != nil {
			return nil, fmt.Errorf("gateway: register handlers: %w", err)
		}
	}
	// The OpenID Provider's paths go first: the raw POST /oauth2/token,
	// registered after them, wins over them and hands the code and
	// refresh grants on (raw.go token).
	if err := g.setUpOIDC(cfg, deps.OIDC); err != nil {
		return nil, err
	}
	if err := g.registerRaw(bk); err != nil {
		return nil, err
	}
	if cfg.SandboxURL != "" {
		target, err := url.Parse(cfg.SandboxURL)
		if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
			return nil, fmt.Errorf("%w: sandbox-url %q is not an http(s) URL", ErrConfig, cfg.SandboxURL)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		for _, pattern := range []string{"GET /sandbox", "GET /sandbox/{path=**}", "POST /sandbox/{path=**}"} {
			g.Handle(pattern, proxy)
		}
	}
	if err := g.registerOps(); err != nil {
		return nil, err
	}
	if err := g.buildDocs(); err != nil {
		return nil, err
	}
	g.handler = g.wrap(g.xroadSpan(g.preflight(g.mux)))
	g.ops = g.newOpsHandler()
	return g, nil
}

// setUpOIDC routes the issuer's /oauth2/ paths (authorize, the hosted
// sign-in pages, userinfo, revoke, logout) to auth's OpenID Provider: h
// in-process, else a reverse proxy to cfg.OIDCURL. Either way the
// provider sees the caller's address as X-Forwarded-For (auth throttles
// sign-ins per account and source).
func (g *Gateway) setUpOIDC(cfg Config, h http.Handler) error {
	if h == nil && cfg.OIDCURL != "" {
		target, err := url.Parse(cfg.OIDCURL)
		if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
			return fmt.Errorf("%w: oidc-url %q is not an http(s) URL", ErrConfig, cfg.OIDCURL)
		}
		h = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set("X-Forwarded-For", sourceAddr(pr.In))
		}}
	}
	if h == nil {
		return nil
	}
	g.oidc = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("X-Forwarded-For", sourceAddr(r))
		h.ServeHTTP(w, r)
	})
	// Not the gateway's own routes: like every API route they carry a
	// method (OIDCMethod) with a public policy, so that the route
	// middleware rate-limits them per source and the audit log records
	// them, as it does the token hand-off of POST /oauth2/token.
	g.policies[OIDCMethod] = Policy{Public: true}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if err := g.handlePath(method, "/oauth2/{path=**}", OIDCMethod, func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			g.oidc.ServeHTTP(w, r)
		}); err != nil {
			return fmt.Errorf("gateway: route /oauth2/: %w", err)
		}
	}
	return nil
}

// OIDCMethod stands for auth's OpenID Provider pages under /oauth2/
// (authorize, the hosted sign-in pages, userinfo, revoke, logout), which
// are HTTP, not gRPC, wherever the gateway's route machinery needs a
// method: their public policy, their rate-limit class (public, per
// source), and the rpc of their audit and usage records.
const OIDCMethod = "/tamkeen.auth.v1.OpenIDProvider/Pages"

// setUpSecurity builds the access rights cache, the shared rate limiter,
// the concurrency limit and the audit and usage recorder that cfg turns on.
func (g *Gateway) setUpSecurity(deps Deps) error {
	cfg := g.cfg
	if (cfg.EnforceRights || cfg.Audit || cfg.Metering) && deps.DB == nil {
		return fmt.Errorf("%w: enforce-rights, audit and metering need the gateway database (Deps.DB)", ErrConfig)
	}
	if cfg.EnforceRights {
		g.rights = &rightsCache{store: NewRights(deps.DB, g.now), refresh: cfg.RightsRefresh, now: g.now, logger: g.logger}
	}
	limits, err := ParseRateLimits(cfg.RateLimits)
	if err != nil {
		return err
	}
	if len(limits) > 0 {
		if deps.NATS == nil {
			return fmt.Errorf("%w: rate-limits need NATS JetStream (Deps.NATS)", ErrConfig)
		}
		g.limiter = &limiter{nc: deps.NATS, bucket: cfg.RateLimitBucket, limits: limits, now: g.now, logger: g.logger,
			timeout: cfg.RateLimitTimeout, retryAfter: cfg.RateLimitRetry}
		if err := g.registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gateway_rate_limit_degraded",
			Help: "1 while this replica limits on its own because the shared rate-limit bucket does not answer, else 0.",
		}, func() float64 {
			if degraded, _ := g.limiter.degraded(); degraded {
				return 1
			}
			return 0
		})); err != nil {
			return fmt.Errorf("gateway: register metrics: %w", err)
		}
	}
	if cfg.MaxConcurrent > 0 {
		g.slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	var sig grpc.ClientConnInterface
	if deps.Backends.Signature != nil {
		sig = deps.Backends.Signature
	}
	g.recorder = g.newRecorder(deps.DB, sig)
	if !cfg.EnforceRights {
		g.logger.Info("access rights are not enforced: client scopes alone decide (enforce-rights is off)")
	}
	return nil
}

// Handle adds an extra route, e.g. `tamkeen dev` mounts "GET /dev/inbox".
// Such routes are the gateway's own: no route policy applies and h must
// do its own access control.
// pattern is "METHOD /path" with grpc-gateway path templates ({name}
// segments); without a method it is registered for GET. Later
// registrations win over earlier ones for the same path. Handle must be
// called before the handler serves requests. It panics on a malformed
// pattern, like http.ServeMux.Handle, because that is a programming error.
func (g *Gateway) Handle(pattern string, h http.Handler) {
	method, path := splitPattern(pattern)
	if err := g.handlePath(method, path, "", func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
		h.ServeHTTP(w, r)
	}); err != nil {
		panic(fmt.Sprintf("gateway: Handle(%q): %v", pattern, err))
	}
}

// Handler returns the gateway's HTTP handler with every middleware applied.
func (g *Gateway) Handler() http.Handler { return g.handler }

// OpsHandler returns the operators' endpoints (/healthz, /readyz,
// /metrics, /debug/pprof/), for a listener that only monitoring reaches;
// see ServeOps.
func (g *Gateway) OpsHandler() http.Handler { return g.ops }

// Run serves the public API on lis until ctx is done, then shuts down
// gracefully: it stops accepting connections and waits up to
// Config.ShutdownTimeout for requests in flight before closing the rest.
// It returns nil after a clean shutdown.
//
// The server bounds every phase of a connection (Config.ReadHeaderTimeout,
// ReadTimeout, WriteTimeout, IdleTimeout; the slow routes get
// SlowReadTimeout and SlowWriteTimeout instead), so that clients sending
// slowly or idling cannot pile up connections.
func (g *Gateway) Run(ctx context.Context, lis net.Listener) error {
	if g.revocations != nil {
		rctx, stopRevocations := context.WithCancel(ctx)
		defer stopRevocations()
		go g.revocations.run(rctx)
	}
	if g.recorder != nil && g.recorder.sig != nil {
		sctx, stopStamps := context.WithCancel(ctx)
		defer stopStamps()
		go g.stampLoop(sctx)
	}
	return g.serve(ctx, lis, g.newServer(ctx, g.handler, g.cfg.WriteTimeout))
}

// ServeOps serves OpsHandler on lis until ctx is done, like Run. Its
// write timeout is SlowWriteTimeout, long enough for a 30 s CPU profile.
func (g *Gateway) ServeOps(ctx context.Context, lis net.Listener) error {
	return g.serve(ctx, lis, g.newServer(ctx, g.ops, g.cfg.SlowWriteTimeout))
}

// newServer is the http.Server of Run and ServeOps.
func (g *Gateway) newServer(ctx context.Context, h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: g.cfg.ReadHeaderTimeout,
		ReadTimeout:       g.cfg.ReadTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// serve runs srv on lis until ctx is done, then shuts it down within
// Config.ShutdownTimeout.
func (g *Gateway) serve(ctx context.Context, lis net.Listener, srv *http.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	g.logger.InfoContext(ctx, "gateway shutting down", slog.String("addr", lis.Addr().String()), slog.Duration("deadline", g.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// The deadline passed with requests still running: cut them off.
		_ = srv.Close()
		return fmt.Errorf("gateway: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", err)
	}
	return nil
}
