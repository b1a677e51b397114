package auth

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/sealed"
)

// Config is the auth enabler's own configuration.
type Config struct {
	// Argon2 memory, time and threads for client secrets and passwords;
	// the defaults are OWASP's argon2id recommendation.
	Argon2MemoryKiB int `flag:"argon2-memory-kib" env:"ARGON2_MEMORY_KIB" default:"19456" usage:"argon2id memory cost in KiB"`
	Argon2Time      int `flag:"argon2-time" env:"ARGON2_TIME" default:"2" usage:"argon2id iterations"`
	Argon2Threads   int `flag:"argon2-threads" env:"ARGON2_THREADS" default:"1" usage:"argon2id parallelism"`
	// HashConcurrency bounds the argon2id computations in flight: each
	// holds Argon2MemoryKiB of memory, so a login burst queues instead of
	// exhausting memory.
	HashConcurrency int `flag:"hash-concurrency" default:"4" usage:"argon2id hashes computed at once (each holds argon2-memory-kib)"`
	// HashWait is how long a request waits for a hashing slot before it is
	// refused with RESOURCE_EXHAUSTED (HTTP 429).
	HashWait time.Duration `flag:"hash-wait" default:"5s" usage:"how long a login waits for a free argon2id slot before 429"`
	// StreamReplicas is the JetStream replica count of the service's
	// event stream: 1 in development, 3 on a production cluster.
	StreamReplicas int `flag:"stream-replicas" env:"STREAM_REPLICAS" default:"1" usage:"replicas of the service's JetStream stream (3 in production)"`

	// KeyEncryptionKey (base64 of 32 bytes) encrypts the signing keys and
	// TOTP secrets at rest (AES-256-GCM) and keys the HMACs of national
	// IDs, OTP codes and recovery codes. Losing it loses every signing key
	// and TOTP enrolment; changing it needs a re-encryption.
	KeyEncryptionKey string `flag:"key-encryption-key" secret:"true" required:"true" usage:"base64 of 32 random bytes that encrypt signing keys and TOTP secrets (openssl rand -base64 32)"`
	// IdentityRecipientKey is the signature enabler's public identity key
	// (libs/sealed, base64): citizen_registered and citizen_proofed events
	// carry the citizen's national ID and names sealed to it, so that
	// signature can name the citizen in a certificate and nobody reading
	// the stream can read them. It is public; it is tagged secret only so
	// that it can come from a file (TAMKEEN_IDENTITY_RECIPIENT_KEY_FILE).
	IdentityRecipientKey string `flag:"identity-recipient-key" secret:"true" usage:"the signature enabler's public identity key (base64; tamkeen identity-key public prints it) that citizens' identities in events are sealed to"`
	// Issuer is the iss of every token: the gateway's public base URL.
	Issuer string `flag:"issuer" default:"http://127.0.0.1:8080" usage:"token issuer: the gateway's public base URL (discovery and JWKS are under it)"`
	// Audience is the aud of every token.
	Audience string `flag:"audience" default:"tamkeen" usage:"token audience"`
	// AccessTokenTTL is the life of access tokens.
	AccessTokenTTL time.Duration `flag:"access-token-ttl" default:"10m" usage:"access token lifetime"`
	// RefreshTokenTTL is the life of each refresh token (it rotates).
	RefreshTokenTTL time.Duration `flag:"refresh-token-ttl" default:"168h" usage:"refresh token lifetime"`
	// KeyCacheTTL is how long a replica uses the signing keys it loaded
	// before reloading them (another replica may have rotated).
	KeyCacheTTL time.Duration `flag:"key-cache-ttl" default:"30s" usage:"how long loaded signing keys are used before reloading"`

	// Login throttling, per account and per source address.
	LoginMaxFailures        int           `flag:"login-max-failures" default:"5" usage:"failed logins of one account from one source address before the account is locked for that source"`
	LoginAccountMaxFailures int           `flag:"login-account-max-failures" default:"100" usage:"failed logins of one account from all sources before it is locked from everywhere"`
	LoginSourceMaxFailures  int           `flag:"login-source-max-failures" default:"50" usage:"failed logins from one source address before it is locked"`
	LoginDelay              time.Duration `flag:"login-delay" default:"1s" usage:"wait after the first failed login; doubles with each further failure"`
	LoginLockout            time.Duration `flag:"login-lockout" default:"15m" usage:"how long a locked account or source stays locked"`
	LoginFailureWindow      time.Duration `flag:"login-failure-window" default:"15m" usage:"failures older than this are forgotten"`
	// Token endpoint throttling, per client id and source and per client
	// id. The windows are short on purpose: a ministry's own servers must
	// never be locked out for long.
	ClientMaxFailures   int           `flag:"client-max-failures" default:"10" usage:"failed client authentications at /oauth2/token of one client id from one source before that source is refused for client-lockout"`
	ClientIDMaxFailures int           `flag:"client-id-max-failures" default:"100" usage:"failed client authentications of one client id from all sources before every source is refused for client-lockout"`
	ClientFailureWindow time.Duration `flag:"client-failure-window" default:"1m" usage:"failed client authentications older than this are forgotten"`
	ClientLockout       time.Duration `flag:"client-lockout" default:"1m" usage:"how long a throttled client id is refused (at most 15m)"`
	// TrustedProxyHops is how many proxies in front of the gateway append
	// to X-Forwarded-For; the source of a login is the entry that many
	// places from the right.
	TrustedProxyHops int `flag:"trusted-proxy-hops" default:"0" usage:"proxies in front of the gateway that append to X-Forwarded-For"`

	// One-time codes.
	OTPTTL            time.Duration `flag:"otp-ttl" default:"5m" usage:"life of an OTP challenge"`
	OTPMaxAttempts    int           `flag:"otp-max-attempts" default:"5" usage:"tries per OTP challenge"`
	SMSResendCooldown time.Duration `flag:"sms-resend-cooldown" default:"60s" usage:"least time between two SMS codes to one phone"`
	SMSHourlyCap      int           `flag:"sms-hourly-cap" default:"5" usage:"SMS codes one phone number may receive per hour"`
	// StepUpMaxAge is how fresh a loa2 authentication must be for TOTP
	// enrolment (the gateway enforces the same as max_age).
	StepUpMaxAge time.Duration `flag:"step-up-max-age" default:"300s" usage:"how recent the loa2 authentication must be to enrol TOTP"`
	// Single sign-on through the hosted pages (authorization code flow).
	SSOIdleTTL      time.Duration `flag:"sso-idle-ttl" default:"30m" usage:"a browser's single sign-on session ends after this long unused"`
	SSOAbsoluteTTL  time.Duration `flag:"sso-absolute-ttl" default:"12h" usage:"a browser's single sign-on session ends this long after sign-in, used or not"`
	AuthRequestTTL  time.Duration `flag:"auth-request-ttl" default:"15m" usage:"how long a citizen has to finish signing in for one authorization request"`
	AuthRequestRate int           `flag:"auth-requests-per-minute" default:"60" usage:"authorization requests one source address may start per minute"`
	// OutboxRetention is how long published outbox rows are kept. They
	// hold SMS codes, so the default is short.
	OutboxRetention time.Duration `flag:"outbox-retention" default:"1m" usage:"published outbox rows (they hold OTP codes) are deleted after this"`
	// GatewaySecret authenticates the gateway to the internal
	// GatewayTokenService (X-Road calls, gateway_tokens.go); empty turns
	// that service off.
	GatewaySecret string `flag:"gateway-secret" secret:"true" usage:"shared secret (at least 32 characters) the gateway presents to get tokens of X-Road-mapped clients; empty: refused"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	host.CheckStreamReplicas(&p, c.StreamReplicas)
	p.Range("argon2-memory-kib", c.Argon2MemoryKiB, 8*1024, 1<<20)
	p.Range("argon2-time", c.Argon2Time, 1, 10)
	p.Range("argon2-threads", c.Argon2Threads, 1, 16)
	p.Range("hash-concurrency", c.HashConcurrency, 1, 256)
	if c.HashWait <= 0 {
		p.Add("hash-wait", "must be positive")
	}
	if c.KeyEncryptionKey == "" {
		p.Add("key-encryption-key", "required (base64 of 32 random bytes, e.g. openssl rand -base64 32)")
	} else if _, err := decodeKEK(c.KeyEncryptionKey); err != nil {
		p.Add("key-encryption-key", err.Error())
	}
	if _, err := c.identityRecipient(); err != nil {
		p.Add("identity-recipient-key", strings.TrimPrefix(err.Error(), "sealed: "))
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.Add("issuer", "must be an http(s) URL without query or fragment")
	}
	if c.Audience == "" {
		p.Add("audience", "must not be empty")
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		p.Add("access-token-ttl", "must be between 1m and 24h")
	}
	if c.RefreshTokenTTL < c.AccessTokenTTL {
		p.Add("refresh-token-ttl", "must be at least access-token-ttl")
	}
	if c.KeyCacheTTL <= 0 {
		p.Add("key-cache-ttl", "must be positive")
	}
	if c.LoginMaxFailures < 1 {
		p.Add("login-max-failures", "must be at least 1")
	}
	if c.LoginAccountMaxFailures < c.LoginMaxFailures {
		p.Add("login-account-max-failures", "must be at least login-max-failures")
	}
	if c.ClientMaxFailures < 1 {
		p.Add("client-max-failures", "must be at least 1")
	}
	if c.ClientIDMaxFailures < c.ClientMaxFailures {
		p.Add("client-id-max-failures", "must be at least client-max-failures")
	}
	if c.ClientFailureWindow <= 0 || c.ClientFailureWindow > 15*time.Minute {
		p.Add("client-failure-window", "must be between 0 and 15m")
	}
	if c.ClientLockout <= 0 || c.ClientLockout > 15*time.Minute {
		p.Add("client-lockout", "must be between 0 and 15m: a ministry's servers must not be locked out for long")
	}
	if c.LoginSourceMaxFailures < 1 {
		p.Add("login-source-max-failures", "must be at least 1")
	}
	if c.LoginDelay < 0 {
		p.Add("login-delay", "must not be negative")
	}
	if c.LoginLockout <= 0 {
		p.Add("login-lockout", "must be positive")
	}
	if c.LoginFailureWindow <= 0 {
		p.Add("login-failure-window", "must be positive")
	}
	if c.TrustedProxyHops < 0 {
		p.Add("trusted-proxy-hops", "must not be negative")
	}
	if c.OTPTTL < 30*time.Second || c.OTPTTL > time.Hour {
		p.Add("otp-ttl", "must be between 30s and 1h")
	}
	if c.OTPMaxAttempts < 1 || c.OTPMaxAttempts > 20 {
		p.Add("otp-max-attempts", "must be between 1 and 20")
	}
	if c.SMSResendCooldown < 0 {
		p.Add("sms-resend-cooldown", "must not be negative")
	}
	if c.SMSHourlyCap < 1 {
		p.Add("sms-hourly-cap", "must be at least 1")
	}
	if c.StepUpMaxAge <= 0 {
		p.Add("step-up-max-age", "must be positive")
	}
	if c.SSOIdleTTL <= 0 || c.SSOAbsoluteTTL < c.SSOIdleTTL {
		p.Add("sso-absolute-ttl", "sso-idle-ttl must be positive and sso-absolute-ttl at least as long")
	}
	if c.AuthRequestTTL < time.Minute || c.AuthRequestTTL > time.Hour {
		p.Add("auth-request-ttl", "must be between 1m and 1h")
	}
	p.Range("auth-requests-per-minute", c.AuthRequestRate, 1, 100000)
	if c.OutboxRetention <= 0 {
		p.Add("outbox-retention", "must be positive")
	}
	if c.GatewaySecret != "" && len(c.GatewaySecret) < MinGatewaySecretLen {
		p.Add("gateway-secret", fmt.Sprintf("must be at least %d characters", MinGatewaySecretLen))
	}
	return p.Err()
}

// HashParams are the argon2id parameters the configuration sets.
func (c Config) HashParams() HashParams {
	return HashParams{MemoryKiB: uint32(c.Argon2MemoryKiB), Time: uint32(c.Argon2Time), Threads: uint8(c.Argon2Threads)}
}

// DefaultConfig is the configuration with every default applied, as
// config.Load leaves it when nothing is set (TestDefaultConfigIsTheTags
// holds the two together). It has no key-encryption key: set
// KeyEncryptionKey before use.
func DefaultConfig() Config {
	p := DefaultHashParams
	return Config{
		StreamReplicas: 1, Argon2MemoryKiB: int(p.MemoryKiB), Argon2Time: int(p.Time), Argon2Threads: int(p.Threads),
		HashConcurrency: 4, HashWait: 5 * time.Second,
		Issuer: "http://127.0.0.1:8080", Audience: "tamkeen",
		AccessTokenTTL: 10 * time.Minute, RefreshTokenTTL: 168 * time.Hour, KeyCacheTTL: 30 * time.Second,
		LoginMaxFailures: 5, LoginAccountMaxFailures: 100, LoginSourceMaxFailures: 50,
		ClientMaxFailures: 10, ClientIDMaxFailures: 100, ClientFailureWindow: time.Minute, ClientLockout: time.Minute, LoginDelay: time.Second,
		LoginLockout: 15 * time.Minute, LoginFailureWindow: 15 * time.Minute,
		OTPTTL: 5 * time.Minute, OTPMaxAttempts: 5, SMSResendCooldown: time.Minute, SMSHourlyCap: 5,
		StepUpMaxAge: 300 * time.Second, OutboxRetention: time.Minute,
		SSOIdleTTL: 30 * time.Minute, SSOAbsoluteTTL: 12 * time.Hour, AuthRequestTTL: 15 * time.Minute, AuthRequestRate: 60,
	}
}

// Stream is the JetStream stream the service's events go to; the host
// declares it.
func (c Config) Stream() events.StreamConfig {
	return events.ServiceStream(Name, c.StreamReplicas)
}

// identityRecipient is the signature enabler's public identity key that
// citizens' identities in events are sealed to; nil when none is set.
func (c Config) identityRecipient() (*sealed.PublicKey, error) {
	if c.IdentityRecipientKey == "" {
		return nil, nil
	}
	return sealed.ParsePublicKey(c.IdentityRecipientKey)
}
