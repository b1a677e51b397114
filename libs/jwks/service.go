package jwks

import (
	"strings"
	"time"
)

// AccessTokenType is the JWT "typ" of Tamkeen's access tokens (RFC 9068).
const AccessTokenType = "at+jwt"

// ServiceConfig is how an enabler verifies its callers' access tokens itself
// (defence in depth behind the gateway). Every enabler embeds it in its
// Config, so the flags (--issuer, --jwks-url, --audience) and the
// TAMKEEN_ISSUER, TAMKEEN_JWKS_URL and TAMKEEN_AUDIENCE variables are the
// same everywhere.
type ServiceConfig struct {
	Issuer   string `flag:"issuer" default:"http://127.0.0.1:8080" usage:"access token issuer: the gateway's public base URL"`
	JWKSURL  string `flag:"jwks-url" usage:"the issuer's JWKS (default: <issuer>/.well-known/jwks.json)"`
	Audience string `flag:"audience" default:"tamkeen" usage:"audience access tokens must be issued for"`
}

// KeySetURL is the configured JWKS URL or the issuer's default.
func (c ServiceConfig) KeySetURL() string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	return strings.TrimRight(c.Issuer, "/") + "/.well-known/jwks.json"
}

// NewVerifier returns the verifier of access tokens the configuration
// describes; now may be nil (time.Now).
func (c ServiceConfig) NewVerifier(now func() time.Time) (*Verifier, error) {
	return New(Options{JWKSURL: c.KeySetURL(), Issuer: c.Issuer, Audiences: []string{c.Audience}, Type: AccessTokenType, Now: now})
}
