package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/jwks"
	tamkeenproto "github.com/tamkeen/tamkeen/proto"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// Realm is the realm of the gateway's Bearer challenges.
const Realm = "tamkeen"

// AccessTokenType is the JOSE typ of Tamkeen access tokens (RFC 9068).
const AccessTokenType = "at+jwt"

// Caller is the verified principal of a request, as its access token says.
type Caller struct {
	// Kind is Client or Citizen.
	Kind Principal
	// Subject is the token's sub: the client ID or the citizen ID, both
	// opaque identifiers that may be logged.
	Subject string
	// ClientID is the OAuth client of a client token.
	ClientID string
	// ACR is a citizen token's level of assurance.
	ACR string
	// AuthTime is when the citizen authenticated at that level.
	AuthTime time.Time
	// Scopes are a client token's granted scopes.
	Scopes []string
	// AZP is the app a citizen token was issued to (its azp), which usage
	// is metered to.
	AZP string
	// SessionID is a citizen token's sid: the login session it belongs
	// to, refused once the session is ended (revocation.go).
	SessionID string
}

// CallerFrom returns the verified caller of the gateway request whose
// context is ctx; false for public routes, the gateway's own routes and
// outside a gateway request.
func CallerFrom(ctx context.Context) (Caller, bool) {
	if st := stateFrom(ctx); st != nil && st.caller != nil {
		return *st.caller, true
	}
	return Caller{}, false
}

// authFailure is why a request was refused before reaching a service.
type authFailure struct {
	// reason labels gateway_auth_failures_total (a small fixed set).
	reason string
	status int
	// kind ends the problem type URN.
	kind   string
	detail string
	// challenge is the WWW-Authenticate value, if any.
	challenge string
	// retryAfter, when set, is sent as Retry-After.
	retryAfter string
	// right names the missing access right of a missing-right refusal.
	right string
}

// invalidToken is the RFC 6750 challenge for a token that failed
// verification; desc must be a quoted-string-safe sentence.
func invalidToken(reason, desc string) *authFailure {
	return &authFailure{
		reason: reason, status: http.StatusUnauthorized, kind: "invalid-token",
		detail:    "the access token is not valid: " + desc,
		challenge: `Bearer realm="` + Realm + `", error="invalid_token", error_description="` + desc + `"`,
	}
}

// tokenReasons labels the verifier's sentinel errors in the metric.
var tokenReasons = []struct {
	err    error
	reason string
}{
	{jwks.ErrMalformed, "malformed"},
	{jwks.ErrExpired, "expired"},
	{jwks.ErrNotYetValid, "not_yet_valid"},
	{jwks.ErrLifetime, "lifetime"},
	{jwks.ErrBadSignature, "bad_signature"},
	{jwks.ErrUnknownKey, "unknown_key"},
	{jwks.ErrIssuer, "issuer"},
	{jwks.ErrAudience, "audience"},
}

// bearerToken reads the Bearer token of r the way the services read it
// from gRPC metadata (authn.Token). present is false when there is
// no Authorization header at all; ok is false when there is one that is
// not exactly one well-formed Bearer credential.
func bearerToken(r *http.Request) (token string, present, ok bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", false, false
	}
	if len(vals) > 1 {
		return "", true, false
	}
	token, ok = authn.Token(vals[0])
	return token, true, ok
}

// callerOf classifies verified claims as a client or a citizen token. The
// two kinds are told apart by client_id, and a token that looks like both
// (or neither) is refused rather than guessed at.
func callerOf(c *jwks.Claims) (Caller, error) {
	if c.Subject == "" {
		return Caller{}, errors.New("no sub")
	}
	if c.ClientID != "" {
		if !c.IsClient() || c.ACR != "" {
			return Caller{}, errors.New("client token with a citizen's claims")
		}
		return Caller{Kind: Client, Subject: c.Subject, ClientID: c.ClientID, Scopes: c.Scopes()}, nil
	}
	if c.ACR == "" {
		return Caller{}, errors.New("citizen token without acr")
	}
	caller := Caller{Kind: Citizen, Subject: c.Subject, ACR: c.ACR, AZP: c.AZP, SessionID: c.SessionID}
	if c.AuthTime != nil {
		caller.AuthTime = c.AuthTime.Time
	}
	return caller, nil
}

// stepUpChallenge is the RFC 9470 challenge asking for pol's level and
// freshness.
func stepUpChallenge(pol Policy, desc string) string {
	ch := `Bearer error="insufficient_user_authentication", error_description="` + desc + `", acr_values="` + pol.ACR + `"`
	if pol.MaxAge > 0 {
		ch += ", max_age=" + strconv.FormatInt(int64(pol.MaxAge/time.Second), 10)
	}
	return ch
}

// authenticate verifies r's token against pol and returns the caller, or
// why the request must be refused.
func (g *Gateway) authenticate(r *http.Request, pol Policy) (*Caller, *authFailure) {
	if g.verifier == nil {
		return nil, &authFailure{reason: "not_configured", status: http.StatusServiceUnavailable,
			kind: "authentication-not-configured", detail: "authentication is not configured"}
	}
	raw, present, ok := bearerToken(r)
	if !present {
		// RFC 6750 section 3.1: no error code when the request carried no
		// credentials at all.
		return nil, &authFailure{reason: "missing_token", status: http.StatusUnauthorized, kind: "missing-token",
			detail: "this route needs a Bearer access token", challenge: `Bearer realm="` + Realm + `"`}
	}
	if !ok {
		return nil, invalidToken("malformed_header", "the Authorization header is not one Bearer token")
	}
	ctx := r.Context()
	claims, err := g.verifier.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, jwks.ErrJWKSUnavailable) {
			// The token may be fine: the gateway cannot check it now. A 401
			// would make the caller fetch new tokens for nothing.
			g.logger.WarnContext(ctx, "token signing keys unavailable", slog.String("error", err.Error()),
				slog.String("request_id", RequestID(ctx)))
			return nil, &authFailure{reason: "jwks_unavailable", status: http.StatusServiceUnavailable,
				kind: "jwks-unavailable", detail: "the token signing keys are unavailable; retry later", retryAfter: "1"}
		}
		reason := "invalid"
		for _, tr := range tokenReasons {
			if errors.Is(err, tr.err) {
				reason = tr.reason
				break
			}
		}
		return nil, invalidToken(reason, jwks.Description(err))
	}
	caller, err := callerOf(claims)
	if err != nil {
		return nil, invalidToken("unknown_principal", "the token names neither a client nor a citizen")
	}
	if caller.Kind == Citizen && caller.SessionID != "" && g.revocations != nil && g.revocations.revoked(caller.SessionID) {
		return nil, invalidToken("session_revoked", "the session of this token has ended (logged out or revoked); log in again")
	}
	if pol.Callers&caller.Kind == 0 {
		return nil, &authFailure{reason: "wrong_principal", status: http.StatusForbidden, kind: "wrong-principal",
			detail: "this route is for " + pol.Callers.String() + " tokens; a " + caller.Kind.String() + " token cannot call it"}
	}
	switch caller.Kind {
	case Client:
		if pol.AdminScope != "" && slices.Contains(caller.Scopes, pol.AdminScope) {
			break // the platform operator's scope stands in for Scopes
		}
		var missing []string
		for _, s := range pol.Scopes {
			if !slices.Contains(caller.Scopes, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			return nil, &authFailure{reason: "insufficient_scope", status: http.StatusForbidden, kind: "insufficient-scope",
				detail:    "the client token lacks scope " + strings.Join(missing, " "),
				challenge: `Bearer error="insufficient_scope", scope="` + strings.Join(pol.Scopes, " ") + `"`}
		}
	case Citizen:
		if acrRank(caller.ACR) < acrRank(pol.ACR) {
			return nil, &authFailure{reason: "insufficient_acr", status: http.StatusUnauthorized, kind: "insufficient-user-authentication",
				detail:    "this route needs authentication at " + pol.ACR + "; step up with a one-time code",
				challenge: stepUpChallenge(pol, "a step-up to "+pol.ACR+" is required")}
		}
		if pol.MaxAge > 0 && (caller.AuthTime.IsZero() || g.now().Sub(caller.AuthTime) > pol.MaxAge) {
			secs := strconv.FormatInt(int64(pol.MaxAge/time.Second), 10)
			return nil, &authFailure{reason: "max_age", status: http.StatusUnauthorized, kind: "insufficient-user-authentication",
				detail:    "this route needs an authentication at " + pol.ACR + " within the last " + secs + " seconds; step up again",
				challenge: stepUpChallenge(pol, "the authentication is older than "+secs+" seconds")}
		}
	}
	return &caller, nil
}

// refuse counts f and writes it as a problem.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, f *authFailure) {
	g.metrics.authFailures.WithLabelValues(f.reason).Inc()
	hdr := http.Header{}
	if f.challenge != "" {
		hdr.Set("WWW-Authenticate", f.challenge)
	}
	if f.retryAfter != "" {
		hdr.Set("Retry-After", f.retryAfter)
	}
	writeProblem(w, r, Problem{Type: problemTypePrefix + f.kind, Status: f.status, Detail: f.detail, MissingRight: f.right}, hdr)
}

// authorize is the mux middleware that enforces the route policy. It runs
// after routing, so it knows the matched route and, through g.rpcs, the
// gRPC method behind it; it runs before the handler reads the body, so a
// refused caller costs no decoding and no backend call.
func (g *Gateway) authorize(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		key := r.Method + " " + matchedTemplate(r)
		method, known := g.rpcs[key]
		if known && method == "" {
			// The gateway's own routes (health, metrics, docs, Handle).
			next(w, r, params)
			return
		}
		pol, ok := g.policies[method]
		if !known || !ok {
			g.logger.ErrorContext(r.Context(), "route has no policy", slog.String("route", key), slog.String("rpc", method))
			g.refuse(w, r, &authFailure{reason: "no_policy", status: http.StatusForbidden, kind: "no-route-policy",
				detail: "no access policy is defined for this route"})
			return
		}
		st := stateFrom(r.Context())
		if st != nil {
			st.method = method
		}
		release, ok := g.shed(w, r)
		if !ok {
			return
		}
		defer release()
		var caller *Caller
		if !pol.Public {
			var fail *authFailure
			caller, fail = g.authenticate(r, pol)
			if fail != nil {
				g.refuse(w, r, fail)
				return
			}
			if st != nil {
				st.caller = caller
			}
		}
		if g.rights != nil && caller != nil && caller.Kind == Client {
			rights, fail := g.checkRight(r.Context(), caller.ClientID, method)
			if fail != nil {
				g.refuse(w, r, fail)
				return
			}
			if st != nil {
				st.rights = rights
			}
		}
		if !g.rateLimit(w, r, method, caller) {
			return
		}
		if st != nil {
			st.rpc = method
		}
		next(w, r, params)
	}
}

// matchedTemplate is the path template of the route the mux matched.
func matchedTemplate(r *http.Request) string {
	if p, ok := runtime.HTTPPattern(r.Context()); ok {
		return templateOf(p.String())
	}
	return ""
}

// routeKey is the key of g.rpcs: "POST /v1/payments".
func routeKey(method, template string) string {
	return strings.ToUpper(method) + " " + template
}

// serviceDescs are the five enablers' gRPC services.
func serviceDescs() []*grpc.ServiceDesc {
	return []*grpc.ServiceDesc{
		&authv1.AuthService_ServiceDesc,
		&notificationv1.NotificationService_ServiceDesc,
		&signaturev1.SignatureService_ServiceDesc,
		&paymentv1.PaymentService_ServiceDesc,
		&contentv1.ContentService_ServiceDesc,
	}
}

// operationMethods maps the generated OpenAPI operationIds
// ("PaymentService_GetPayment") to gRPC full method names.
func operationMethods() map[string]string {
	byOp := map[string]string{}
	for _, sd := range serviceDescs() {
		short := sd.ServiceName[strings.LastIndexByte(sd.ServiceName, '.')+1:]
		for _, m := range sd.Methods {
			byOp[short+"_"+m.MethodName] = "/" + sd.ServiceName + "/" + m.MethodName
		}
		// Streaming methods behind the gateway's own handlers (a bulk
		// upload streamed in chunks).
		for _, m := range sd.Streams {
			byOp[short+"_"+m.StreamName] = "/" + sd.ServiceName + "/" + m.StreamName
		}
	}
	return byOp
}

// generatedRoutes maps each generated route ("GET /v1/payments/{id}") to
// its gRPC method. The generated OpenAPI document and the generated
// handlers come from the same http.yaml in one `make generate`, and each
// operationId ("PaymentService_GetPayment") names the method behind the
// path. The mapping is only an index: guardedConn refuses any call whose
// method is not the one the policy was checked for.
func generatedRoutes() (map[string]string, error) {
	byOp := operationMethods()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(tamkeenproto.OpenAPI, &doc); err != nil {
		return nil, fmt.Errorf("gateway: parse generated OpenAPI: %w", err)
	}
	out := map[string]string{}
	for path, item := range doc.Paths {
		for verb, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.OperationID == "" {
				continue // "parameters" and other non-operation keys
			}
			method, ok := byOp[op.OperationID]
			if !ok {
				return nil, fmt.Errorf("gateway: OpenAPI operation %s names no gRPC method", op.OperationID)
			}
			out[routeKey(verb, path)] = method
		}
	}
	return out, nil
}

// guardedConn is the gateway's view of a backend connection: it refuses a
// call unless the route policy was checked for exactly that method in this
// request, so that a route the policy middleware did not see (or saw under
// another method) fails closed instead of reaching a service.
type guardedConn struct {
	cc     grpc.ClientConnInterface
	logger *slog.Logger
	// meter records the billable units of successful calls.
	meter bool
}

// errUnguarded is returned for a call the policy did not authorise.
var errUnguarded = status.Error(codes.PermissionDenied, "no access policy was checked for this call")

// check reports whether ctx's request was authorised for method.
func (c guardedConn) check(ctx context.Context, method string) error {
	if st := stateFrom(ctx); st != nil && st.rpc == method {
		return nil
	}
	c.logger.ErrorContext(ctx, "backend call without a policy check", slog.String("rpc", method), slog.String("request_id", RequestID(ctx)))
	return errUnguarded
}

// Invoke checks the policy and the narrowing of the client's access
// right against the decoded request, makes the unary call and meters it.
func (c guardedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if err := c.check(ctx, method); err != nil {
		return err
	}
	st := stateFrom(ctx)
	in, _ := args.(proto.Message)
	if len(st.rights) > 0 && st.caller != nil {
		if f := allowsIDs(st.rights, st.caller.ClientID, method, namedIDs(in)); f != nil {
			return &rightError{f: f}
		}
	}
	if err := c.cc.Invoke(ctx, method, args, reply, opts...); err != nil {
		return err
	}
	if c.meter {
		out, _ := reply.(proto.Message)
		st.usage = meterUnits(method, in, out)
	}
	return nil
}

// NewStream checks the policy, then opens the stream.
func (c guardedConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if err := c.check(ctx, method); err != nil {
		return nil, err
	}
	return c.cc.NewStream(ctx, desc, method, opts...)
}

// conns are the backend connections as the handlers see them: guarded.
type conns struct {
	Auth, Notification, Signature, Payment, Content grpc.ClientConnInterface
}

// guarded wraps every backend in a guardedConn.
func (b Backends) guarded(logger *slog.Logger, meter bool) conns {
	g := func(cc *grpc.ClientConn) grpc.ClientConnInterface {
		return guardedConn{cc: cc, logger: logger, meter: meter}
	}
	return conns{Auth: g(b.Auth), Notification: g(b.Notification), Signature: g(b.Signature), Payment: g(b.Payment), Content: g(b.Content)}
}

// setUpAuth builds the token verifier (when an issuer is configured), the
// policy table and the index of generated routes.
func (g *Gateway) setUpAuth(client *http.Client) error {
	g.policies = Policies()
	routes, err := generatedRoutes()
	if err != nil {
		return err
	}
	g.rpcs = routes
	if g.cfg.Issuer == "" {
		g.logger.Warn("authentication is not configured (no issuer): every route that needs a token answers 503")
		return nil
	}
	v, err := jwks.New(jwks.Options{
		JWKSURL:     g.cfg.JWKSURL,
		Issuer:      g.cfg.Issuer,
		Audiences:   []string{g.cfg.Audience},
		Type:        AccessTokenType,
		MaxLifetime: g.cfg.MaxTokenLifetime,
		HTTPClient:  client,
		Now:         g.now,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	g.verifier = v
	if g.nc != nil {
		g.revocations = newRevocations(g.nc, g.cfg.RevokedSessionsBucket, g.cfg.RevokedSessionsTTL, g.now, g.logger)
	} else {
		g.logger.Warn("no NATS: tokens of ended sessions are accepted until they expire")
	}
	g.logger.Info("verifying access tokens", slog.String("issuer", g.cfg.Issuer),
		slog.String("audience", g.cfg.Audience), slog.String("jwks_url", g.cfg.JWKSURL))
	return nil
}
