package signature

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// A citizen's signing certificate names the citizen as the auth enabler
// recorded them (DESIGN.md section 5, "Identity is bound"): auth seals the
// national ID and the names into its citizen_registered and
// citizen_proofed events to the identity key (libs/sealed), only this
// service can open them, and it keeps them sealed again under its
// key-encryption key in citizen_identities. The request may repeat the
// identity; it can never change it.

// ErrNoIdentity: the service has not (yet) heard from the auth enabler who
// the citizen is, so it cannot name them in a certificate.
var ErrNoIdentity = fmt.Errorf("the signature enabler has no identity record from auth for this citizen yet (it arrives with auth's citizen_registered or citizen_proofed event); try again shortly: %w", rpcerr.ErrFailedPrecondition)

// identityContext binds a sealed identity to its citizen, in events (HPKE
// info) and at rest (AEAD additional data) alike.
func identityContext(citizenID string) string { return "citizen_identity/" + citizenID }

// openIdentity opens and checks the identity auth sealed for citizenID.
func (s *Service) openIdentity(citizenID string, blob []byte) (*eventsv1.CitizenIdentity, error) {
	pt, err := sealed.Open(s.idKeys, identityContext(citizenID), blob)
	if err != nil {
		return nil, err
	}
	var id eventsv1.CitizenIdentity
	if err := proto.Unmarshal(pt, &id); err != nil {
		return nil, fmt.Errorf("sealed identity: %w", err)
	}
	if err := checkIdentity(&id); err != nil {
		return nil, err
	}
	return &id, nil
}

// checkIdentity refuses a record unfit for a certificate subject (it came
// from auth, which validated it; this is defence in depth).
func checkIdentity(id *eventsv1.CitizenIdentity) error {
	if !nationalIDPattern.MatchString(id.GetNationalId()) {
		return errors.New("identity record: national ID is not 6 to 12 digits")
	}
	for _, n := range []string{id.GetGivenName(), id.GetFamilyName()} {
		if n == "" || !utf8.ValidString(n) || utf8.RuneCountInString(n) > 100 {
			return errors.New("identity record: a name is empty, too long or not UTF-8")
		}
		for _, r := range n {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				return errors.New("identity record: a name holds a control or format character")
			}
		}
	}
	return nil
}

// storeIdentity keeps the identity sealed at rest. One that came with an
// in-person proofing is replaced only by another such.
func (s *Service) storeIdentity(ctx context.Context, tx *sql.Tx, citizenID, level string, id *eventsv1.CitizenIdentity, at time.Time) error {
	pt, err := proto.Marshal(id)
	if err != nil {
		return err
	}
	blob, err := s.seal.seal(pt, identityContext(citizenID))
	if err != nil {
		return err
	}
	return putIdentity(ctx, tx, citizenID, blob, level, at)
}

// citizenIdentity is the identity recorded for the citizen, or ErrNoIdentity.
func (s *Service) citizenIdentity(ctx context.Context, citizenID string) (*eventsv1.CitizenIdentity, error) {
	blob, err := sealedIdentity(ctx, s.DB, citizenID)
	if store.IsNoRows(err) {
		return nil, ErrNoIdentity
	}
	if err != nil {
		return nil, fmt.Errorf("citizen identity: %w", err)
	}
	pt, err := s.seal.open(blob, identityContext(citizenID))
	if err != nil {
		return nil, fmt.Errorf("citizen identity of %s: %w", citizenID, err)
	}
	var id eventsv1.CitizenIdentity
	if err := proto.Unmarshal(pt, &id); err != nil {
		return nil, fmt.Errorf("citizen identity of %s: %w", citizenID, err)
	}
	return &id, nil
}

// matchIdentity refuses request fields that name anyone but the record:
// they may be empty or repeat it (spaces aside), nothing else.
func matchIdentity(id *eventsv1.CitizenIdentity, req CredentialRequest) error {
	const reason = "does not match the identity auth recorded for the signed-in citizen; leave it empty"
	same := func(got, want string) bool {
		got = strings.Join(strings.Fields(got), " ")
		return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	}
	var errs []error
	for _, f := range []struct{ field, got, want string }{
		{"given_name", req.GivenName, id.GetGivenName()},
		{"family_name", req.FamilyName, id.GetFamilyName()},
		{"national_id", strings.ReplaceAll(req.NationalID, " ", ""), id.GetNationalId()},
	} {
		if strings.TrimSpace(f.got) != "" && !same(f.got, f.want) {
			errs = append(errs, &rpcerr.FieldError{Field: f.field, Reason: reason, Code: rpcerr.FieldCode(f.field, "mismatch")})
		}
	}
	return errors.Join(errs...)
}
