package signature

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// TestCredentialLifecycle runs the credential store paths on both engines:
// issue, page, owner isolation, revoke once, CRL, organisation seals, and
// the outbox events.
func TestCredentialLifecycle(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		var ids []string
		for range 3 {
			ids = append(ids, h.newCredential(t, "cit_1", "").CredentialId)
		}
		tok := h.issuer.citizen(t, "cit_1", time.Minute, nil)
		var seen []string
		page := ""
		for {
			resp, err := h.client.ListCredentials(as(tok), &signaturev1.ListCredentialsRequest{PageSize: 2, PageToken: page})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.Credentials {
				seen = append(seen, c.CredentialId)
				if !strings.Contains(c.Subject, "SERIALNUMBER=PNOPS-401234567") || !strings.Contains(c.Subject, "CN=Layla Haddad") {
					t.Errorf("subject %q lacks the national ID or the name", c.Subject)
				}
			}
			if page = resp.NextPageToken; page == "" {
				break
			}
		}
		if len(seen) != 3 {
			t.Fatalf("listed %v; want the 3 credentials %v", seen, ids)
		}
		other := h.issuer.citizen(t, "cit_2", time.Minute, nil)
		if _, err := h.client.GetCredential(as(other), &signaturev1.GetCredentialRequest{CredentialId: ids[0]}); status.Code(err) != codes.NotFound {
			t.Fatalf("another citizen's GetCredential: %v; want NotFound", err)
		}
		if _, err := h.client.RevokeCredential(as(other), &signaturev1.RevokeCredentialRequest{CredentialId: ids[0]}); status.Code(err) != codes.NotFound {
			t.Fatalf("another citizen's revoke: %v; want NotFound", err)
		}
		if _, err := h.client.RevokeCredential(as(tok), &signaturev1.RevokeCredentialRequest{CredentialId: ids[0], Reason: "bogus"}); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("bad reason: %v; want InvalidArgument", err)
		}
		r, err := h.client.RevokeCredential(as(tok), &signaturev1.RevokeCredentialRequest{CredentialId: ids[0], Reason: "superseded"})
		if err != nil || r.Status != StatusRevoked || r.RevokeTime == nil {
			t.Fatalf("revoke: %v %v", r, err)
		}
		if _, err := h.client.RevokeCredential(as(tok), &signaturev1.RevokeCredentialRequest{CredentialId: ids[0]}); status.Code(err) != codes.FailedPrecondition {
			t.Fatalf("second revoke: %v; want FailedPrecondition", err)
		}
		crl, err := h.client.GetCrl(ctx, &signaturev1.GetCrlRequest{})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parseCRL(crl.Crl)
		if err != nil || len(parsed) != 1 || parsed[0] != r.SerialNumber {
			t.Fatalf("CRL lists %v (%v); want [%s]", parsed, err, r.SerialNumber)
		}

		// An organisation seal: a ministry client with signing:seal, no step-up.
		seal := h.issuer.clientOrg(t, "ministry-of-health", "Ministry of Health", scope.SigningSeal)
		sc, err := h.client.CreateCredential(as(seal), &signaturev1.CreateCredentialRequest{OrganizationName: "Ministry of Health"})
		if err != nil {
			t.Fatal(err)
		}
		doc := []byte("vaccination certificate")
		auth, err := h.client.AuthorizeCredential(as(seal), &signaturev1.AuthorizeCredentialRequest{CredentialId: sc.CredentialId, Hashes: [][]byte{sha256Sum(doc)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.SignDocument(as(seal), &signaturev1.SignDocumentRequest{CredentialId: sc.CredentialId, Sad: auth.Sad, Document: doc, Format: FormatCAdES}); err != nil {
			t.Fatal(err)
		}
		noScope := h.issuer.client(t, "ministry-of-health", "notifications:send")
		if _, err := h.client.CreateCredential(as(noScope), &signaturev1.CreateCredentialRequest{OrganizationName: "x"}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("client without seal scope: %v; want PermissionDenied", err)
		}

		// Every state change left its event in the outbox.
		var issued, revoked, created int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.signature.credential_issued'`).Scan(&issued)
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.signature.credential_revoked'`).Scan(&revoked)
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.signature.created'`).Scan(&created)
		if issued != 4 || revoked != 1 || created != 1 {
			t.Fatalf("outbox: %d issued, %d revoked, %d created; want 4, 1, 1", issued, revoked, created)
		}
	})
}

// parseCRL returns the revoked serials of a DER CRL, in hex.
func parseCRL(der []byte) ([]string, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range crl.RevokedCertificateEntries {
		out = append(out, hex.EncodeToString(e.SerialNumber.Bytes()))
	}
	return out, nil
}
