package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// CORS (the Fetch standard's cross-origin resource sharing), so that a
// ministry's browser app can call the API; docs/gateway.md, "CORS".
//
// Every route is in one of three classes (corsClassOf):
//
//   - corsAny: the public, credential-free reads (OIDC discovery, JWKS,
//     the CA certificates and CRL, the published content and its search,
//     /openapi.json) answer Access-Control-Allow-Origin: * to every
//     origin, and never allow credentials.
//   - corsRegistered: every other API route answers CORS only for an
//     origin some client registered with auth (`tamkeen clients
//     create|update --allowed-origin`); a call that carries a token must
//     moreover come from an origin of the token's own client (the
//     client_id of a client token, the azp of a citizen token), or it is
//     refused with 403 before it reaches a service (corsCaller).
//   - corsNone: the gateway's other own routes (/docs, the sandbox and
//     dev pages, Handle's) answer no CORS at all.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered by the gateway itself, never by a service: 204 with the
// route's methods, the allowed request headers and Max-Age, or 403
// problem+json without any CORS header. No response ever carries
// Access-Control-Allow-Credentials: the API authenticates with Bearer
// tokens, never cookies.
//
// The registered origins are auth's: the gateway asks auth's internal
// ClientOriginsService for them when a cross-origin request first needs
// them and again in the background once its copy is older than
// Config.CORSRefresh (originsCache).

// DefaultCORSRefresh is how often a replica reloads the registered origins
// (when cross-origin requests ask for them).
const DefaultCORSRefresh = 10 * time.Second

const (
	// corsMaxAge is how long a browser may cache a preflight's answer, in
	// seconds: Chromium's ceiling. A removed origin is still refused at
	// once: the actual response carries no Access-Control-Allow-Origin.
	corsMaxAge = "7200"
	// corsAllowHeaders are the request headers a browser app may send:
	// the API's own (Authorization, Idempotency-Key, conditional GET,
	// language, trace context, request ID) and the safelisted ones a
	// browser may still ask about.
	corsAllowHeaders = "Accept, Accept-Language, Authorization, Content-Language, Content-Type, Idempotency-Key, If-None-Match, traceparent, tracestate, X-Request-Id"
	// corsExposeHeaders are the response headers a page may read beyond
	// the safelisted ones: the ETag of conditional GET, the Location of a
	// created resource, the Retry-After of 429 and 503, the request ID
	// to quote to support, and the Bearer challenges (RFC 6750, RFC 9470
	// step-up) that tell an app what token to get.
	corsExposeHeaders = "ETag, Location, Retry-After, WWW-Authenticate, X-Request-Id"
	// maxCORSOrigins bounds the registered origins a replica holds; more
	// are dropped (and logged), never allowed.
	maxCORSOrigins = 10000
	// corsFetchTimeout bounds one call to auth for the origins.
	corsFetchTimeout = 2 * time.Second
	// maxOriginLen bounds an Origin the gateway looks up or quotes.
	maxOriginLen = 300
)

// corsAllowed is corsAllowHeaders as a set of lower-case names.
var corsAllowed = func() map[string]bool {
	m := map[string]bool{}
	for _, h := range strings.Split(corsAllowHeaders, ",") {
		m[strings.ToLower(strings.TrimSpace(h))] = true
	}
	return m
}()

// corsClass is how a route answers cross-origin requests.
type corsClass uint8

const (
	corsNone corsClass = iota
	corsAny
	corsRegistered
)

// corsOwnPublic are the gateway's own routes answered for any origin.
var corsOwnPublic = map[string]bool{
	"GET /openapi.json": true,
	"GET /openapi.yaml": true,
}

// corsClassOf classifies the route (method, path template).
func (g *Gateway) corsClassOf(method, template string) corsClass {
	key := routeKey(method, template)
	rpc, known := g.rpcs[key]
	switch {
	case !known:
		return corsNone
	case rpc == "":
		if corsOwnPublic[key] {
			return corsAny
		}
		return corsNone
	case rpc == OIDCMethod:
		// The hosted sign-in pages are navigations, and userinfo, revoke
		// and logout serve registered apps: none is for any origin.
		return corsRegistered
	}
	pol, ok := g.policies[rpc]
	if !ok {
		return corsNone
	}
	if pol.Public && (method == http.MethodGet || method == http.MethodHead) {
		return corsAny
	}
	return corsRegistered
}

// crossOrigin returns r's Origin when r is a cross-origin request: an
// Origin header that names neither the gateway's public origin (the
// issuer's) nor the host r was sent to.
func (g *Gateway) crossOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == g.ownOrigin {
		return ""
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return origin
}

// originOf is the serialized origin of an absolute URL, "" if none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// setCORS writes the headers of an admitted cross-origin response.
func setCORS(h http.Header, allowOrigin string) {
	h.Set("Access-Control-Allow-Origin", allowOrigin)
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// clearCORS removes what setCORS wrote.
func clearCORS(h http.Header) {
	h.Del("Access-Control-Allow-Origin")
	h.Del("Access-Control-Expose-Headers")
}

// corsHeaders is the mux middleware, before the route policy, that adds
// the CORS headers of the matched route: * on the public reads, the
// request's origin on the other routes when a client registered it.
// Refusals of the policy that follows keep them, so that a registered
// app can read why (a 401 asking for a token, a 429's Retry-After).
func (g *Gateway) corsHeaders(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		h := w.Header()
		switch g.corsClassOf(r.Method, matchedTemplate(r)) {
		case corsAny:
			setCORS(h, "*")
		case corsRegistered:
			h.Add("Vary", "Origin")
			if origin := g.crossOrigin(r); origin != "" && g.origins.get(r.Context()).registered(origin) {
				setCORS(h, origin)
			}
		}
		next(w, r, params)
	}
}

// corsCaller is the mux middleware, after the route policy, that refuses
// a cross-origin call whose token belongs to a client that did not
// register the origin: 403 before the body is read or a service called,
// and no CORS header (the browser does not let the page read it).
func (g *Gateway) corsCaller(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		c, ok := CallerFrom(r.Context())
		origin := g.crossOrigin(r)
		if !ok || origin == "" {
			next(w, r, params)
			return
		}
		client := c.ClientID
		if c.Kind == Citizen {
			client = c.AZP
		}
		if client != "" && g.origins.get(r.Context()).allows(client, origin) {
			next(w, r, params)
			return
		}
		clearCORS(w.Header())
		detail := "this token's client may not be used from the web origin of the request"
		switch {
		case client == "":
			detail = "this token names no client, so it may not be used from a web origin"
		case len(origin) <= maxOriginLen:
			detail = "client " + client + " has not registered the web origin " + origin +
				"; an operator registers it with `tamkeen clients update --id " + client + " --allowed-origin " + origin + "`"
		}
		g.refuse(w, r, &authFailure{reason: "origin_not_allowed", status: http.StatusForbidden, kind: "origin-not-allowed", detail: detail})
	}
}

// preflight answers CORS preflight requests (OPTIONS with Origin and
// Access-Control-Request-Method) without reaching the mux or a service;
// other requests go on.
func (g *Gateway) preflight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, want := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
		if r.Method != http.MethodOptions || origin == "" || want == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		refuse := func(detail string) {
			writeProblem(w, r, Problem{Type: problemTypePrefix + "cors-preflight-refused", Status: http.StatusForbidden, Detail: detail}, nil)
		}
		routes := g.routes.templates(r)
		template, ok := routes[want]
		if !ok {
			template, ok = routes[routeMethod(want)]
		}
		if !ok {
			refuse("this path has no " + quoteShort(want) + " route")
			return
		}
		if st := stateFrom(r.Context()); st != nil {
			st.route = template
		}
		allow := g.corsAdmits(r.Context(), origin, routeMethod(want), template)
		if allow == "" {
			refuse(g.preflightDenial(origin, routeMethod(want), template))
			return
		}
		for _, name := range splitHeaderList(r.Header.Values("Access-Control-Request-Headers")) {
			if !corsAllowed[strings.ToLower(name)] {
				refuse("the request header " + quoteShort(name) + " is not allowed; allowed: " + corsAllowHeaders)
				return
			}
		}
		var methods []string
		for _, m := range allowMethods {
			t, ok := routes[m]
			if m == http.MethodHead && !ok {
				t, ok = routes[http.MethodGet] // answered as GET (head.go)
			}
			if ok && g.corsAdmits(r.Context(), origin, routeMethod(m), t) != "" {
				methods = append(methods, m)
			}
		}
		h.Set("Access-Control-Allow-Origin", allow)
		h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

// routeMethod is the method whose route answers m: HEAD is served by the
// GET route (head.go).
func routeMethod(m string) string {
	if m == http.MethodHead {
		return http.MethodGet
	}
	return m
}

// corsAdmits returns the Access-Control-Allow-Origin value for origin on
// the route (method, template), or "" when the route does not admit it.
func (g *Gateway) corsAdmits(ctx context.Context, origin, method, template string) string {
	switch g.corsClassOf(method, template) {
	case corsAny:
		return "*"
	case corsRegistered:
		if g.origins.get(ctx).registered(origin) {
			return origin
		}
	}
	return ""
}

// preflightDenial explains a refused preflight.
func (g *Gateway) preflightDenial(origin, method, template string) string {
	if g.corsClassOf(method, template) == corsNone {
		return "this route is not available to web pages of other origins"
	}
	if len(origin) > maxOriginLen {
		return "the origin is not registered by any client"
	}
	return "the web origin " + origin + " is not registered by any client; an operator registers it with " +
		"`tamkeen clients update --id CLIENT --allowed-origin " + origin + "`"
}

// quoteShort quotes s for a problem detail, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < ' ' || r == '"' || r == 0x7f {
			return '?'
		}
		return r
	}, s) + `"`
}

// splitHeaderList splits comma-separated header field values into names.
func splitHeaderList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// templates maps each method of allowMethods that has a route for r's
// path to that route's template, one probe per method.
func (t *routeTable) templates(r *http.Request) map[string]string {
	if t.probe == nil {
		if err := t.init(); err != nil {
			return nil
		}
	}
	out := map[string]string{}
	hit := &probeHit{}
	pr := r.Clone(context.WithValue(r.Context(), probeKey{}, hit))
	pr.Body = http.NoBody
	for _, m := range allowMethods {
		*hit = probeHit{}
		pr.Method = m
		t.probe.ServeHTTP(discardWriter{}, pr)
		if hit.matched {
			out[m] = hit.template
		}
	}
	return out
}

// originSet is one snapshot of the registered origins.
type originSet struct {
	// byClient maps a client id to its origins.
	byClient map[string][]string
	// union holds every client's origins.
	union map[string]bool
}

// registered reports whether some client registered origin.
func (s *originSet) registered(origin string) bool {
	return s != nil && s.union[origin]
}

// allows reports whether client registered origin.
func (s *originSet) allows(client, origin string) bool {
	return s != nil && slices.Contains(s.byClient[client], origin)
}

// originsCache is a replica's copy of the origins clients registered with
// auth. The first request that needs it loads it (callers wait, one load
// at a time); later ones reload it in the background once it is older
// than refresh, and a failed reload keeps the previous copy. Until a load
// has succeeded no origin is registered (fail closed); a failed first
// load is retried at most once per refresh interval.
type originsCache struct {
	fetch   func(ctx context.Context) (map[string][]string, error)
	refresh time.Duration
	now     func() time.Time
	logger  *slog.Logger

	// first serialises the synchronous first loads.
	first sync.Mutex
	// background tracks reloads in flight (tests wait for them).
	background sync.WaitGroup

	mu         sync.Mutex
	set        *originSet
	loadedAt   time.Time
	failedAt   time.Time
	refreshing bool
}

// newOriginsCache asks auth's ClientOriginsService on cc.
func newOriginsCache(cc grpc.ClientConnInterface, refresh time.Duration, now func() time.Time, logger *slog.Logger) *originsCache {
	client := authv1.NewClientOriginsServiceClient(cc)
	return &originsCache{refresh: refresh, now: now, logger: logger, fetch: func(ctx context.Context) (map[string][]string, error) {
		resp, err := client.ListClientOrigins(ctx, &authv1.ListClientOriginsRequest{})
		if err != nil {
			return nil, err
		}
		out := make(map[string][]string, len(resp.GetClients()))
		for _, c := range resp.GetClients() {
			out[c.GetClientId()] = append(out[c.GetClientId()], c.GetOrigins()...)
		}
		return out, nil
	}}
}

// get returns the current snapshot, loading or refreshing it as the type
// says; never nil.
func (c *originsCache) get(ctx context.Context) *originSet {
	c.mu.Lock()
	set := c.set
	stale := set != nil && !c.refreshing && c.now().Sub(c.loadedAt) >= c.refresh
	if stale {
		c.refreshing = true
		c.background.Add(1)
	}
	c.mu.Unlock()
	if stale {
		go func() {
			defer c.background.Done()
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), corsFetchTimeout)
			defer cancel()
			if err := c.load(lctx); err != nil {
				c.logger.WarnContext(lctx, "reload of the clients' web origins failed; using the previous copy", slog.String("error", err.Error()))
			}
			c.mu.Lock()
			c.refreshing = false
			c.mu.Unlock()
		}()
	}
	if set != nil {
		return set
	}
	c.first.Lock()
	defer c.first.Unlock()
	c.mu.Lock()
	set, failedAt := c.set, c.failedAt
	c.mu.Unlock()
	if set != nil {
		return set
	}
	if !failedAt.IsZero() && c.now().Sub(failedAt) < c.refresh {
		return &originSet{}
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), corsFetchTimeout)
	defer cancel()
	if err := c.load(lctx); err != nil {
		c.logger.WarnContext(ctx, "the clients' web origins are unavailable: no registered origin is admitted until they load",
			slog.String("error", err.Error()), slog.String("request_id", RequestID(ctx)))
		c.mu.Lock()
		c.failedAt = c.now()
		c.mu.Unlock()
		return &originSet{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.set
}

// load replaces the snapshot with auth's answer, keeping at most
// maxCORSOrigins origins.
func (c *originsCache) load(ctx context.Context) error {
	by, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	set := &originSet{byClient: make(map[string][]string, len(by)), union: map[string]bool{}}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	n, dropped := 0, 0
	for _, id := range ids {
		for _, o := range by[id] {
			if n >= maxCORSOrigins {
				dropped++
				continue
			}
			n++
			set.byClient[id] = append(set.byClient[id], o)
			set.union[o] = true
		}
	}
	if dropped > 0 {
		c.logger.ErrorContext(ctx, "too many registered web origins: some are not admitted", slog.Int("kept", n), slog.Int("dropped", dropped))
	}
	c.mu.Lock()
	c.set, c.loadedAt, c.failedAt = set, c.now(), time.Time{}
	c.mu.Unlock()
	return nil
}
