package host

import (
	"time"

	"github.com/tamkeen/tamkeen/libs/authn"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/jwks"
)

// EnablerConfig is the configuration every enabler that verifies its
// callers' tokens has beside its own settings: the replicas of its event
// stream and how it verifies access tokens (defence in depth behind the
// gateway). Embedded in each enabler's Config, it gives the same flags
// (--stream-replicas, --issuer, --jwks-url, --audience), variables and
// checks everywhere.
type EnablerConfig struct {
	// StreamReplicas is the JetStream replica count of the service's
	// event stream: 1 in development, 3 on a production cluster.
	StreamReplicas int `flag:"stream-replicas" env:"STREAM_REPLICAS" default:"1" usage:"replicas of the service's JetStream stream (3 in production)"`

	// Issuer, JWKSURL and Audience verify the callers' access tokens.
	jwks.ServiceConfig
}

// CheckStream records a problem with StreamReplicas (see
// CheckStreamReplicas).
func (c EnablerConfig) CheckStream(p *config.Problems) {
	CheckStreamReplicas(p, c.StreamReplicas)
}

// CheckTokens records the problems of the token settings: the issuer must
// be an http(s) URL, the JWKS URL too when it is set, and the audience
// must not be empty.
func (c EnablerConfig) CheckTokens(p *config.Problems) {
	p.HTTPURL("issuer", c.Issuer, true)
	p.HTTPURL("jwks-url", c.JWKSURL, false)
	if c.Audience == "" {
		p.Add("audience", "must not be empty")
	}
}

// ServiceStream is the JetStream stream of the enabler called name (see
// events.ServiceStream) with the configured replicas.
func (c EnablerConfig) ServiceStream(name string) events.StreamConfig {
	return events.ServiceStream(name, c.StreamReplicas)
}

// TokenVerifier returns given when it is set (tests inject one) and
// otherwise the verifier the configuration describes, reading the clock
// from now.
func (c EnablerConfig) TokenVerifier(given authn.TokenVerifier, now func() time.Time) (authn.TokenVerifier, error) {
	if given != nil {
		return given, nil
	}
	v, err := c.NewVerifier(now)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// ServiceStream is the Spec's Stream of an enabler whose Config embeds
// EnablerConfig: its events.ServiceStream under name with the configured
// replicas, so that such an enabler declares no Stream method of its own.
func ServiceStream[C interface {
	ServiceStream(string) events.StreamConfig
}](name string) func(C) events.StreamConfig {
	return func(c C) events.StreamConfig { return c.ServiceStream(name) }
}
