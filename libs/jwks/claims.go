package jwks

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a Tamkeen access token: the registered ones plus
// those the auth service adds for scopes and levels of assurance.
type Claims struct {
	jwt.RegisteredClaims
	// Scope is the space-separated list of granted scopes (RFC 8693 §4.2).
	Scope string `json:"scope,omitempty"`
	// ACR is the level of assurance reached ("loa1", "loa2").
	ACR string `json:"acr,omitempty"`
	// AMR lists the authentication methods used ("pwd", "otp", …).
	AMR []string `json:"amr,omitempty"`
	// AuthTime is when the user last authenticated (for max_age checks).
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	// AZP is the client the token was issued to.
	AZP string `json:"azp,omitempty"`
	// ClientID names the OAuth client for client-credentials tokens.
	ClientID string `json:"client_id,omitempty"`
	// Ministry is the ministry a client-credentials token's client belongs
	// to (the client's registered ministry, never from a request): the
	// tenant whose resources the client may manage.
	Ministry string `json:"ministry,omitempty"`
	// OrgName is the organisation a client-credentials token's client
	// belongs to, as the operator registered it (never from a request): the
	// name an organisation seal's certificate carries.
	OrgName string `json:"org_name,omitempty"`
	// SessionID ("sid", OpenID Connect) names the login session a citizen's
	// token belongs to, so that ending the session ends its tokens.
	SessionID string `json:"sid,omitempty"`
	// ProofingLevel is how the citizen's identity was proofed, when the
	// issuer adds it ("in_person", …); services that need the level trust
	// their own records first.
	ProofingLevel string `json:"proofing_level,omitempty"`
}

// IsClient reports whether the token is a ministry client's
// (client_credentials): it names a client, and that client is its subject.
func (c *Claims) IsClient() bool { return c.ClientID != "" && c.ClientID == c.Subject }

// Scopes splits Scope into its items.
func (c *Claims) Scopes() []string { return strings.Fields(c.Scope) }

// HasScope reports whether s is one of the granted scopes (exact match).
func (c *Claims) HasScope(s string) bool {
	for granted := range strings.FieldsSeq(c.Scope) {
		if granted == s {
			return true
		}
	}
	return false
}
