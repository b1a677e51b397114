package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/scope"
)

// internalServices are Tamkeen gRPC services the gateway calls itself and
// never routes (no HTTP rule, no policy): auth's list of the clients' web
// origins for CORS (cors.go) and its tokens of X-Road-mapped clients
// (xroad.go).
var internalServices = map[string]bool{"tamkeen.auth.v1.ClientOriginsService": true, "tamkeen.auth.v1.GatewayTokenService": true}

// tamkeenMethods lists the full name of every method of every Tamkeen gRPC
// service linked into the binary, from the proto registry, but the
// internal ones.
func tamkeenMethods(t *testing.T) []string {
	t.Helper()
	var out []string
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "tamkeen.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			if internalServices[string(sd.FullName())] {
				continue
			}
			for j := 0; j < sd.Methods().Len(); j++ {
				out = append(out, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(out) < 60 {
		t.Fatalf("found %d Tamkeen methods in the proto registry; want the five services' (over 60)", len(out))
	}
	return out
}

func TestPoliciesCoverEveryMethod(t *testing.T) {
	t.Parallel()
	policies := gateway.Policies()
	methods := tamkeenMethods(t)
	for _, m := range methods {
		p, ok := policies[m]
		if !ok {
			t.Errorf("%s has no policy in gateway.Policies (policy.go)", m)
			continue
		}
		if p.Public {
			if p.Callers != 0 || len(p.Scopes) > 0 || p.ACR != "" || p.MaxAge != 0 {
				t.Errorf("%s is public but also names callers or requirements: %+v", m, p)
			}
			continue
		}
		if p.Callers == 0 {
			t.Errorf("%s admits nobody: %+v", m, p)
		}
		if p.Callers&gateway.Client != 0 && len(p.Scopes) == 0 {
			t.Errorf("%s admits any client token without a scope: %+v", m, p)
		}
		if p.Callers&gateway.Citizen != 0 && p.ACR != gateway.ACRLoa1 && p.ACR != gateway.ACRLoa2 {
			t.Errorf("%s admits citizens without a known acr: %+v", m, p)
		}
	}
	for m := range policies {
		if !slices.Contains(methods, m) {
			t.Errorf("policy for %s, which is no method of the services", m)
		}
	}
}

// authScopes are the names the auth service grants: those of libs/scope.
func authScopes(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, s := range scope.All() {
		out[s] = true
	}
	return out
}

func TestPolicyScopesAreAuthScopes(t *testing.T) {
	t.Parallel()
	granted := authScopes(t)
	for m, p := range gateway.Policies() {
		for _, s := range append(slices.Clone(p.Scopes), p.AdminScope) {
			if s != "" && !granted[s] {
				t.Errorf("%s needs scope %q, which libs/scope does not define", m, s)
			}
		}
	}
	for _, s := range allScopes {
		if !granted[s] {
			t.Errorf("test scope %q is not an auth scope", s)
		}
	}
}

// operationMethods maps OpenAPI operationIds ("PaymentService_GetPayment")
// to full method names.
func operationMethods(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range tamkeenMethods(t) {
		svcMethod := strings.TrimPrefix(m, "/")
		svc, name, _ := strings.Cut(svcMethod, "/")
		out[svc[strings.LastIndexByte(svc, '.')+1:]+"_"+name] = m
	}
	return out
}

// TestEveryRouteAppliesItsPolicy sends a request without a token to every
// route of /openapi.json: the routes of public methods must reach the
// service, every other one must ask for a token. A route the policy
// middleware could not tie to its method would answer 403 instead.
func TestEveryRouteAppliesItsPolicy(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string   `json:"operationId"`
			Tags        []string `json:"tags"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.gw.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	ops := operationMethods(t)
	policies := gateway.Policies()
	seen := map[string]bool{}
	for path, item := range doc.Paths {
		for verb, op := range item {
			if slices.Contains(op.Tags, "Operations") {
				continue
			}
			method, ok := ops[op.OperationID]
			if !ok {
				t.Errorf("%s %s: operation %q names no gRPC method", verb, path, op.OperationID)
				continue
			}
			seen[method] = true
			url := path
			for strings.Contains(url, "{") {
				i, j := strings.IndexByte(url, '{'), strings.IndexByte(url, '}')
				url = url[:i] + "1" + url[j+1:]
			}
			resp, body := s.do(t, strings.ToUpper(verb), url, nil, map[string]string{"Authorization": ""})
			var p gateway.Problem
			_ = json.Unmarshal(body, &p)
			pol := policies[method]
			switch {
			case pol.Public && (p.Type == "urn:tamkeen:problem:missing-token" || p.Type == "urn:tamkeen:problem:no-route-policy"):
				t.Errorf("%s %s (public %s) = %d %s; want it to reach the service", verb, path, method, resp.StatusCode, p.Type)
			case !pol.Public && (resp.StatusCode != http.StatusUnauthorized || p.Type != "urn:tamkeen:problem:missing-token"):
				t.Errorf("%s %s (%s) = %d %s; want 401 missing-token", verb, path, method, resp.StatusCode, p.Type)
			}
		}
	}
	for m := range policies {
		if !seen[m] {
			t.Errorf("%s has a policy but no route in /openapi.json", m)
		}
	}
}

// stepUpChallenge is the exact RFC 9470 challenge of the loa2 routes.
func stepUpChallenge(desc string) string {
	return `Bearer error="insufficient_user_authentication", error_description="` + desc + `", acr_values="loa2", max_age=300`
}

func TestAuthOutcomes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	now := s.clock.Now()
	other := newTokenKey(t, "k1") // same kid, key not in the JWKS
	unknown := newTokenKey(t, "k9")
	sign := func(c map[string]any) string { return bearer(s.key.sign(t, c, nil)) }
	client := func(scopes ...string) map[string]any { return clientClaims(now, "moh-portal", scopes...) }
	loa1 := citizenClaims(now, "cit_1", "loa1", now.Add(-time.Minute))
	loa2 := citizenClaims(now, "cit_1", "loa2", now.Add(-time.Minute))
	invalid := func(desc string) string {
		return `Bearer realm="tamkeen", error="invalid_token", error_description="` + desc + `"`
	}
	const (
		payments    = "/v1/payments"                                  // client, payments:write
		credentials = "/v1/signing/credentials"                       // POST: citizen loa2 max_age 300 or client signing:seal; GET: citizen loa1 or client signing:seal
		otpStart    = "/v1/auth/otp/challenges"                       // citizen loa1 only
		items       = "/v1/content/items/cnt_1"                       // client content:read or citizen loa1
		caChain     = "/v1/signing/ca"                                // public
		roles       = "/v1/content/ministries/moh/roles/cit_1/author" // client content:roles, or content:admin
		trial       = "/v1/ledger/trial-balance"                      // client ledger:read, or ledger:admin
		none        = "-"                                             // no WWW-Authenticate expected
		paymentBody = `{"amount":"100","currency":"ILS"}`
	)
	tests := []struct {
		name, method, path, auth string
		want                     int
		ptype                    string // problem type after the prefix; "" for success
		challenge                string // exact WWW-Authenticate, or none
	}{
		{name: "no token", method: "POST", path: payments, want: 401, ptype: "missing-token", challenge: `Bearer realm="tamkeen"`},
		{name: "not a JWT", method: "POST", path: payments, auth: "Bearer abc.def", want: 401, ptype: "invalid-token", challenge: invalid("malformed token")},
		{name: "Basic credentials", method: "POST", path: payments, auth: "Basic bW9oOnNlY3JldA==", want: 401, ptype: "invalid-token",
			challenge: invalid("the Authorization header is not one Bearer token")},
		{name: "empty Bearer", method: "POST", path: payments, auth: "Bearer ", want: 401, ptype: "invalid-token",
			challenge: invalid("the Authorization header is not one Bearer token")},
		{name: "expired", method: "POST", path: payments, auth: sign(with(client("payments:write"), map[string]any{"exp": now.Add(-time.Minute).Unix()})),
			want: 401, ptype: "invalid-token", challenge: invalid("token expired")},
		{name: "lifetime beyond the issuer's maximum", method: "POST", path: payments, auth: sign(with(client("payments:write"), map[string]any{"exp": now.Add(30 * 24 * time.Hour).Unix()})),
			want: 401, ptype: "invalid-token", challenge: invalid("token lifetime exceeds the issuer's maximum")},
		{name: "auth_time in the future", method: "GET", path: "/v1/signing/credentials", auth: sign(with(citizenClaims(now, "cit_42", "loa2", now), map[string]any{"auth_time": now.Add(time.Hour).Unix()})),
			want: 401, ptype: "invalid-token", challenge: invalid("token not valid yet")},
		{name: "bad signature", method: "POST", path: payments, auth: bearer(other.sign(t, client("payments:write"), nil)),
			want: 401, ptype: "invalid-token", challenge: invalid("invalid token signature")},
		{name: "alg none", method: "POST", path: payments, auth: bearer(s.key.noneToken(t, client("payments:write"))),
			want: 401, ptype: "invalid-token", challenge: invalid("invalid token signature")},
		{name: "HS256 keyed with the public key", method: "POST", path: payments, auth: bearer(s.key.hs256Token(t, client("payments:write"))),
			want: 401, ptype: "invalid-token", challenge: invalid("invalid token signature")},
		{name: "unknown kid", method: "POST", path: payments, auth: bearer(unknown.sign(t, client("payments:write"), nil)),
			want: 401, ptype: "invalid-token", challenge: invalid("token signed with an unknown key")},
		{name: "other issuer", method: "POST", path: payments, auth: sign(with(client("payments:write"), map[string]any{"iss": "https://evil.test"})),
			want: 401, ptype: "invalid-token", challenge: invalid("token from an unexpected issuer")},
		{name: "other audience", method: "POST", path: payments, auth: sign(with(client("payments:write"), map[string]any{"aud": "tamkeen-payment"})),
			want: 401, ptype: "invalid-token", challenge: invalid("token not issued for this audience")},
		{name: "not an access token (typ JWT)", method: "POST", path: payments, auth: bearer(s.key.sign(t, client("payments:write"), map[string]any{"typ": "JWT"})),
			want: 401, ptype: "invalid-token", challenge: invalid("malformed token")},
		{name: "client and citizen at once", method: "GET", path: items, auth: sign(with(client("content:read"), map[string]any{"acr": "loa2"})),
			want: 401, ptype: "invalid-token", challenge: invalid("the token names neither a client nor a citizen")},
		{name: "citizen token without acr", method: "GET", path: items, auth: sign(with(loa1, map[string]any{"acr": nil})),
			want: 401, ptype: "invalid-token", challenge: invalid("the token names neither a client nor a citizen")},
		{name: "client without the scope", method: "POST", path: payments, auth: sign(client("payments:read", "content:write")),
			want: 403, ptype: "insufficient-scope", challenge: `Bearer error="insufficient_scope", scope="payments:write"`},
		{name: "client with the scope", method: "POST", path: payments, auth: sign(client("payments:write")), want: 201, challenge: none},
		{name: "client token on a citizen route", method: "POST", path: otpStart, auth: sign(client(allScopes...)),
			want: 403, ptype: "wrong-principal", challenge: none},
		{name: "client without the seal scope on a seal-or-citizen route", method: "POST", path: credentials, auth: sign(client("payments:write")),
			want: 403, ptype: "insufficient-scope", challenge: `Bearer error="insufficient_scope", scope="signing:seal"`},
		{name: "citizen token on a client route", method: "POST", path: payments, auth: sign(loa2), want: 403, ptype: "wrong-principal", challenge: none},
		{name: "loa1 on a loa2 route", method: "POST", path: credentials, auth: sign(loa1),
			want: 401, ptype: "insufficient-user-authentication", challenge: stepUpChallenge("a step-up to loa2 is required")},
		{name: "unknown acr on a loa1 route", method: "GET", path: credentials, auth: sign(with(loa1, map[string]any{"acr": "loa0"})),
			want: 401, ptype: "insufficient-user-authentication",
			challenge: `Bearer error="insufficient_user_authentication", error_description="a step-up to loa1 is required", acr_values="loa1"`},
		{name: "loa2 older than max_age", method: "POST", path: credentials, auth: sign(with(loa2, map[string]any{"auth_time": now.Add(-301 * time.Second).Unix()})),
			want: 401, ptype: "insufficient-user-authentication", challenge: stepUpChallenge("the authentication is older than 300 seconds")},
		{name: "loa2 without auth_time", method: "POST", path: credentials, auth: sign(with(loa2, map[string]any{"auth_time": nil})),
			want: 401, ptype: "insufficient-user-authentication", challenge: stepUpChallenge("the authentication is older than 300 seconds")},
		{name: "loa2 fresh", method: "POST", path: credentials, auth: sign(loa2), want: 201, challenge: none},
		{name: "loa1 on a loa1 route", method: "GET", path: credentials, auth: sign(loa1), want: 200, challenge: none},
		{name: "loa2 on a loa1 route", method: "GET", path: credentials, auth: sign(loa2), want: 200, challenge: none},
		{name: "citizen staff on an editor route", method: "GET", path: items, auth: sign(loa1), want: 200, challenge: none},
		{name: "client on an editor route", method: "GET", path: items, auth: sign(client("content:read")), want: 200, challenge: none},
		{name: "client without the editor scope", method: "GET", path: items, auth: sign(client("content:write")),
			want: 403, ptype: "insufficient-scope", challenge: `Bearer error="insufficient_scope", scope="content:read"`},
		// Platform-wide operators: content:admin and ledger:admin admit a
		// client on the role and ledger routes in place of the ministry's
		// scope (the fake backends answer 501: the call got through).
		{name: "content:admin on a role route", method: "DELETE", path: roles, auth: sign(client("content:admin")), want: 501, challenge: none},
		{name: "content:roles on a role route", method: "DELETE", path: roles, auth: sign(client("content:roles")), want: 501, challenge: none},
		{name: "neither on a role route", method: "DELETE", path: roles, auth: sign(client("content:write", "ledger:admin")),
			want: 403, ptype: "insufficient-scope", challenge: `Bearer error="insufficient_scope", scope="content:roles"`},
		{name: "ledger:admin on a ledger route", method: "GET", path: trial, auth: sign(client("ledger:admin")), want: 501, challenge: none},
		{name: "ledger:read on a ledger route", method: "GET", path: trial, auth: sign(client("ledger:read")), want: 501, challenge: none},
		{name: "content:admin on a ledger route", method: "GET", path: trial, auth: sign(client("content:admin")),
			want: 403, ptype: "insufficient-scope", challenge: `Bearer error="insufficient_scope", scope="ledger:read"`},
		{name: "public route ignores a bad token", method: "GET", path: caChain, auth: "Bearer garbage", want: 200, challenge: none},
		{name: "public route without a token", method: "GET", path: caChain, want: 200, challenge: none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": tt.auth, "Content-Type": "application/json"}
			var body *strings.Reader
			if tt.method == http.MethodPost {
				body = strings.NewReader(paymentBody)
				if tt.path == credentials {
					body = strings.NewReader(`{"key_algorithm":"ecdsa-p256"}`)
				}
			} else {
				body = strings.NewReader("")
			}
			s.rec.mu.Lock()
			s.rec.credMeta = nil
			s.rec.mu.Unlock()
			resp, b := s.do(t, tt.method, tt.path, body, hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d; want %d (body %s)", resp.StatusCode, tt.want, b)
			}
			if tt.method == http.MethodPost && tt.path == credentials {
				s.rec.mu.Lock()
				reached := s.rec.credMeta != nil
				s.rec.mu.Unlock()
				if reached != (tt.want == http.StatusCreated) {
					t.Errorf("CreateCredential reached = %v; want %v", reached, tt.want == http.StatusCreated)
				}
			}
			got := resp.Header.Get("WWW-Authenticate")
			switch {
			case tt.challenge == none && got != "":
				t.Errorf("WWW-Authenticate = %q; want none", got)
			case tt.challenge != none && got != tt.challenge:
				t.Errorf("WWW-Authenticate = %q\n want %q", got, tt.challenge)
			}
			if tt.ptype == "" {
				return
			}
			p := problem(t, resp, b)
			if p.Type != "urn:tamkeen:problem:"+tt.ptype || p.Detail == "" {
				t.Errorf("problem type %q detail %q; want urn:tamkeen:problem:%s with a detail", p.Type, p.Detail, tt.ptype)
			}
		})
	}
}

// TestStepUpAndMaxAge is the must-show of issue 3 on the gateway's side:
// a loa1 token is asked to step up, a fresh loa2 token reaches the
// service with its token forwarded, and once max_age has passed the same
// (unexpired) token is asked to step up again.
func TestStepUpAndMaxAge(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	now := s.clock.Now()
	post := func(tok string) (*http.Response, []byte) {
		return s.do(t, http.MethodPost, "/v1/signing/credentials", strings.NewReader(`{}`),
			map[string]string{"Authorization": bearer(tok), "Content-Type": "application/json"})
	}
	loa1 := s.key.sign(t, citizenClaims(now, "cit_7", "loa1", now), nil)
	resp, body := post(loa1)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != stepUpChallenge("a step-up to loa2 is required") {
		t.Fatalf("loa1 = %d %q; want 401 with the RFC 9470 challenge (body %s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}

	loa2 := s.key.sign(t, citizenClaims(now, "cit_7", "loa2", now), nil)
	resp, body = post(loa2)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("fresh loa2 = %d; want 201 (body %s)", resp.StatusCode, body)
	}
	s.rec.mu.Lock()
	fwd := s.rec.credMeta.Get("authorization")
	s.rec.mu.Unlock()
	if len(fwd) != 1 || fwd[0] != bearer(loa2) {
		t.Errorf("service got authorization %v; want the caller's token forwarded", fwd)
	}

	s.clock.Advance(299 * time.Second)
	if resp, body = post(loa2); resp.StatusCode != http.StatusCreated {
		t.Fatalf("loa2 at 299 s = %d; want 201 (body %s)", resp.StatusCode, body)
	}
	s.clock.Advance(2 * time.Second)
	resp, body = post(loa2)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != stepUpChallenge("the authentication is older than 300 seconds") {
		t.Fatalf("loa2 at 301 s = %d %q; want 401 asking for a fresh step-up (body %s)", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
}

func TestUnconfiguredIssuerRefusesProtectedRoutes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true, noAuth: true})
	tok := bearer(s.key.sign(t, clientClaims(s.clock.Now(), "moh", allScopes...), nil))
	for _, auth := range []string{"", tok} {
		resp, body := s.do(t, http.MethodGet, "/v1/payments/pay_1", nil, map[string]string{"Authorization": auth})
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("protected route, authorization %q = %d; want 503 (body %s)", auth, resp.StatusCode, body)
		}
		if p := problem(t, resp, body); p.Detail != "authentication is not configured" {
			t.Errorf("detail = %q; want \"authentication is not configured\"", p.Detail)
		}
	}
	if resp, body := s.do(t, http.MethodGet, "/v1/signing/ca", nil, nil); resp.StatusCode != 200 {
		t.Errorf("public route = %d; want 200 (body %s)", resp.StatusCode, body)
	}
	warned := false
	for _, l := range s.gwLog.lines(t) {
		if msg, _ := l["msg"].(string); strings.Contains(msg, "authentication is not configured") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no start-up log line says authentication is not configured")
	}
}

func TestJWKSUnavailableIsRetryable(t *testing.T) {
	t.Parallel()
	down := startJWKS(t)
	down.Close()
	s := newStack(t, stackOpts{noNATS: true, cfg: gateway.Config{JWKSURL: down.URL + "/jwks.json"}})
	resp, body := s.do(t, http.MethodGet, "/v1/payments/pay_1", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status = %d Retry-After %q; want 503 with Retry-After (body %s)", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if p := problem(t, resp, body); p.Type != "urn:tamkeen:problem:jwks-unavailable" {
		t.Errorf("type = %q; want jwks-unavailable", p.Type)
	}
}

func TestAuthFailuresAreCountedAndCallersLogged(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	now := s.clock.Now()
	citizen := s.key.sign(t, citizenClaims(now, "cit_42", "loa1", now), nil)
	s.do(t, http.MethodGet, "/v1/payments/pay_1", nil, map[string]string{"Authorization": ""})
	s.do(t, http.MethodGet, "/v1/payments/pay_1", nil, map[string]string{"Authorization": ""})
	s.do(t, http.MethodPost, "/v1/signing/credentials", strings.NewReader(`{}`), map[string]string{"Authorization": bearer(citizen)})
	resp, _ := s.do(t, http.MethodGet, "/v1/signing/credentials", nil, map[string]string{"Authorization": bearer(citizen)})
	if resp.StatusCode != 200 {
		t.Fatalf("loa1 list = %d; want 200", resp.StatusCode)
	}
	_, metrics := s.opsGet(t, "/metrics")
	for _, want := range []string{
		`gateway_auth_failures_total{reason="missing_token"} 2`,
		`gateway_auth_failures_total{reason="insufficient_acr"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	var found bool
	for _, l := range s.gwLog.find(t, "http request") {
		if l["route"] == "/v1/signing/credentials" && l["method"] == "GET" {
			found = true
			if l["subject"] != "cit_42" {
				t.Errorf("access log subject = %v; want cit_42", l["subject"])
			}
			if _, ok := l["client_id"]; ok {
				t.Errorf("access log of a citizen call has client_id %v", l["client_id"])
			}
		}
		raw, _ := json.Marshal(l)
		if strings.Contains(string(raw), citizen) {
			t.Errorf("access log carries the token: %s", raw)
		}
	}
	if !found {
		t.Errorf("no access log line for GET /v1/signing/credentials")
	}
}
