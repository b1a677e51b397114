package notification

import (
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/phone"
)

// Config is the notification enabler's own configuration.
type Config struct {
	// EnablerConfig holds the stream replicas and the Issuer, JWKSURL and
	// Audience that verify the callers' client tokens (defence in depth
	// behind the gateway); the token's client_id scopes every
	// notification and template.
	host.EnablerConfig

	// SMSProvider names what SMS go out through: "none" (the service does
	// not consume SMS commands; they wait in the work queue, up to its
	// 15-minute MaxAge, until a provider is configured), "devinbox" (dev
	// mode only), "smpp" or "http".
	SMSProvider string `flag:"sms-provider" default:"none" usage:"SMS provider: none, smpp, http or devinbox (dev mode only)"`
	// EmailProvider names what e-mail goes out through: "none",
	// "devinbox" (dev mode only) or "smtp". Empty means devinbox in dev
	// mode and none otherwise.
	EmailProvider string `flag:"email-provider" usage:"e-mail provider: none, smtp or devinbox (dev mode only); default devinbox in dev mode, else none"`
	// DevMode allows development-only components such as the dev inbox.
	// Never set it in production: the dev inbox shows OTP codes to anyone
	// who can reach it.
	DevMode bool `flag:"dev-mode" usage:"allow development-only components (the dev inbox); never in production"`

	// MaxSMSSegments refuses an SMS longer than this many parts.
	MaxSMSSegments int `flag:"max-sms-segments" default:"10" usage:"longest SMS accepted, in segments (1..255)"`
	// MaxAttempts and RetryBase are the per-message retry budget for
	// temporary provider errors: attempt n+1 waits RetryBase·2^(n-1),
	// capped at 15·RetryBase; after MaxAttempts, technical-failure.
	MaxAttempts int           `flag:"max-attempts" default:"5" usage:"provider attempts per message before technical-failure"`
	RetryBase   time.Duration `flag:"retry-base" default:"1s" usage:"first retry delay after a temporary provider error (doubles, capped at 15x)"`

	// Limits protect recipients and the platform (→ HTTP 429 with
	// Retry-After); 0 turns a limit off.
	RecipientHourlyLimit int `flag:"recipient-hourly-limit" default:"10" usage:"most SMS one phone number receives from the API per hour (OTP pumping)"`
	ClientMinuteLimit    int `flag:"client-minute-limit" default:"600" usage:"most API messages per client per minute (bulk jobs excluded)"`
	ClientDailyLimit     int `flag:"client-daily-limit" default:"250000" usage:"most messages per client per UTC day, bulk included"`
	// HomeCountryCodes are the calling codes every client may send to;
	// others need the client in InternationalClients.
	HomeCountryCodes     []string `flag:"home-country-codes" default:"970,972" usage:"calling codes every client may send SMS to"`
	InternationalClients []string `flag:"international-clients" usage:"client ids allowed to send SMS to other countries"`

	// IdempotencyTTL is how long an Idempotency-Key of a send or bulk job
	// is remembered (the payments' 24 h by default).
	IdempotencyTTL time.Duration `flag:"idempotency-ttl" default:"24h" usage:"how long an Idempotency-Key of a send or bulk job is remembered"`

	// Callbacks are the clients' status callback URLs, "client=url" pairs;
	// CallbackKey derives each client's signing secret (see CallbackSecret).
	Callbacks   []string `flag:"callbacks" usage:"status callback URLs, comma-separated client_id=https://… pairs"`
	CallbackKey string   `flag:"callback-key" secret:"true" usage:"key the per-client callback signing secrets are derived from (at least 16 bytes)"`

	// Webhooks tunes the outbound webhooks (webhooks.go); their signing
	// secrets are derived from CallbackKey too.
	Webhooks WebhookConfig `prefix:"webhook-"`

	// BulkMaxRows and BulkMaxBytes bound a streamed bulk upload.
	BulkMaxRows  int   `flag:"bulk-max-rows" default:"1000000" usage:"most rows of a streamed bulk CSV upload"`
	BulkMaxBytes int64 `flag:"bulk-max-bytes" default:"268435456" usage:"largest streamed bulk CSV upload, in bytes"`
	// BulkUploadTimeout bounds reading and validating one streamed
	// upload; a job still validating after twice as long was left by a
	// process that died mid-upload, and the sweep deletes it.
	BulkUploadTimeout time.Duration `flag:"bulk-upload-timeout" default:"30m" usage:"longest a streamed bulk upload may take; a job left validating for twice as long (its process died) is deleted"`

	SMPP    SMPPConfig    `prefix:"smpp-"`
	HTTPSMS HTTPSMSConfig `prefix:"http-sms-"`
	SMTP    SMTPConfig    `prefix:"smtp-"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	c.CheckStream(&p)
	c.validateProvider(&p, "sms-provider", c.SMSProvider, "none, smpp, http or devinbox",
		map[string]func(*config.Problems){ProviderSMPP: c.SMPP.validate, ProviderHTTP: c.HTTPSMS.validate})
	c.validateProvider(&p, "email-provider", c.emailProvider(), "none, smtp or devinbox",
		map[string]func(*config.Problems){ProviderSMTP: c.SMTP.validate})
	if c.Issuer == "" {
		p.Add("issuer", "required")
	}
	p.Range("max-sms-segments", c.MaxSMSSegments, 1, 255)
	p.Range("max-attempts", c.MaxAttempts, 1, 50)
	p.Range("bulk-max-rows", c.BulkMaxRows, 1, 10_000_000)
	if c.BulkMaxBytes < 1 {
		p.Add("bulk-max-bytes", "must be positive")
	}
	if c.BulkUploadTimeout < time.Second || c.BulkUploadTimeout > 24*time.Hour {
		p.Addf("bulk-upload-timeout", "%v is outside 1s..24h", c.BulkUploadTimeout)
	}
	if c.RetryBase < time.Millisecond || c.RetryBase > time.Minute {
		p.Addf("retry-base", "%v is outside 1ms..1m", c.RetryBase)
	}
	if c.IdempotencyTTL < time.Minute {
		p.Addf("idempotency-ttl", "%v is shorter than 1m", c.IdempotencyTTL)
	}
	for name, v := range map[string]int{"recipient-hourly-limit": c.RecipientHourlyLimit, "client-minute-limit": c.ClientMinuteLimit, "client-daily-limit": c.ClientDailyLimit} {
		if v < 0 {
			p.Addf(name, "%d is negative", v)
		}
	}
	for _, cc := range c.HomeCountryCodes {
		if !phone.ValidCallingCode(cc) {
			p.Addf("home-country-codes", "%q is not a calling code (1 to 3 digits)", cc)
		}
	}
	if _, err := parseCallbacks(c.Callbacks); err != nil {
		p.Add("callbacks", err.Error())
	}
	if len(c.Callbacks) > 0 && len(c.CallbackKey) < 16 {
		p.Add("callback-key", "at least 16 bytes are needed when callbacks are configured")
	}
	if c.CallbackKey != "" && len(c.CallbackKey) < 16 {
		p.Add("callback-key", "at least 16 bytes")
	}
	c.Webhooks.validate(&p)
	return p.Err()
}

// validateProvider checks the provider a channel's setting (flag) names:
// none is always allowed, devinbox only in dev mode, and the real ones
// (their validate methods, by name) through their own settings; valid
// lists the names for the message about any other.
func (c Config) validateProvider(p *config.Problems, flag, name, valid string, real map[string]func(*config.Problems)) {
	validate, isReal := real[name]
	switch {
	case name == ProviderNone:
	case name == ProviderDevInbox:
		if !c.DevMode {
			p.Add(flag, "devinbox is allowed only with --dev-mode")
		}
	case isReal:
		validate(p)
	default:
		p.Addf(flag, "%q is not %s", name, valid)
	}
}

// emailProvider is EmailProvider with its default applied.
func (c Config) emailProvider() string {
	if c.EmailProvider != "" {
		return c.EmailProvider
	}
	if c.DevMode {
		return ProviderDevInbox
	}
	return ProviderNone
}

// retrySchedule is the redelivery schedule of the normal and bulk lanes.
func (c Config) retrySchedule() []time.Duration {
	var out []time.Duration
	for d := c.RetryBase; len(out) < 5; d *= 2 {
		out = append(out, min(d, 15*c.RetryBase))
	}
	return out
}

// DefaultConfig is the configuration with every default applied, as
// config.Load leaves it when nothing is set.
func DefaultConfig() Config {
	return Config{
		EnablerConfig:  host.EnablerConfig{StreamReplicas: 1, ServiceConfig: jwks.ServiceConfig{Issuer: "http://127.0.0.1:8080", Audience: "tamkeen"}},
		SMSProvider:    ProviderNone,
		MaxSMSSegments: 10, MaxAttempts: 5, RetryBase: time.Second,
		RecipientHourlyLimit: 10, ClientMinuteLimit: 600, ClientDailyLimit: 250000,
		IdempotencyTTL: 24 * time.Hour,
		BulkMaxRows:    DefaultBulkMaxRows, BulkMaxBytes: DefaultBulkMaxBytes, BulkUploadTimeout: 30 * time.Minute,
		HomeCountryCodes: []string{"970", "972"},
		SMPP:             defaultSMPPConfig(),
		HTTPSMS:          HTTPSMSConfig{Timeout: 10 * time.Second},
		Webhooks:         WebhookConfig{Backoff: []string{"1m", "5m", "1h", "6h", "24h"}},
		SMTP:             SMTPConfig{Port: 587, TLS: "starttls", Timeout: 30 * time.Second},
	}
}

// Stream is the JetStream stream the service's events go to; the host
// declares it.
func (c Config) Stream() events.StreamConfig {
	return events.StreamConfig{
		Name:     "NOTIFICATION",
		Subjects: []string{SubjectStatusChanged, SubjectDelivered, SubjectFailed},
		Replicas: c.StreamReplicas,
	}
}
