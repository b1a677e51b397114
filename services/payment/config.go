package payment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
)

// Config is the payment enabler's own configuration.
type Config struct {
	// EnablerConfig is the stream replicas and the token verification
	// settings (defence in depth behind the gateway) every enabler has.
	host.EnablerConfig

	// PublicURL is the base URL citizens reach the hosted checkout at (the
	// gateway's public URL); next_url starts with it.
	PublicURL string `flag:"public-url" usage:"public base URL of the checkout pages (default: the issuer)"`

	// DevMode is set by tamkeen dev; it turns the sandbox acquirer on.
	DevMode bool `flag:"dev-mode" usage:"development mode (tamkeen dev): enables the sandbox acquirer"`
	// Sandbox turns the sandbox acquirer on outside dev mode (test
	// environments). Never in production: anyone could pay with a test card.
	Sandbox bool `flag:"sandbox" usage:"enable the sandbox acquirer (test environments only, never production)"`
	// SandboxWebhookSecret signs the sandbox's webhooks. In dev mode, when
	// empty, it is derived from key-encryption-key so that it survives a
	// restart.
	SandboxWebhookSecret string `flag:"sandbox-webhook-secret" secret:"true" usage:"HMAC secret of the sandbox acquirer's webhooks (at least 16 bytes)"`
	// KeyEncryptionKey is only used in dev mode to derive the sandbox
	// secret (tamkeen dev keeps one in its data dir).
	KeyEncryptionKey string `flag:"key-encryption-key" secret:"true" usage:"dev mode: the data dir's key, from which the sandbox webhook secret is derived"`
	// SandboxWebhookURL is where the sandbox posts its webhooks.
	SandboxWebhookURL string `flag:"sandbox-webhook-url" usage:"where the sandbox acquirer posts webhooks (default: <public-url>/v1/payments/providers/sandbox/webhook)"`
	// DefaultProvider takes payments that name no provider.
	DefaultProvider string `flag:"default-provider" default:"sandbox" usage:"acquirer of payments that name none"`

	WebhookTolerance time.Duration `flag:"webhook-tolerance" default:"5m" usage:"how far a webhook's signed time may be from now"`
	PaymentTTL       time.Duration `flag:"payment-ttl" default:"30m" usage:"unpaid payments expire after this"`
	IdempotencyTTL   time.Duration `flag:"idempotency-ttl" default:"24h" usage:"how long an Idempotency-Key is remembered"`
	SweepInterval    time.Duration `flag:"sweep-interval" default:"15s" usage:"how often expiry, provider status checks and refund retries run"`
	StatusCheckAfter time.Duration `flag:"status-check-after" default:"1m" usage:"ask the acquirer about a payment without a final webhook after this"`
	// StampValidity is how long an electronic revenue stamp is valid from
	// its issue (stamp.go); 0 is DefaultStampValidity.
	StampValidity time.Duration `flag:"stamp-validity" default:"8760h" usage:"how long a revenue stamp is valid from its issue"`
	// DebitAnnounceDays is how many days before its due date a direct
	// debit collection is announced to the citizen (mandate.go); 0 is
	// DefaultAnnounceDays.
	DebitAnnounceDays int `flag:"debit-announce-days" default:"3" usage:"days before its due date a direct-debit collection is announced by SMS"`
	// DebitBank is the bank that collects direct debits: the sandbox bank
	// (sandbox.BankName) when the sandbox is on, or one of Deps.Banks.
	DebitBank string `flag:"debit-bank" default:"sandbox-bank" usage:"the bank that collects direct debits"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	c.CheckStream(&p)
	c.CheckTokens(&p)
	p.HTTPURL("public-url", c.PublicURL, false)
	p.HTTPURL("sandbox-webhook-url", c.SandboxWebhookURL, false)
	if c.sandboxOn() {
		if c.SandboxWebhookSecret == "" && c.KeyEncryptionKey == "" {
			p.Add("sandbox-webhook-secret", "required when the sandbox is on (or, in dev mode, key-encryption-key)")
		} else if c.SandboxWebhookSecret != "" && len(c.SandboxWebhookSecret) < 16 {
			p.Add("sandbox-webhook-secret", "must be at least 16 bytes")
		}
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
		min  time.Duration
	}{
		{"webhook-tolerance", c.WebhookTolerance, time.Second}, {"payment-ttl", c.PaymentTTL, time.Minute},
		{"idempotency-ttl", c.IdempotencyTTL, time.Minute}, {"sweep-interval", c.SweepInterval, 10 * time.Millisecond},
		{"status-check-after", c.StatusCheckAfter, 0}, {"stamp-validity", c.StampValidity, 0},
	} {
		if d.v < d.min {
			p.Addf(d.flag, "must be at least %s", d.min)
		}
	}
	if c.DebitAnnounceDays < 0 || c.DebitAnnounceDays > 30 {
		p.Add("debit-announce-days", "must be 0..30")
	}
	return p.Err()
}

func (c Config) sandboxOn() bool { return c.DevMode || c.Sandbox }

func (c Config) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return strings.TrimRight(c.Issuer, "/")
}

// sandboxSecret is the configured secret or, in dev mode, one derived from
// the key-encryption-key.
func (c Config) sandboxSecret() []byte {
	if c.SandboxWebhookSecret != "" {
		return []byte(c.SandboxWebhookSecret)
	}
	m := hmac.New(sha256.New, []byte(c.KeyEncryptionKey))
	m.Write([]byte("tamkeen payment sandbox webhook secret v1"))
	return []byte(base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
}
