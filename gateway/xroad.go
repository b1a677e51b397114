package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/store"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// X-Road / UXP provider side (docs/gateway.md, "X-Road"). The platform's
// provider security server relays calls of X-Road members in the Message
// Protocol for REST (PR-REST 1.0) to a listener of its own (ServeXRoad):
// TLS that requires a client certificate chaining to Config.XRoadClientCA
// (and, when pinned, with one of Config.XRoadClientPins as its SHA-256
// fingerprint), so that nothing but the security server can reach it. The
// X-Road-Client header names the member (or subsystem) that called; a
// registered mapping (gateway_xroad_clients, `tamkeen xroad map`) names
// the Tamkeen client it stands for, auth issues that client's token over
// the internal GatewayTokenService, and the call then runs through the
// public API's handler exactly as that client's own call would: scopes,
// access rights, rate limits, audit and metering. The public listener
// never reads X-Road headers: only this listener puts the X-Road ids into
// the request context that the audit log and the trace read.

// X-Road headers (PR-REST 1.0 section 4.3).
const (
	XRoadClientHeader = "X-Road-Client"
	XRoadIDHeader     = "X-Road-Id"
	XRoadUserIDHeader = "X-Road-UserId"
	XRoadErrorHeader  = "X-Road-Error"
)

// maxXRoadHeaderLen bounds X-Road-Id and X-Road-UserId, and each decoded
// part of X-Road-Client (PR-REST's identifiers are at most 255
// characters).
const maxXRoadHeaderLen = 255

// ErrXRoadClient is wrapped by ParseXRoadClient's errors.
var ErrXRoadClient = errors.New("invalid X-Road client identifier")

// XRoadClient is an X-Road client identifier: a member
// (INSTANCE/CLASS/MEMBER) or one of its subsystems
// (INSTANCE/CLASS/MEMBER/SUBSYSTEM).
type XRoadClient struct {
	Instance, Class, Member, Subsystem string
}

// String is the identifier with its parts joined by "/", undecoded: the
// parts cannot hold "/" (ParseXRoadClient), so the form is unambiguous.
// It is the key of the mapping.
func (c XRoadClient) String() string {
	s := c.Instance + "/" + c.Class + "/" + c.Member
	if c.Subsystem != "" {
		s += "/" + c.Subsystem
	}
	return s
}

// ParseXRoadClient reads an X-Road-Client header value: three or four
// "/"-separated, percent-encoded UTF-8 parts, each of 1 to 255 characters
// without the characters PR-REST 1.0 section 4.8 excludes from
// identifiers (":", ";", "%", "/", "\", control and white-space
// characters) once decoded.
func ParseXRoadClient(v string) (XRoadClient, error) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 && len(parts) != 4 {
		return XRoadClient{}, fmt.Errorf("%w: want INSTANCE/CLASS/MEMBER[/SUBSYSTEM], got %d parts", ErrXRoadClient, len(parts))
	}
	names := []string{"instance", "member class", "member code", "subsystem code"}
	for i, p := range parts {
		d, err := url.PathUnescape(p)
		if err != nil {
			return XRoadClient{}, fmt.Errorf("%w: the %s is not valid percent-encoding", ErrXRoadClient, names[i])
		}
		if why := xroadPartProblem(d); why != "" {
			return XRoadClient{}, fmt.Errorf("%w: the %s %s", ErrXRoadClient, names[i], why)
		}
		parts[i] = d
	}
	c := XRoadClient{Instance: parts[0], Class: parts[1], Member: parts[2]}
	if len(parts) == 4 {
		c.Subsystem = parts[3]
	}
	return c, nil
}

// xroadPartProblem says what is wrong with one decoded identifier part.
func xroadPartProblem(p string) string {
	switch {
	case p == "":
		return "is empty"
	case !utf8.ValidString(p):
		return "is not UTF-8"
	case utf8.RuneCountInString(p) > maxXRoadHeaderLen:
		return "is longer than 255 characters"
	case strings.ContainsAny(p, ":;%/\\"):
		return `contains one of : ; % / \`
	case strings.ContainsFunc(p, controlOrSpace):
		return "contains a control or white-space character"
	}
	return ""
}

// controlOrSpace reports C0 and C1 controls and white space.
func controlOrSpace(r rune) bool {
	return r <= ' ' || (r >= 0x7f && r <= 0xa0) || unicode.IsSpace(r)
}

// validXRoadValue accepts an X-Road-Id or X-Road-UserId: 1 to 255 bytes of
// printable ASCII, so that it cannot forge log lines or break the audit
// export.
func validXRoadValue(v string) bool {
	if v == "" || len(v) > maxXRoadHeaderLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// XRoadCall is what the security server said about a relayed call.
type XRoadCall struct {
	// Client is the X-Road-Client, decoded and joined by "/".
	Client string
	// ID is the X-Road-Id, the message id the security servers log.
	ID string
	// UserID is the X-Road-UserId, when the consumer sent one.
	UserID string
}

// xroadKey is the context key of *XRoadCall.
type xroadKey struct{}

// XRoadCallFrom returns the X-Road call of a request served by the X-Road
// listener; false on the public listener, whatever headers it carried.
func XRoadCallFrom(ctx context.Context) (XRoadCall, bool) {
	if c, ok := ctx.Value(xroadKey{}).(*XRoadCall); ok {
		return *c, true
	}
	return XRoadCall{}, false
}

// xroadError is PR-REST 1.0's error body (section 4.4): its type is also
// sent in the X-Road-Error header.
type xroadError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// Types of the gateway's own X-Road refusals.
const (
	xroadBadRequest   = "Server.ServerProxy.InvalidRequest"
	xroadAccessDenied = "Server.ServerProxy.AccessDenied"
	xroadUnavailable  = "Server.ServerProxy.ServiceUnavailable"
)

// writeXRoadError answers a refusal in PR-REST's error form; detail is the
// request ID, which the gateway's logs carry.
func writeXRoadError(w http.ResponseWriter, status int, typ, message, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", requestID)
	w.Header().Set(XRoadErrorHeader, typ)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(xroadError{Type: typ, Message: message, Detail: requestID})
}

// XRoadMapping is one registered X-Road client and the Tamkeen client it
// acts as.
type XRoadMapping struct {
	XRoadClient string
	ClientID    string
	MappedAt    time.Time
}

// MapXRoadClient registers (or changes) the Tamkeen client that calls of
// xroadClient (an X-Road-Client value, percent-encoded or not) act as.
func MapXRoadClient(ctx context.Context, db *store.DB, xroadClient, clientID string, now time.Time) (XRoadMapping, error) {
	c, err := ParseXRoadClient(xroadClient)
	if err != nil {
		return XRoadMapping{}, err
	}
	if clientID == "" || len(clientID) > 128 || strings.ContainsFunc(clientID, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return XRoadMapping{}, fmt.Errorf("%w: the client id must be 1 to 128 printable ASCII characters", ErrConfig)
	}
	m := XRoadMapping{XRoadClient: c.String(), ClientID: clientID, MappedAt: store.Stamp(now)}
	if _, err := db.ExecContext(ctx, `INSERT INTO gateway_xroad_clients (xroad_client, client_id, mapped_at) VALUES ($1, $2, $3)
ON CONFLICT (xroad_client) DO UPDATE SET client_id = excluded.client_id, mapped_at = excluded.mapped_at`, m.XRoadClient, m.ClientID, m.MappedAt); err != nil {
		return XRoadMapping{}, fmt.Errorf("map X-Road client: %w", err)
	}
	return m, nil
}

// UnmapXRoadClient removes xroadClient's mapping; false when there was
// none.
func UnmapXRoadClient(ctx context.Context, db *store.DB, xroadClient string) (bool, error) {
	c, err := ParseXRoadClient(xroadClient)
	if err != nil {
		return false, err
	}
	changed, err := store.ChangedAny(db.ExecContext(ctx, `DELETE FROM gateway_xroad_clients WHERE xroad_client = $1`, c.String()))
	if err != nil {
		return false, fmt.Errorf("unmap X-Road client: %w", err)
	}
	return changed, nil
}

// XRoadMappings lists the registered mappings by X-Road client.
func XRoadMappings(ctx context.Context, db *store.DB) ([]XRoadMapping, error) {
	rows, err := db.QueryContext(ctx, `SELECT xroad_client, client_id, mapped_at FROM gateway_xroad_clients ORDER BY xroad_client`)
	if err != nil {
		return nil, fmt.Errorf("list X-Road clients: %w", err)
	}
	defer rows.Close()
	var out []XRoadMapping
	for rows.Next() {
		var m XRoadMapping
		if err := rows.Scan(&m.XRoadClient, &m.ClientID, &m.MappedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// mappedClient is the Tamkeen client xroadClient is mapped to; "" when it
// is not. One indexed read per call: a mapping removed is refused at
// once, on every replica.
func mappedClient(ctx context.Context, db *store.DB, xroadClient string) (string, error) {
	var id string
	err := db.QueryRowContext(ctx, `SELECT client_id FROM gateway_xroad_clients WHERE xroad_client = $1`, xroadClient).Scan(&id)
	if store.IsNoRows(err) {
		return "", nil
	}
	return id, err
}

// xroadTokenMargin is how long before its expiry a cached token is
// replaced, so that it never expires between the gateway and a service.
const xroadTokenMargin = time.Minute

// xroadTokens caches the mapped clients' access tokens from auth's
// GatewayTokenService until shortly before they expire.
type xroadTokens struct {
	client authv1.GatewayTokenServiceClient
	secret string
	now    func() time.Time

	mu     sync.Mutex
	tokens map[string]cachedToken
}

// cachedToken is one client's token and when to stop using it.
type cachedToken struct {
	token string
	until time.Time
}

// errClientUnusable is a mapped client that auth does not know or has
// disabled.
var errClientUnusable = errors.New("the mapped client is unknown or disabled")

// get returns clientID's token, from the cache or from auth.
func (x *xroadTokens) get(ctx context.Context, clientID string) (string, error) {
	now := x.now()
	x.mu.Lock()
	c, ok := x.tokens[clientID]
	x.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.token, nil
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "tamkeen-gateway-secret", x.secret)
	resp, err := x.client.IssueClientToken(ctx, &authv1.IssueClientTokenRequest{ClientId: clientID})
	if err != nil {
		switch status.Code(err) {
		case codes.NotFound, codes.FailedPrecondition:
			return "", errClientUnusable
		}
		return "", err
	}
	life := time.Duration(resp.GetExpiresIn()) * time.Second
	margin := min(xroadTokenMargin, life/5)
	x.mu.Lock()
	x.tokens[clientID] = cachedToken{token: resp.GetAccessToken(), until: now.Add(life - margin)}
	x.mu.Unlock()
	return resp.GetAccessToken(), nil
}

// xroadListener is the X-Road side of the gateway: its TLS configuration,
// the mapping database and the token cache.
type xroadListener struct {
	tls    *tls.Config
	db     *store.DB
	tokens *xroadTokens
}

// setUpXRoad builds the X-Road listener's pieces when Config.XRoadAddr is
// set; auth is the connection to auth's GatewayTokenService.
func (g *Gateway) setUpXRoad(db *store.DB, auth grpc.ClientConnInterface) error {
	cfg := g.cfg
	if cfg.XRoadAddr == "" {
		return nil
	}
	if db == nil {
		return fmt.Errorf("%w: xroad-addr needs the gateway database (Deps.DB) for the X-Road client mappings", ErrConfig)
	}
	if g.verifier == nil {
		return fmt.Errorf("%w: xroad-addr needs the issuer set: X-Road calls run as clients with tokens", ErrConfig)
	}
	tlsCfg, err := xroadTLS(cfg)
	if err != nil {
		return err
	}
	g.xroad = &xroadListener{tls: tlsCfg, db: db, tokens: &xroadTokens{
		client: authv1.NewGatewayTokenServiceClient(auth), secret: cfg.XRoadGatewaySecret, now: g.now, tokens: map[string]cachedToken{},
	}}
	g.logger.Info("X-Road provider listener configured", slog.String("addr", cfg.XRoadAddr), slog.Int("pinned_certificates", len(cfg.XRoadClientPins)))
	return nil
}

// xroadTLS is the X-Road listener's TLS: TLS 1.2 or later, a client
// certificate required, chaining to XRoadClientCA for client
// authentication, and one of XRoadClientPins when any are given.
func xroadTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.XRoadCert, cfg.XRoadKey)
	if err != nil {
		return nil, fmt.Errorf("%w: xroad-cert/xroad-key: %v", ErrConfig, err)
	}
	caPEM, err := os.ReadFile(cfg.XRoadClientCA)
	if err != nil {
		return nil, fmt.Errorf("%w: xroad-client-ca: %v", ErrConfig, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%w: xroad-client-ca %s holds no PEM certificate", ErrConfig, cfg.XRoadClientCA)
	}
	pins, err := parsePins(cfg.XRoadClientPins)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		// Runs after the chain verified: the pin narrows the CA's
		// certificates to the security server's own.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(pins) == 0 {
				return nil
			}
			if len(cs.PeerCertificates) == 0 {
				return errors.New("xroad: no client certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if !slices.Contains(pins, hex.EncodeToString(sum[:])) {
				return errors.New("xroad: the client certificate is not the pinned security server's")
			}
			return nil
		},
	}, nil
}

// parsePins normalises SHA-256 fingerprints given as hex, with or
// without colons.
func parsePins(in []string) ([]string, error) {
	var out []string
	for _, p := range in {
		h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(p), ":", ""))
		if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("%w: xroad-client-pins: %q is not a SHA-256 fingerprint in hex", ErrConfig, p)
		}
		out = append(out, h)
	}
	return out, nil
}

// validateXRoad reports the X-Road settings that cannot work.
func (c Config) validateXRoad() []error {
	if c.XRoadAddr == "" {
		return nil
	}
	var errs []error
	if _, _, err := net.SplitHostPort(c.XRoadAddr); err != nil {
		errs = append(errs, fmt.Errorf("%w: xroad-addr %q: %v", ErrConfig, c.XRoadAddr, err))
	}
	for name, v := range map[string]string{"xroad-cert": c.XRoadCert, "xroad-key": c.XRoadKey, "xroad-client-ca": c.XRoadClientCA} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%w: xroad-addr is set but %s is not", ErrConfig, name))
		}
	}
	if len(c.XRoadGatewaySecret) < 32 {
		errs = append(errs, fmt.Errorf("%w: xroad-addr needs xroad-gateway-secret (at least 32 characters, the same as auth's gateway-secret)", ErrConfig))
	}
	if _, err := parsePins(c.XRoadClientPins); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// XRoadEnabled reports whether the gateway has an X-Road listener to
// serve (Config.XRoadAddr).
func (g *Gateway) XRoadEnabled() bool { return g.xroad != nil }

// ServeXRoad serves the X-Road provider side over TLS on lis (a plain TCP
// listener) until ctx is done, like Run; it fails when X-Road is not
// configured.
func (g *Gateway) ServeXRoad(ctx context.Context, lis net.Listener) error {
	if g.xroad == nil {
		return fmt.Errorf("%w: X-Road is not configured (xroad-addr)", ErrConfig)
	}
	return g.serve(ctx, tls.NewListener(lis, g.xroad.tls), g.newServer(ctx, g.xroadHandler(), g.cfg.WriteTimeout))
}

// xroadHandler checks the X-Road headers, maps the member to its client,
// puts the client's token on the request and hands it to the public API's
// handler; the response echoes X-Road-Id.
func (g *Gateway) xroadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.Header.Get(XRoadIDHeader)
		ref := g.newRequestID()
		if !validXRoadValue(id) {
			writeXRoadError(w, http.StatusBadRequest, xroadBadRequest, "X-Road-Id is missing or not 1 to 255 printable ASCII characters", ref)
			return
		}
		w.Header().Set(XRoadIDHeader, id)
		client, err := ParseXRoadClient(r.Header.Get(XRoadClientHeader))
		if err != nil {
			writeXRoadError(w, http.StatusBadRequest, xroadBadRequest, "X-Road-Client: "+strings.TrimPrefix(err.Error(), ErrXRoadClient.Error()+": "), ref)
			return
		}
		call := &XRoadCall{Client: client.String(), ID: id}
		if u := r.Header.Get(XRoadUserIDHeader); u != "" {
			if !validXRoadValue(u) {
				writeXRoadError(w, http.StatusBadRequest, xroadBadRequest, "X-Road-UserId is not 1 to 255 printable ASCII characters", ref)
				return
			}
			call.UserID = u
		}
		clientID, err := mappedClient(ctx, g.xroad.db, call.Client)
		if err != nil {
			g.logger.ErrorContext(ctx, "X-Road mapping lookup failed", slog.String("error", err.Error()), slog.String("xroad_id", id), slog.String("ref", ref))
			writeXRoadError(w, http.StatusServiceUnavailable, xroadUnavailable, "the X-Road client mappings cannot be read; retry later", ref)
			return
		}
		if clientID == "" {
			g.logger.WarnContext(ctx, "X-Road client not mapped: refused", slog.String("xroad_client", call.Client), slog.String("xroad_id", id))
			writeXRoadError(w, http.StatusForbidden, xroadAccessDenied, "the X-Road client "+call.Client+" is not registered with Tamkeen", ref)
			return
		}
		token, err := g.xroad.tokens.get(ctx, clientID)
		if errors.Is(err, errClientUnusable) {
			g.logger.WarnContext(ctx, "X-Road client mapped to an unknown or disabled client: refused", slog.String("xroad_client", call.Client), slog.String("client_id", clientID))
			writeXRoadError(w, http.StatusForbidden, xroadAccessDenied, "the Tamkeen client the X-Road client "+call.Client+" is registered as is not enabled", ref)
			return
		}
		if err != nil {
			g.logger.ErrorContext(ctx, "X-Road client token unavailable", slog.String("error", err.Error()), slog.String("client_id", clientID), slog.String("ref", ref))
			writeXRoadError(w, http.StatusServiceUnavailable, xroadUnavailable, "the client's access token cannot be issued now; retry later", ref)
			return
		}
		// The consumer's own credentials never pass: the call is the
		// mapped client's.
		r.Header.Del("Cookie")
		r.Header.Set("Authorization", "Bearer "+token)
		g.handler.ServeHTTP(w, r.WithContext(context.WithValue(ctx, xroadKey{}, call)))
	})
}

// xroadSpan names the X-Road call on the request's server span: the
// client and the X-Road-Id, which finds the audit record. The user id is
// a personal identifier (often a national ID code): it is always in the
// audit record, and in traces, whose readers and retention are wider, only
// with Config.XRoadTraceUserID.
func (g *Gateway) xroadSpan(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := XRoadCallFrom(r.Context()); ok {
			attrs := []attribute.KeyValue{
				attribute.String("xroad.client", c.Client),
				attribute.String("xroad.id", c.ID),
				attribute.Bool("xroad.user_id_present", c.UserID != ""),
			}
			if g.cfg.XRoadTraceUserID && c.UserID != "" {
				attrs = append(attrs, attribute.String("xroad.user_id", c.UserID))
			}
			trace.SpanFromContext(r.Context()).SetAttributes(attrs...)
		}
		next.ServeHTTP(w, r)
	})
}
