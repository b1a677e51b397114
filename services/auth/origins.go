package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// Web origins (CORS): a ministry's browser app registers the origins its
// pages are served from (`tamkeen clients create|update
// --allowed-origin`), and the gateway answers CORS on the authenticated
// API only for them, and only for the client whose token the call carries
// (docs/gateway.md, "CORS"). The gateway learns them through the internal
// ClientOriginsService.

// MaxAllowedOrigins bounds a client's registered origins.
const MaxAllowedOrigins = 20

// originProblem says what is wrong with an origin to register (the rule it
// breaks, the last part of its code, and the reason), or two empty
// strings when it is acceptable. An origin is scheme://host[:port]
// exactly as a browser sends it in the Origin header (RFC 6454 section 6.2): https, or http on
// localhost, 127.0.0.1 or [::1] for development; no wildcard, path, query,
// fragment or user information; an internationalised host in its
// punycode (xn--) form.
func originProblem(origin string) (what, reason string) {
	if origin == "" {
		return "required", "is empty"
	}
	if len(origin) > 300 {
		return "too_long", "is longer than 300 characters"
	}
	if origin == "null" {
		return "null", `"null" is the origin of sandboxed and local pages and cannot be registered`
	}
	if strings.Contains(origin, "*") {
		return "wildcard", "must not contain a wildcard: register each origin (scheme://host[:port]) on its own"
	}
	if strings.ContainsFunc(origin, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return "not_ascii", "must be ASCII without spaces (write an internationalised host in its xn-- form)"
	}
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "format", "is not an origin: want scheme://host[:port], e.g. https://app.ministry.ps"
	}
	switch {
	case u.User != nil:
		return "userinfo", "must not carry user information"
	case u.Path != "" || u.RawPath != "":
		return "path", "must not have a path (not even /): want scheme://host[:port]"
	case u.RawQuery != "" || u.ForceQuery:
		return "query", "must not have a query"
	case u.Fragment != "" || strings.Contains(origin, "#"):
		return "fragment", "must not have a fragment"
	}
	host := u.Hostname()
	if port := u.Port(); port != "" && !validPort(port) {
		return "port", "has an invalid port"
	}
	if strings.HasSuffix(u.Host, ":") {
		return "port", "has an empty port"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && devHost(host):
	default:
		return "insecure", "must be https (http only on localhost, 127.0.0.1 or [::1], for development)"
	}
	if net.ParseIP(host) == nil && !validHostname(host) {
		return "host", "has an invalid host name"
	}
	return "", ""
}

// devHost reports whether host is the development machine itself.
func devHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHostname checks a DNS name of letters, digits and hyphens in labels
// of 1 to 63 characters.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// normalizeOrigin serializes an origin that originProblem accepted the way
// browsers send it: scheme and host in lower case, the default port
// dropped.
func normalizeOrigin(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return origin
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// originsProblems checks origins to register as field errors of field
// (allowed_origins).
func originsProblems(origins []string) []error {
	var errs []error
	if len(origins) > MaxAllowedOrigins {
		errs = append(errs, &rpcerr.FieldError{Field: "allowed_origins", Reason: fmt.Sprintf("at most %d", MaxAllowedOrigins), Code: "allowed_origins.too_many", Args: rpcerr.ArgList(strconv.Itoa(MaxAllowedOrigins))})
	}
	for _, o := range origins {
		if what, p := originProblem(o); p != "" {
			errs = append(errs, &rpcerr.FieldError{Field: "allowed_origins", Reason: fmt.Sprintf("%q %s", o, p), Code: "allowed_origins." + what})
		}
	}
	return errs
}

// normalizeOrigins serializes, sorts and de-duplicates accepted origins.
func normalizeOrigins(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		out = append(out, normalizeOrigin(o))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SetClientAllowedOrigins replaces the web origins the client's browser
// pages may call the API from (none removes them all). The gateway
// answers for the new set within its cors-refresh interval.
func (s *Service) SetClientAllowedOrigins(ctx context.Context, id string, origins []string) error {
	if err := errors.Join(originsProblems(origins)...); err != nil {
		return err
	}
	ok, err := updateClientOrigins(ctx, s.DB, id, normalizeOrigins(origins), s.Now().UTC())
	if err != nil {
		return fmt.Errorf("auth: set allowed origins of %s: %w", id, err)
	}
	if !ok {
		return ErrClientNotFound
	}
	return nil
}

// ClientOrigins returns the registered origins of every enabled client
// that has some, by client id.
func (s *Service) ClientOrigins(ctx context.Context) (map[string][]string, error) {
	out, err := selectClientOrigins(ctx, s.DB)
	if err != nil {
		return nil, fmt.Errorf("auth: client origins: %w", err)
	}
	return out, nil
}

// originsServer is the internal ClientOriginsService the gateway calls.
type originsServer struct {
	authv1.UnimplementedClientOriginsServiceServer
	svc *Service
}

// ListClientOrigins answers every enabled client's origins, by id.
func (o *originsServer) ListClientOrigins(ctx context.Context, _ *authv1.ListClientOriginsRequest) (*authv1.ListClientOriginsResponse, error) {
	by, err := o.svc.ClientOrigins(ctx)
	if err != nil {
		return nil, rpcerr.FromDomain(err, o.svc.Logger, ctx)
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	resp := &authv1.ListClientOriginsResponse{Clients: make([]*authv1.ClientOrigins, 0, len(ids))}
	for _, id := range ids {
		resp.Clients = append(resp.Clients, &authv1.ClientOrigins{ClientId: id, Origins: by[id]})
	}
	return resp, nil
}
