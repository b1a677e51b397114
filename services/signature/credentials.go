package signature

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/textcheck"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Credential statuses.
const (
	StatusActive  = "active"
	StatusRevoked = "revoked"
)

// Owner kinds.
const (
	ownerCitizen      = "citizen"
	ownerOrganisation = "organisation"
)

// proofingInPerson is the auth enabler's level for an identity checked by a
// ministry in person.
const proofingInPerson = "in_person"

// Credential is a signing key and its certificate.
type Credential struct {
	ID               string
	Owner            string
	OwnerKind        string
	Status           string
	KeyAlgorithm     string
	Certificate      *x509.Certificate
	Serial           string // hex, lower case
	Subject          string
	Description      string
	NotBefore        time.Time
	NotAfter         time.Time
	CreatedAt        time.Time
	RevokedAt        time.Time
	RevocationReason string
	sealedKey        []byte
}

// CredentialRequest is what CreateCredential needs beyond the caller.
type CredentialRequest struct {
	KeyAlgorithm     string
	Description      string
	GivenName        string
	FamilyName       string
	NationalID       string
	OrganizationName string
}

var nationalIDPattern = regexp.MustCompile(`^[0-9]{6,12}$`)

// revocationReasons maps the API's reasons to RFC 5280 CRLReason codes.
var revocationReasons = map[string]int{
	"unspecified":            0,
	"key_compromise":         1,
	"affiliation_changed":    3,
	"superseded":             4,
	"cessation_of_operation": 5,
	"privilege_withdrawn":    9,
}

// subjectFor builds the certificate subject. A citizen is named as the
// auth enabler recorded them (identity.go): the name and
// serialNumber=PNOPS-<national id> (ETSI EN 319 412-1 semantics
// identifier); the request's identity fields may only repeat the record.
// An organisation seal names the client's organisation as the operator
// registered it (the org_name claim auth signs into the client's token).
func (s *Service) subjectFor(ctx context.Context, p *principal, req CredentialRequest) (pkix.Name, string, error) {
	if !p.isCitizen() {
		org, err := s.sealOrganization(p, req)
		if err != nil {
			return pkix.Name{}, "", err
		}
		return pkix.Name{
			CommonName: org, Organization: []string{s.cfg.Organization}, Country: []string{s.cfg.Country},
			ExtraNames: []pkix.AttributeTypeAndValue{{Type: oidOrganizationIdent, Value: "NTRPS-" + p.clientID}},
		}, ownerOrganisation, nil
	}
	id, err := s.citizenIdentity(ctx, p.citizenID)
	if err != nil {
		return pkix.Name{}, "", err
	}
	if err := matchIdentity(id, req); err != nil {
		return pkix.Name{}, "", err
	}
	gn, fn := id.GetGivenName(), id.GetFamilyName()
	return pkix.Name{
		CommonName:   gn + " " + fn,
		SerialNumber: "PNOPS-" + id.GetNationalId(),
		Country:      []string{s.cfg.Country},
		ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: oidGivenName, Value: gn},
			{Type: oidSurname, Value: fn},
		},
	}, ownerCitizen, nil
}

// sealOrganization is the organisation a seal names: the client's
// registered organisation, checked again here (textcheck.OrganizationProblem). A request
// organization_name that differs is refused.
func (s *Service) sealOrganization(p *principal, req CredentialRequest) (string, error) {
	org := p.orgName
	if org == "" {
		return "", fmt.Errorf("client %s has no registered organisation; the operator sets it (tamkeen clients create|set-organization --organization …): %w", p.clientID, rpcerr.ErrFailedPrecondition)
	}
	if problem := textcheck.OrganizationProblem(org); problem != "" {
		return "", fmt.Errorf("the registered organisation of client %s is unfit for a certificate (organisation name %s): %w", p.clientID, problem, rpcerr.ErrFailedPrecondition)
	}
	if r := strings.Join(strings.Fields(req.OrganizationName), " "); r != "" && r != org {
		return "", &rpcerr.FieldError{Field: "organization_name", Reason: "does not match the client's registered organisation; leave it empty", Code: "organization_name.mismatch"}
	}
	return org, nil
}

// checkProofing refuses citizens not proofed in person unless
// allow-self-proofed is on. The level comes from the token's
// proofing_level claim or from the auth enabler's events.
func (s *Service) checkProofing(ctx context.Context, p *principal) error {
	if !p.isCitizen() || s.cfg.AllowSelfProofed {
		return nil
	}
	level := p.proofingLevel
	if level == "" {
		var err error
		if level, err = proofingLevel(ctx, s.DB, p.citizenID); err != nil {
			return err
		}
	}
	if level != proofingInPerson {
		return fmt.Errorf("a signing credential needs an identity proofed in person at a ministry: %w", rpcerr.ErrFailedPrecondition)
	}
	return nil
}

// maxDescription bounds a credential's description, in characters.
const maxDescription = 200

// CreateCredential generates a key pair and issues its signing certificate.
func (s *Service) createCredential(ctx context.Context, p *principal, req CredentialRequest) (*Credential, error) {
	alg := req.KeyAlgorithm
	if alg == "" {
		alg = AlgECDSAP256
	}
	if alg != AlgECDSAP256 && alg != AlgRSA3072 {
		return nil, &rpcerr.FieldError{Field: "key_algorithm", Reason: `must be "ecdsa-p256" or "rsa-3072"`, Code: "key_algorithm.unsupported"}
	}
	if b := textcheck.InvalidByte(req.Description); b > 0 {
		return nil, &rpcerr.FieldError{Field: "description", Reason: fmt.Sprintf("is not valid UTF-8 (byte %d)", b), Code: "description.invalid_utf8", Args: rpcerr.ArgList(strconv.Itoa(b))}
	}
	if utf8.RuneCountInString(req.Description) > maxDescription {
		return nil, &rpcerr.FieldError{Field: "description", Reason: fmt.Sprintf("must be at most %d characters", maxDescription), Code: "description.too_long", Args: rpcerr.ArgList(strconv.Itoa(maxDescription))}
	}
	subject, kind, err := s.subjectFor(ctx, p, req)
	if err != nil {
		return nil, err
	}
	if err := s.checkProofing(ctx, p); err != nil {
		return nil, err
	}
	a, err := s.ca(ctx)
	if err != nil {
		return nil, err
	}
	key, err := generateKey(alg, s.Rand)
	if err != nil {
		return nil, err
	}
	id, err := store.NewIDFrom(s.Rand, "cred_")
	if err != nil {
		return nil, err
	}
	policies, _ := parseOIDs(s.cfg.CertificatePolicies)
	urls := s.cfg.pkiURLs()
	now := s.Now().UTC().Truncate(time.Second)
	notAfter := now.Add(s.cfg.CredentialValidity)
	if notAfter.After(a.issuing.NotAfter) {
		notAfter = a.issuing.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:               subject,
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		PolicyIdentifiers:     policies,
		OCSPServer:            []string{urls.ocsp},
		IssuingCertificateURL: []string{urls.ca},
		CRLDistributionPoints: []string{urls.crl},
	}
	cert, err := issueCert(s.Rand, tmpl, a.issuing, key.Public(), a.issuingKey)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	sealed, err := s.seal.seal(der, "credential/"+id)
	if err != nil {
		return nil, err
	}
	c := &Credential{
		ID: id, Owner: p.owner(), OwnerKind: kind, Status: StatusActive, KeyAlgorithm: alg,
		Certificate: cert, Serial: serialHex(cert), Subject: cert.Subject.String(), Description: req.Description,
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), CreatedAt: now, sealedKey: sealed,
	}
	issued := &eventsv1.CredentialIssued{
		CredentialId: id, CitizenId: p.citizenID, SerialNumber: c.Serial, Time: timestamppb.New(now),
	}
	err = s.writeWithEvent(ctx, "credential_issued", id, issued, func(tx *sql.Tx) error {
		return insertCredential(ctx, tx, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// serialHex is the certificate serial in lower-case hex.
func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// getCredential returns the caller's credential id.
func (s *Service) getCredential(ctx context.Context, p *principal, id string) (*Credential, error) {
	c, err := loadCredential(ctx, s.DB, id)
	if err != nil {
		return nil, err
	}
	if c.Owner != p.owner() {
		// Someone else's credential is reported as missing, not as forbidden.
		return nil, fmt.Errorf("credential %s: %w", id, rpcerr.ErrNotFound)
	}
	return c, nil
}

// revokeCredential revokes a credential: by its owner, or by a client with
// scope.SigningAdmin. The CRL is re-issued at once.
func (s *Service) revokeCredential(ctx context.Context, p *principal, id, reason string) (*Credential, error) {
	if reason == "" {
		reason = "unspecified"
	}
	if _, ok := revocationReasons[reason]; !ok {
		return nil, &rpcerr.FieldError{Field: "reason", Reason: "must be one of unspecified, key_compromise, affiliation_changed, superseded, cessation_of_operation, privilege_withdrawn", Code: "reason.unsupported"}
	}
	var c *Credential
	var err error
	if !p.isCitizen() && p.hasScope(scope.SigningAdmin) {
		c, err = loadCredential(ctx, s.DB, id)
	} else {
		c, err = s.getCredential(ctx, p, id)
	}
	if err != nil {
		return nil, err
	}
	if c.Status == StatusRevoked {
		return nil, fmt.Errorf("credential %s is already revoked: %w", id, rpcerr.ErrFailedPrecondition)
	}
	now := s.Now().UTC().Truncate(time.Second)
	revoked := &eventsv1.CredentialRevoked{
		CredentialId: id, CitizenId: strings.TrimPrefix(c.Owner, "client:"), Reason: reason, Time: timestamppb.New(now),
	}
	err = s.writeWithEvent(ctx, "credential_revoked", id, revoked, func(tx *sql.Tx) error {
		ok, err := markRevoked(ctx, tx, id, now, reason, p.owner())
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("credential %s is already revoked: %w", id, rpcerr.ErrFailedPrecondition)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.issueCRL(ctx); err != nil {
		// The revocation stands; the scheduled refresh will publish it.
		s.Logger.ErrorContext(ctx, "re-issue CRL after revocation", "error", err)
	}
	c.Status, c.RevokedAt, c.RevocationReason = StatusRevoked, now, reason
	return c, nil
}

// listCredentials pages through the caller's credentials, oldest first.
// The page token is the last id of the previous page.
func (s *Service) listCredentials(ctx context.Context, p *principal, pageSize int, pageToken string) ([]*Credential, string, error) {
	if pageSize <= 0 || pageSize > 100 {
		pageSize = 50
	}
	out, err := credentialsOf(ctx, s.DB, p.owner(), pageToken, pageSize+1)
	if err != nil {
		return nil, "", err
	}
	out, next := store.NextPage(out, pageSize, func(c *Credential) string { return c.ID })
	return out, next, nil
}
