package signature

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// credentialRows counts what a refused request must not have left: the
// caller's credentials and credential_issued events.
func credentialRows(t *testing.T, db *store.DB, owner string) (creds, issued int) {
	t.Helper()
	ctx := context.Background()
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM credentials WHERE owner = $1`, owner).Scan(&creds); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.signature.credential_issued'`).Scan(&issued); err != nil {
		t.Fatal(err)
	}
	return creds, issued
}

// certOf parses a credential's certificate.
func certOf(t *testing.T, c *signaturev1.Credential) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(c.CertificatePem))
	if b == nil {
		t.Fatalf("credential %s has no PEM certificate", c.CredentialId)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// attr is the value of the subject attribute oid.
func attr(cert *x509.Certificate, oid []int) string {
	for _, a := range cert.Subject.Names {
		if slices.Equal(a.Type, oid) {
			s, _ := a.Value.(string)
			return s
		}
	}
	return ""
}

// TestCredentialNamesTheSignedInCitizen: a citizen at loa2 who asks for a
// certificate in someone else's national ID or name is refused (400 naming
// the field) and nothing is issued; with an empty body the certificate
// names them as auth recorded them; without a record from auth nothing is
// issued whatever the body says.
func TestCredentialNamesTheSignedInCitizen(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.enrol(t, "cit_layla", "self", &eventsv1.CitizenIdentity{NationalId: "401234567", GivenName: "ليلى", FamilyName: "Haddad"})
	tok := h.issuer.citizen(t, "cit_layla", time.Minute, nil)

	for _, tc := range []struct {
		name  string
		req   *signaturev1.CreateCredentialRequest
		field string
	}{
		{"another national ID", &signaturev1.CreateCredentialRequest{NationalId: "409999995"}, "national_id"},
		{"another national ID, right names", &signaturev1.CreateCredentialRequest{GivenName: "ليلى", FamilyName: "Haddad", NationalId: "409999995"}, "national_id"},
		{"another given name", &signaturev1.CreateCredentialRequest{GivenName: "Mona"}, "given_name"},
		{"another family name", &signaturev1.CreateCredentialRequest{FamilyName: "Khalil", NationalId: "401234567"}, "family_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.CreateCredential(as(tok), tc.req)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v; want InvalidArgument", err)
			}
			if v := rpcerr.FieldViolations(err); len(v) != 1 || v[0].Field != tc.field {
				t.Errorf("violations %v; want one naming %s", v, tc.field)
			}
			if creds, issued := credentialRows(t, h.db, "cit_layla"); creds != 0 || issued != 0 {
				t.Errorf("after the refusal: %d credentials, %d credential_issued events; want none", creds, issued)
			}
		})
	}

	// Nobody has told the service who cit_nobody is: the body is not trusted.
	nobody := h.issuer.citizen(t, "cit_nobody", time.Minute, nil)
	if _, err := h.client.CreateCredential(as(nobody), citizenIdentity); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("citizen without an identity record: %v; want FailedPrecondition", err)
	}
	if creds, _ := credentialRows(t, h.db, "cit_nobody"); creds != 0 {
		t.Fatalf("citizen without an identity record got %d credentials", creds)
	}

	c, err := h.client.CreateCredential(as(tok), &signaturev1.CreateCredentialRequest{})
	if err != nil {
		t.Fatalf("empty body: %v", err)
	}
	cert := certOf(t, c)
	if cert.Subject.SerialNumber != "PNOPS-401234567" || cert.Subject.CommonName != "ليلى Haddad" ||
		attr(cert, oidGivenName) != "ليلى" || attr(cert, oidSurname) != "Haddad" {
		t.Errorf("subject %q (GN %q, SN %q); want serialNumber=PNOPS-401234567, CN=ليلى Haddad, GN ليلى, SN Haddad",
			cert.Subject, attr(cert, oidGivenName), attr(cert, oidSurname))
	}
	// Repeating the identity (spaces aside) is fine.
	if _, err := h.client.CreateCredential(as(tok), &signaturev1.CreateCredentialRequest{GivenName: " ليلى ", FamilyName: "Haddad", NationalId: "401234567"}); err != nil {
		t.Fatalf("body repeating the identity: %v", err)
	}
}

// TestIdentityRecord: the identity is kept sealed at rest; one sealed for
// another citizen or to another key is not applied; one from an in-person
// proofing is not replaced by a later registration event. Both engines.
func TestIdentityRecord(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) { testIdentityRecord(t, newHarness(t, db, nil)) })
}

func testIdentityRecord(t *testing.T, h *harness) {
	ctx := context.Background()
	layla := &eventsv1.CitizenIdentity{NationalId: "401234567", GivenName: "Layla", FamilyName: "Haddad"}
	h.enrol(t, "cit_a", "self", layla)
	var blob []byte
	if err := h.db.QueryRowContext(ctx, `SELECT identity_sealed FROM citizen_identities WHERE citizen_id = 'cit_a'`).Scan(&blob); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte("401234567")) || bytes.Contains(blob, []byte("Haddad")) {
		t.Error("citizen_identities holds the identity in clear")
	}

	// A blob sealed for cit_a, replayed in an event about cit_b.
	h.deliver(t, "cit_b", "self", h.sealIdentity(t, "cit_a", layla))
	if _, err := h.svc.citizenIdentity(ctx, "cit_b"); err != ErrNoIdentity {
		t.Errorf("identity moved to another citizen: %v; want ErrNoIdentity", err)
	}

	// The in-person identity stands against a later registration event.
	proofed := &eventsv1.CitizenIdentity{NationalId: "401234567", GivenName: "Layla", FamilyName: "Haddad-Nasser"}
	h.enrol(t, "cit_a", proofingInPerson, proofed)
	h.enrol(t, "cit_a", "self", layla)
	got, err := h.svc.citizenIdentity(ctx, "cit_a")
	if err != nil || got.GetFamilyName() != "Haddad-Nasser" {
		t.Errorf("identity after proofed then registered = %v, %v; want the proofed one", got, err)
	}
}

// TestSealNamesRegisteredOrganisation: a seal's CN is the organisation
// the operator registered for the client (the token's org_name), whatever
// the request says; a differing organization_name is refused, and so are a
// client without a registered organisation and a name that fails the
// look-alike check. Nothing is issued on a refusal.
func TestSealNamesRegisteredOrganisation(t *testing.T) {
	h := newHarness(t, nil, nil)
	const owner = "client:moh"
	tok := h.issuer.clientOrg(t, "moh", "Ministry of Health", scope.SigningSeal)

	_, err := h.client.CreateCredential(as(tok), &signaturev1.CreateCredentialRequest{OrganizationName: "Ministry of Finance"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("another organisation: %v; want InvalidArgument", err)
	}
	if v := rpcerr.FieldViolations(err); len(v) != 1 || v[0].Field != "organization_name" {
		t.Errorf("violations %v; want one naming organization_name", v)
	}
	for name, org := range map[string]string{
		"no registered organisation": "",
		"bidi override":              "Ministry of \u202eHealth",
		"cyrillic look-alike":        "Ministry of He\u0430lth",
	} {
		_, err := h.client.CreateCredential(as(h.issuer.clientOrg(t, "moh", org, scope.SigningSeal)), &signaturev1.CreateCredentialRequest{})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("%s: %v; want FailedPrecondition", name, err)
		}
	}
	if creds, issued := credentialRows(t, h.db, owner); creds != 0 || issued != 0 {
		t.Fatalf("after the refusals: %d credentials, %d credential_issued events; want none", creds, issued)
	}

	for _, req := range []*signaturev1.CreateCredentialRequest{{}, {OrganizationName: "Ministry of Health"}} {
		c, err := h.client.CreateCredential(as(tok), req)
		if err != nil {
			t.Fatalf("seal %q: %v", req.OrganizationName, err)
		}
		if cn := certOf(t, c).Subject.CommonName; cn != "Ministry of Health" {
			t.Errorf("seal CN %q; want the registered Ministry of Health", cn)
		}
	}
}

// TestIdentityKeyConfig: the running service needs a valid identity key.
func TestIdentityKeyConfig(t *testing.T) {
	is := newIssuer(t, time.Now)
	cfg := testConfig(t, is)
	cfg.IdentityKey = "not-a-key"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "identity-key") {
		t.Errorf("Validate(bad identity-key) = %v; want a problem naming identity-key", err)
	}
	cfg.IdentityKey = ""
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate(no identity-key) = %v; want nil (tamkeen pki init needs none)", err)
	}
	db := migrated(t, storetest.SQLiteFile(t, filepath.Join(t.TempDir(), "s.db")))
	if _, err := New(cfg, Deps{Kit: Spec().Kit(host.Env{DB: db, Bus: &events.Bus{}})}); err == nil || !strings.Contains(err.Error(), "identity-key") {
		t.Errorf("New(no identity-key) = %v; want an error naming identity-key", err)
	}
}
