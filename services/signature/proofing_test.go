package signature

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/events"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// TestProofingRequired: without allow-self-proofed a credential needs an
// identity proofed in person, known from the token's claim or from the
// auth enabler's citizen_proofed event (applied once, never lowered).
func TestProofingRequired(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.AllowSelfProofed = false })
	create := func(sub string, extra map[string]any) (*signaturev1.Credential, error) {
		return h.client.CreateCredential(as(h.issuer.citizen(t, sub, time.Minute, extra)), citizenIdentity)
	}
	h.enrol(t, "cit_self", "self", testIdentity())
	h.enrol(t, "cit_claim", "self", testIdentity())
	if _, err := create("cit_self", nil); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("self-registered: %v; want FailedPrecondition", err)
	}
	if _, err := create("cit_claim", map[string]any{"proofing_level": "in_person"}); err != nil {
		t.Fatalf("proofed by claim: %v", err)
	}
	// Identity claims in a token change nothing: the subject is auth's record.
	c, err := h.client.CreateCredential(as(h.issuer.citizen(t, "cit_claim", time.Minute, map[string]any{"proofing_level": "in_person", "national_id": "999999999"})), &signaturev1.CreateCredentialRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if sn := certOf(t, c).Subject.SerialNumber; sn != "PNOPS-"+citizenIdentity.NationalId {
		t.Fatalf("serialNumber %q with a national_id claim; want the recorded PNOPS-%s", sn, citizenIdentity.NationalId)
	}

	f := events.Factory{Source: "tamkeen/auth"}
	proofed, _ := f.New("tamkeen.auth.citizen_proofed.v1", &eventsv1.CitizenProofed{CitizenId: "cit_self", ProofingLevel: "in_person"})
	reregistered, _ := f.New("tamkeen.auth.citizen_registered.v1", &eventsv1.CitizenRegistered{CitizenId: "cit_self", ProofingLevel: "self"})
	ctx := context.Background()
	for _, ev := range []events.Event{proofed, proofed, reregistered} {
		if err := h.svc.handleProofing(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := create("cit_self", nil); err != nil {
		t.Fatalf("after citizen_proofed: %v", err)
	}
}
