package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// Identity-proofing levels.
const (
	// ProofingSelf: the citizen registered themselves.
	ProofingSelf = "self"
	// ProofingInPerson: a ministry checked the citizen's identity in person.
	ProofingInPerson = "in_person"
)

// Errors of the citizen API.
var (
	// ErrCitizenNotFound: no such citizen (or not one the caller may see).
	ErrCitizenNotFound = fmt.Errorf("citizen %w", rpcerr.ErrNotFound)
	// ErrScopeRequired: the client token lacks the scope the call needs.
	ErrScopeRequired = fmt.Errorf("the client token lacks the scope this call needs: %w", rpcerr.ErrPermissionDenied)
)

// Registration is a citizen's self-registration.
type Registration struct {
	NationalID        string
	PhoneNumber       string
	Email             string
	Password          string
	GivenName         string
	FamilyName        string
	PreferredLanguage string
}

// Registered is the outcome of a registration: the account and the SMS
// challenge that verifies its phone number.
type Registered struct {
	CitizenID   string
	ChallengeID string
	ExpiresIn   time.Duration
}

// Citizen is a citizen's account as callers see it.
type Citizen struct {
	ID string
	// NationalID is filled only for clients with citizens:read.
	NationalID        string
	GivenName         string
	FamilyName        string
	PhoneVerified     bool
	ProofingLevel     string
	TOTPEnabled       bool
	PreferredLanguage string
	CreateTime        time.Time
}

// validate normalises the registration and returns every problem.
func (r Registration) validate() (Registration, error) {
	var errs []error
	add := func(fe error) {
		errs = append(errs, fe)
	}
	var fe *rpcerr.FieldError
	var out Registration
	if out.NationalID, fe = NormalizeNationalID(r.NationalID); fe != nil {
		add(fe)
	}
	if out.PhoneNumber, fe = NormalizePhone(r.PhoneNumber); fe != nil {
		add(fe)
	}
	if out.Email, fe = NormalizeEmail(r.Email); fe != nil {
		add(fe)
	}
	if out.GivenName, fe = NormalizeName("given_name", r.GivenName); fe != nil {
		add(fe)
	}
	if out.FamilyName, fe = NormalizeName("family_name", r.FamilyName); fe != nil {
		add(fe)
	}
	if out.PreferredLanguage, fe = NormalizeLanguage(r.PreferredLanguage); fe != nil {
		add(fe)
	}
	if fe = checkPassword(r.Password, out.NationalID, out.PhoneNumber); fe != nil {
		add(fe)
	}
	out.Password = r.Password
	return out, errors.Join(errs...)
}

// nationalIDMAC is the lookup key of a normalised national ID.
func (s *Service) nationalIDMAC(nid string) string {
	return mac(s.keys.lookup, "national_id", nid)
}

// sealIdentity seals the citizen's identity to the signature enabler's
// identity key for the citizen_registered and citizen_proofed events: the
// stream never holds a national ID in clear, and only signature (which
// names the citizen in signing certificates) can open it.
func (s *Service) sealIdentity(citizenID, nationalID, given, family string) ([]byte, error) {
	if s.recipient == nil {
		return nil, errors.New("auth: identity-recipient-key is not configured")
	}
	pt, err := proto.Marshal(&eventsv1.CitizenIdentity{NationalId: nationalID, GivenName: given, FamilyName: family})
	if err != nil {
		return nil, err
	}
	return sealed.Seal(s.recipient, identityContext(citizenID), pt)
}

// identityContext binds a sealed identity to its citizen; the signature
// enabler opens it with the same context.
func identityContext(citizenID string) string { return "citizen_identity/" + citizenID }

// RegisterCitizen creates a citizen account (identity proofing "self"),
// with the phone number unverified, and sends an SMS code to verify it, in
// one transaction with the citizen_registered event. The SMS counts
// against the phone's cool-down and hourly cap.
//
// Registration is no oracle of who is registered: a national ID that
// already has an account gets the same answer (a fresh-looking citizen id
// and phone challenge, after the same argon2id work), the same count
// against the given phone's SMS limits, and a challenge that no code
// answers (registrationTaken). The holder of the ID is told by SMS instead.
func (s *Service) RegisterCitizen(ctx context.Context, r Registration) (Registered, error) {
	r, err := r.validate()
	if err != nil {
		return Registered{}, err
	}
	hash, err := s.hasher.hash(ctx, r.Password, s.cfg.HashParams())
	if err != nil {
		return Registered{}, err
	}
	id, err := store.NewIDFrom(s.Rand, "cit_")
	if err != nil {
		return Registered{}, err
	}
	nidEnc, err := s.keys.seal(s.Rand, []byte(r.NationalID), "citizens.national_id:"+id)
	if err != nil {
		return Registered{}, err
	}
	sealedID, err := s.sealIdentity(id, r.NationalID, r.GivenName, r.FamilyName)
	if err != nil {
		return Registered{}, err
	}
	now := s.Now().UTC()
	row := citizenRow{
		ID: id, NationalIDMAC: s.nationalIDMAC(r.NationalID), NationalIDEnc: nidEnc,
		PhoneNumber: r.PhoneNumber, Email: r.Email, PasswordHash: hash,
		GivenName: r.GivenName, FamilyName: r.FamilyName, PreferredLanguage: r.PreferredLanguage,
		ProofingLevel: ProofingSelf, CreatedAt: now,
	}
	var ch challengeRow
	register := func(tx *sql.Tx) error {
		if err := s.checkSMSLimits(ctx, tx, r.PhoneNumber, now); err != nil {
			return err
		}
		holder, err := selectCitizenByNationalID(ctx, tx, row.NationalIDMAC)
		switch {
		case err == nil:
			ch, err = s.registrationTaken(ctx, tx, holder, r.PhoneNumber, now)
			return err
		case !store.IsNoRows(err):
			return fmt.Errorf("auth: register citizen: %w", err)
		}
		if err := insertCitizen(ctx, tx, row); err != nil {
			if store.IsUniqueViolation(err) {
				return errRegistrationRace
			}
			return fmt.Errorf("auth: register citizen: %w", err)
		}
		if err := s.emit(ctx, tx, EventCitizenRegistered, id, &eventsv1.CitizenRegistered{
			CitizenId: id, ProofingLevel: ProofingSelf, Time: timestamppb.New(now), SealedIdentity: sealedID,
		}); err != nil {
			return err
		}
		ch, err = s.sendSMSChallenge(ctx, tx, row, purposePhone, now)
		return err
	}
	err = s.Commit(ctx, register)
	if errors.Is(err, errRegistrationRace) {
		// Another registration of the ID committed between the look-up
		// and the insert: the second try answers it as taken.
		err = s.Commit(ctx, register)
	}
	if err != nil {
		return Registered{}, err
	}
	s.noteOTPSent(ch)
	return Registered{CitizenID: id, ChallengeID: ch.ID, ExpiresIn: s.cfg.OTPTTL}, nil
}

// errRegistrationRace: a concurrent registration took the national ID.
var errRegistrationRace = errors.New("auth: national ID registered concurrently")

// noticeInterval is the least time between two registration-attempt
// notices to one citizen, so that repeated attempts cannot flood them.
const noticeInterval = time.Hour

// registrationTaken answers, inside tx, a registration whose national ID
// holder already has: a decoy phone challenge on the given phone (it
// counts against that phone's SMS limits as a real one would, and no
// code answers it), and at most one SMS an hour to the holder's registered
// phone saying that someone tried to register with their ID. The notice
// is recorded with method "notice", so it never counts against the
// holder's OTP limits (a stranger could otherwise use it to block their
// step-ups).
func (s *Service) registrationTaken(ctx context.Context, tx *sql.Tx, holder citizenRow, phone string, now time.Time) (challengeRow, error) {
	id, err := store.NewIDFrom(s.Rand, "otp_")
	if err != nil {
		return challengeRow{}, err
	}
	decoy := challengeRow{
		ID: id, CitizenID: holder.ID, Purpose: purposeDecoy, Method: MethodSMS,
		PhoneNumber: phone, ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now,
	}
	if err := insertChallenge(ctx, tx, decoy); err != nil {
		return challengeRow{}, fmt.Errorf("auth: register citizen: %w", err)
	}
	n, err := recentNotices(ctx, tx, holder.ID, ms(now.Add(-noticeInterval)))
	if err != nil {
		return challengeRow{}, fmt.Errorf("auth: register citizen: %w", err)
	}
	if n > 0 {
		return decoy, nil
	}
	noticeID, err := store.NewIDFrom(s.Rand, "otp_")
	if err != nil {
		return challengeRow{}, err
	}
	notice := challengeRow{
		ID: noticeID, CitizenID: holder.ID, Purpose: purposeNotice, Method: "notice",
		PhoneNumber: holder.PhoneNumber, ExpiresAt: now, CreatedAt: now,
	}
	if err := insertChallenge(ctx, tx, notice); err != nil {
		return challengeRow{}, fmt.Errorf("auth: register citizen: %w", err)
	}
	sms := challengeSMS(notice, RegistrationAttemptTemplateID, holder.PreferredLanguage, now.Add(noticeInterval))
	return decoy, s.command(ctx, tx, SubjectOTPSMS, typeSendSMS, sms)
}

// GetCitizen returns a citizen's account to the citizen themselves or to
// a ministry client with citizens:read (the only callers who also see the
// national ID). Anyone else is told the citizen does not exist.
func (s *Service) GetCitizen(ctx context.Context, caller Principal, id string) (Citizen, error) {
	self := caller.IsCitizen() && caller.Subject == id
	reader := caller.HasScope(scope.CitizensRead)
	if !self && !reader {
		if caller.IsClient() {
			return Citizen{}, ErrScopeRequired
		}
		return Citizen{}, ErrCitizenNotFound
	}
	row, err := selectCitizen(ctx, s.DB, id)
	if store.IsNoRows(err) {
		return Citizen{}, ErrCitizenNotFound
	}
	if err != nil {
		return Citizen{}, fmt.Errorf("auth: get citizen: %w", err)
	}
	c := citizenFromRow(row)
	if reader {
		nid, err := s.keys.open(row.NationalIDEnc, "citizens.national_id:"+row.ID)
		if err != nil {
			return Citizen{}, fmt.Errorf("auth: citizen %s: %w", row.ID, err)
		}
		c.NationalID = string(nid)
	}
	return c, nil
}

func citizenFromRow(row citizenRow) Citizen {
	return Citizen{
		ID: row.ID, GivenName: row.GivenName, FamilyName: row.FamilyName,
		PhoneVerified: row.PhoneVerified, ProofingLevel: row.ProofingLevel, TOTPEnabled: row.TOTPEnabled,
		PreferredLanguage: row.PreferredLanguage, CreateTime: row.CreatedAt,
	}
}

// ProofCitizen records that the calling ministry client (which needs the
// citizens:proof scope) checked the citizen's identity in person; evidence
// is the ministry's reference for the check (1 to 200 characters).
func (s *Service) ProofCitizen(ctx context.Context, caller Principal, id, evidence string) (Citizen, error) {
	if !caller.HasScope(scope.CitizensProof) {
		return Citizen{}, ErrScopeRequired
	}
	evidence = strings.TrimSpace(evidence)
	if evidence == "" || utf8.RuneCountInString(evidence) > 200 {
		return Citizen{}, &rpcerr.FieldError{Field: "evidence", Reason: "must be 1 to 200 characters", Code: "evidence.length", Args: rpcerr.ArgList("1", "200")}
	}
	now := s.Now().UTC()
	var row citizenRow
	err := s.Commit(ctx, func(tx *sql.Tx) error {
		ok, err := updateProofing(ctx, tx, id, ProofingInPerson, caller.ClientID, evidence, now)
		if err != nil {
			return fmt.Errorf("auth: proof citizen: %w", err)
		}
		if !ok {
			return ErrCitizenNotFound
		}
		if row, err = selectCitizen(ctx, tx, id); err != nil {
			return fmt.Errorf("auth: proof citizen: %w", err)
		}
		// The proofing records no ID-card name of its own: the identity
		// proofed is the one registered, and that is what signature hears.
		nid, err := s.keys.open(row.NationalIDEnc, "citizens.national_id:"+row.ID)
		if err != nil {
			return fmt.Errorf("auth: citizen %s: %w", row.ID, err)
		}
		sealedID, err := s.sealIdentity(id, string(nid), row.GivenName, row.FamilyName)
		if err != nil {
			return err
		}
		return s.emit(ctx, tx, EventCitizenProofed, id, &eventsv1.CitizenProofed{
			CitizenId: id, ProofingLevel: ProofingInPerson, ClientId: caller.ClientID, Time: timestamppb.New(now),
			SealedIdentity: sealedID,
		})
	})
	if err != nil {
		return Citizen{}, err
	}
	return citizenFromRow(row), nil
}
