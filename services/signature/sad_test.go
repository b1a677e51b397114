package signature

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// TestStepUpRequired: authorising (and issuing) without a fresh loa2
// step-up is refused with the RFC 9470 challenge the gateway passes on.
func TestStepUpRequired(t *testing.T) {
	h := newHarness(t, nil, nil)
	cred := h.newCredential(t, "cit_1", "")
	sum := sha256Sum([]byte("doc"))
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"loa1", h.issuer.citizen(t, "cit_1", -1, nil)},
		{"stale step-up", h.issuer.citizen(t, "cit_1", 301*time.Second, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.AuthorizeCredential(as(tc.token), &signaturev1.AuthorizeCredentialRequest{CredentialId: cred.CredentialId, Hashes: [][]byte{sum}})
			st := status.Convert(err)
			if st.Code() != codes.Unauthenticated || !strings.HasPrefix(st.Message(), `Bearer error="insufficient_user_authentication"`) ||
				!strings.Contains(st.Message(), `acr_values="loa2"`) || !strings.Contains(st.Message(), "max_age=300") {
				t.Fatalf("got %v; want Unauthenticated with the RFC 9470 challenge", err)
			}
			_, err = h.client.CreateCredential(as(tc.token), citizenIdentity)
			if status.Code(err) != codes.Unauthenticated {
				t.Fatalf("CreateCredential: got %v; want Unauthenticated", err)
			}
		})
	}
	if _, err := h.client.AuthorizeCredential(context.Background(), &signaturev1.AuthorizeCredentialRequest{CredentialId: cred.CredentialId, Hashes: [][]byte{sum}}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: got %v; want Unauthenticated", err)
	}
}

// TestSADRules: a SAD signs exactly its hashes, once, for its credential
// and citizen, within its life.
func TestSADRules(t *testing.T) {
	h := newHarness(t, nil, nil)
	cred := h.newCredential(t, "cit_1", "")
	other := h.newCredential(t, "cit_1", "")
	doc, otherDoc := []byte("document A"), []byte("document B")
	tok := h.issuer.citizen(t, "cit_1", time.Minute, nil)
	authorize := func() string {
		t.Helper()
		r, err := h.client.AuthorizeCredential(as(tok), &signaturev1.AuthorizeCredentialRequest{CredentialId: cred.CredentialId, Hashes: [][]byte{sha256Sum(doc)}})
		if err != nil {
			t.Fatal(err)
		}
		if r.ExpiresIn != 300 {
			t.Errorf("expires_in %d; want 300", r.ExpiresIn)
		}
		return r.Sad
	}
	signWith := func(token, credID, sad string, d []byte) error {
		_, err := h.client.SignDocument(as(token), &signaturev1.SignDocumentRequest{CredentialId: credID, Sad: sad, Document: d, Format: FormatCAdES})
		return err
	}
	for _, tc := range []struct {
		name    string
		run     func(sad string) error
		wantMsg string
	}{
		{"other hashes", func(sad string) error { return signWith(tok, cred.CredentialId, sad, otherDoc) }, "hash is not one the SAD authorises"},
		{"other credential", func(sad string) error { return signWith(tok, other.CredentialId, sad, doc) }, "another credential"},
		{"other citizen", func(sad string) error {
			c2 := h.newCredential(t, "cit_2", "")
			return signWith(h.issuer.citizen(t, "cit_2", time.Minute, nil), c2.CredentialId, sad, doc)
		}, "someone else"},
		{"reuse", func(sad string) error {
			if err := signWith(tok, cred.CredentialId, sad, doc); err != nil {
				t.Fatalf("first use: %v", err)
			}
			return signWith(tok, cred.CredentialId, sad, doc)
		}, "already used"},
		{"expired", func(sad string) error {
			h.clock.Advance(5*time.Minute + time.Second)
			defer h.clock.Advance(-5*time.Minute - time.Second)
			return signWith(h.issuer.citizen(t, "cit_1", time.Minute, nil), cred.CredentialId, sad, doc)
		}, "expired"},
		{"forged secret", func(sad string) error { return signWith(tok, cred.CredentialId, sad[:len(sad)-4]+"AAAA", doc) }, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(authorize())
			if status.Code(err) != codes.PermissionDenied || !strings.Contains(status.Convert(err).Message(), tc.wantMsg) {
				t.Fatalf("got %v; want PermissionDenied mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

// TestSADSingleUseRace: of 16 concurrent signers with one SAD, exactly one
// wins, on both engines.
func TestSADSingleUseRace(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		cred := h.newCredential(t, "cit_1", "")
		doc := []byte("race")
		tok := h.issuer.citizen(t, "cit_1", time.Minute, nil)
		r, err := h.client.AuthorizeCredential(as(tok), &signaturev1.AuthorizeCredentialRequest{CredentialId: cred.CredentialId, Hashes: [][]byte{sha256Sum(doc)}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, refused := 0, 0
		for range 16 {
			wg.Go(func() {
				_, err := h.client.SignDocument(as(tok), &signaturev1.SignDocumentRequest{CredentialId: cred.CredentialId, Sad: r.Sad, Document: doc, Format: FormatCAdES})
				mu.Lock()
				defer mu.Unlock()
				switch status.Code(err) {
				case codes.OK:
					wins++
				case codes.PermissionDenied:
					refused++
				default:
					t.Errorf("unexpected %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || refused != 15 {
			t.Fatalf("wins %d, refused %d; want 1 and 15", wins, refused)
		}
	})
}
