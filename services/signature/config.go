package signature

import (
	"errors"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/sealed"
)

// Config is the signature enabler's own configuration.
type Config struct {
	// EnablerConfig is the stream's replicas (--stream-replicas) and how
	// the callers' access tokens are verified (--issuer, --jwks-url,
	// --audience).
	host.EnablerConfig

	// KeyEncryptionKey (base64 of 32 bytes) seals the CA's and the
	// credentials' private keys at rest (AES-256-GCM) and keys the HMAC of
	// SAD secrets.
	KeyEncryptionKey string `flag:"key-encryption-key" secret:"true" required:"true" usage:"base64 of 32 random bytes that seal private keys at rest (openssl rand -base64 32)"`
	// IdentityKey opens the citizens' identities (national ID and names)
	// that the auth enabler seals into its citizen_registered and
	// citizen_proofed events (libs/sealed: HPKE, ML-KEM-768+X25519). Base64
	// of a 32-byte seed; several, comma-separated, while one is retired.
	// Auth holds only the public half (`tamkeen identity-key public`).
	IdentityKey string `flag:"identity-key" secret:"true" usage:"base64 of 32 random bytes (openssl rand -base64 32) that open the identities auth seals into its events; comma-separated while rotating"`
	// PublicURL is the base of the PKI URLs written into certificates
	// (AIA caIssuers and OCSP, CRL distribution point); empty means Issuer.
	PublicURL string `flag:"pki-public-url" usage:"base URL of /v1/signing/ca, /crl and /ocsp in certificates (default the issuer)"`
	// Organization and Country name the CA and the seals.
	Organization string `flag:"pki-organization" default:"Tamkeen" usage:"organisation (O) of the CA certificates"`
	Country      string `flag:"pki-country" default:"PS" usage:"country (C) of the CA and signing certificates"`
	// CertificatePolicies are the policy OIDs of signing certificates.
	CertificatePolicies string `flag:"certificate-policies" default:"2.999.1.1" usage:"comma-separated policy OIDs of signing certificates"`
	// TSAPolicy is the policy OID of time-stamps.
	TSAPolicy string `flag:"tsa-policy" default:"2.999.1.2" usage:"TSA policy OID (RFC 3161 reqPolicy/policy)"`
	// TSAAccuracy is the accuracy the TSA states.
	TSAAccuracy time.Duration `flag:"tsa-accuracy" default:"1s" usage:"accuracy stated in time-stamps"`
	// CredentialValidity is the life of a signing certificate.
	CredentialValidity time.Duration `flag:"credential-validity" default:"17520h" usage:"validity of citizens' signing certificates"`
	// SADTTL is the life of a signature activation token.
	SADTTL time.Duration `flag:"sad-ttl" default:"5m" usage:"life of a signature activation token (SAD)"`
	// StepUpMaxAge is how recent the loa2 authentication must be to issue
	// and revoke a credential and to authorise a signature.
	StepUpMaxAge time.Duration `flag:"step-up-max-age" default:"300s" usage:"how recent the loa2 step-up must be for credentials and SADs"`
	// AllowSelfProofed lets citizens whose identity was not proofed in
	// person obtain a credential (development, pilots).
	AllowSelfProofed bool `flag:"allow-self-proofed" default:"false" usage:"issue credentials to self-registered citizens (not proofed in person)"`
	// PKIAutoInit creates the CA on first use when the database has none
	// (development only; production runs tamkeen pki init).
	PKIAutoInit bool `flag:"pki-auto-init" default:"false" usage:"create the CA on first use when there is none (development only)"`
	// CRLRefresh is how often the CRL is re-issued; CRLValidity is its
	// nextUpdate distance.
	CRLRefresh  time.Duration `flag:"crl-refresh" default:"1h" usage:"how often the CRL is re-issued without revocations"`
	CRLValidity time.Duration `flag:"crl-validity" default:"24h" usage:"how long a CRL is valid (nextUpdate)"`
	// PKCS11Module, PKCS11Token and PKCS11PIN reach the HSM that holds the
	// CA keys in the pkcs11 key store.
	PKCS11Module string `flag:"pkcs11-module" usage:"PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so"`
	PKCS11Token  string `flag:"pkcs11-token" usage:"PKCS#11 token label"`
	PKCS11PIN    string `flag:"pkcs11-pin" secret:"true" usage:"PKCS#11 user PIN"`
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var p config.Problems
	c.CheckStream(&p)
	if c.KeyEncryptionKey == "" {
		p.Add("key-encryption-key", "required (base64 of 32 random bytes, e.g. openssl rand -base64 32)")
	} else if _, err := decodeKEK(c.KeyEncryptionKey); err != nil {
		p.Add("key-encryption-key", strings.TrimPrefix(err.Error(), "signature: "))
	}
	if c.IdentityKey != "" {
		if _, err := c.identityKeys(); err != nil {
			p.Add("identity-key", strings.TrimPrefix(err.Error(), "sealed: "))
		}
	}
	c.CheckTokens(&p)
	p.HTTPURL("pki-public-url", c.PublicURL, false)
	if strings.TrimSpace(c.Organization) == "" {
		p.Add("pki-organization", "must not be empty")
	}
	if len(c.Country) != 2 {
		p.Add("pki-country", "must be a two-letter ISO 3166 code")
	}
	if _, err := parseOIDs(c.CertificatePolicies); err != nil {
		p.Add("certificate-policies", err.Error())
	}
	if _, err := parseOID(c.TSAPolicy); err != nil {
		p.Add("tsa-policy", err.Error())
	}
	if c.TSAAccuracy < 0 || c.TSAAccuracy > time.Minute {
		p.Add("tsa-accuracy", "must be between 0 and 1m")
	}
	if c.CredentialValidity < time.Hour {
		p.Add("credential-validity", "must be at least 1h")
	}
	if c.SADTTL <= 0 || c.SADTTL > 15*time.Minute {
		p.Add("sad-ttl", "must be between 0 and 15m")
	}
	if c.StepUpMaxAge <= 0 {
		p.Add("step-up-max-age", "must be positive")
	}
	if c.CRLRefresh <= 0 {
		p.Add("crl-refresh", "must be positive")
	}
	if c.CRLValidity <= c.CRLRefresh {
		p.Add("crl-validity", "must be longer than crl-refresh")
	}
	return p.Err()
}

func (c Config) pkiURLs() pkiURLs {
	base := c.PublicURL
	if base == "" {
		base = c.Issuer
	}
	base = strings.TrimRight(base, "/")
	return pkiURLs{ca: base + "/v1/signing/ca", crl: base + "/v1/signing/crl", ocsp: base + "/v1/signing/ocsp"}
}

// hsmConfig is the PKCS#11 part of the configuration.
func (c Config) hsmConfig() HSMConfig {
	return HSMConfig{Module: c.PKCS11Module, TokenLabel: c.PKCS11Token, PIN: c.PKCS11PIN}
}

// identityKeys opens the identities auth seals into its events, newest
// first. The running service needs them — without them no citizen could be
// named in a certificate — though `tamkeen pki init` does not, so Validate
// accepts an empty key and this refuses it.
func (c Config) identityKeys() ([]*sealed.PrivateKey, error) {
	if c.IdentityKey == "" {
		return nil, errors.New("required (base64 of 32 random bytes, e.g. openssl rand -base64 32; auth gets its public half)")
	}
	return sealed.ParsePrivateKeys(c.IdentityKey)
}
