package auth

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// This file is the domain of the hosted pages' account creation and
// forgotten-password reset (issue 14). Both run inside an open
// authorization request, so they are bound to the browser that started it
// and end back in it: account creation with RegisterCitizen and its SMS
// phone verification, then signed in; a reset with an SMS code to the
// registered phone (the OTP machinery: MAC-stored, tries counted first,
// single use), a new password, and every session of the citizen ended.

// Kinds of page flows.
const (
	flowSignup = "signup"
	flowReset  = "reset"
)

// purposeReset: a forgotten-password reset's SMS code.
const purposeReset = "reset"

// revokePasswordReset is the revoke reason of the sessions a reset ends.
const revokePasswordReset = "password_reset"

// errResetFailed is the one answer to a wrong code, an unknown or closed
// challenge and a challenge that was never sent (an unknown national ID):
// like the unlock flow, a reset tells nobody whether an ID is registered.
var errResetFailed = &rpcerr.FieldError{Field: "code", Reason: "is not correct, or the code has expired or had its tries: ask for a new code", Code: "code.incorrect"}

// errNoFlow: the page flow was never started for this request.
var errNoFlow = fmt.Errorf("auth: no account creation or reset in progress: %w", errAuthRequestClosed)

// flowOf loads the flow of kind for an open request.
func (s *Service) flowOf(ctx context.Context, row authRequestRow, kind string) (pageFlow, error) {
	f, err := selectPageFlow(ctx, s.DB, row.ID, kind)
	if store.IsNoRows(err) || err == nil && !s.Now().Before(f.ExpiresAt) {
		return pageFlow{}, errNoFlow
	}
	if err != nil {
		return pageFlow{}, fmt.Errorf("auth: page flow: %w", err)
	}
	return f, nil
}

// openFlow loads the open request id of the browser with binding
// (openAuthRequest) and its flow of kind (flowOf).
func (s *Service) openFlow(ctx context.Context, id, binding, kind string) (authRequestRow, pageFlow, error) {
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return authRequestRow{}, pageFlow{}, err
	}
	f, err := s.flowOf(ctx, row, kind)
	return row, f, err
}

// resendAt is when a flow (or a step-up) may send its next code.
func (s *Service) resendAt(sentAt time.Time) time.Time { return sentAt.Add(s.cfg.SMSResendCooldown) }

// startSignup creates the account with RegisterCitizen (validation,
// password policy, the same answer for a national ID that is taken, the
// phone's SMS limits) and remembers its phone verification for the
// request.
func (s *Service) startSignup(ctx context.Context, id, binding string, reg Registration) error {
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return err
	}
	out, err := s.RegisterCitizen(ctx, reg)
	if err != nil {
		return err
	}
	now := s.Now()
	return upsertPageFlow(ctx, s.DB, pageFlow{AuthRequestID: row.ID, Kind: flowSignup, ChallengeID: out.ChallengeID,
		SentAt: now, ExpiresAt: now.Add(s.cfg.OTPTTL)})
}

// finishSignup checks the phone verification code of the request's new
// account (VerifyOTPChallenge: tries counted first, single use) and signs
// the citizen in: the password was set and the phone shown in this
// browser a moment ago, so the session is pwd+sms (loa2). It returns the
// single sign-on cookie's value and the client's redirect URI with the
// code.
func (s *Service) finishSignup(ctx context.Context, id, binding, code string) (signInResult, error) {
	row, f, err := s.openFlow(ctx, id, binding, flowSignup)
	if err != nil {
		return signInResult{}, err
	}
	if _, err := s.VerifyOTPChallenge(ctx, Principal{}, f.ChallengeID, code); err != nil {
		return signInResult{}, err
	}
	ch, err := selectChallenge(ctx, s.DB, f.ChallengeID)
	if err != nil {
		return signInResult{}, fmt.Errorf("auth: sign-up: %w", err)
	}
	key, err := s.ring.signer(ctx)
	if err != nil {
		return signInResult{}, err
	}
	now := s.Now()
	var fam familyRow
	err = s.Commit(ctx, func(tx *sql.Tx) error {
		var err error
		start := familyRow{CitizenID: ch.CitizenID, ACR: ACRStepUp, AMR: []string{"pwd", "sms"}, AuthTime: now, AZP: row.ClientID}
		if _, fam, err = s.newFamily(ctx, tx, key, start, now); err != nil {
			return err
		}
		if err := deletePageFlow(ctx, tx, row.ID, flowSignup); err != nil {
			return fmt.Errorf("auth: sign-up: %w", err)
		}
		return s.emit(ctx, tx, EventLoginSucceeded, ch.CitizenID, &eventsv1.LoginSucceeded{
			CitizenId: ch.CitizenID, Acr: ACRStepUp, Amr: start.AMR, ClientId: row.ClientID, Time: timestamppb.New(now),
		})
	})
	if err != nil {
		return signInResult{}, err
	}
	token, err := s.startSSO(ctx, fam, now)
	if err != nil {
		return signInResult{}, err
	}
	out := signInResult{SSOToken: token}
	row.CitizenID, row.ACR, row.AMR, row.AuthTime, row.SessionID, row.OTPChallengeID = fam.CitizenID, fam.ACR, fam.AMR, fam.AuthTime, fam.SessionID, ""
	if _, err := authenticateAuthRequest(ctx, s.DB, row.ID, row); err != nil {
		return out, fmt.Errorf("auth: authorize: %w", err)
	}
	out.RedirectURL, err = s.issueCode(ctx, row)
	return out, err
}

// startReset begins a forgotten-password reset for nationalID: when it
// has an account with a verified phone and the phone's SMS limits allow,
// a code goes to that phone. The request gets the same flow (a challenge
// id, the same countdown) in every case, so that the pages do not tell
// whether the ID is registered or rate limited; a malformed ID is a form
// error, which tells nothing either.
func (s *Service) startReset(ctx context.Context, id, binding, nationalID string) error {
	row, err := s.openAuthRequest(ctx, id, binding)
	if err != nil {
		return err
	}
	nid, fe := NormalizeNationalID(nationalID)
	if fe != nil {
		return fe
	}
	c, err := selectCitizenByNationalID(ctx, s.DB, s.nationalIDMAC(nid))
	switch {
	case store.IsNoRows(err):
		c = citizenRow{}
	case err != nil:
		return fmt.Errorf("auth: reset: %w", err)
	case !c.PhoneVerified:
		c = citizenRow{}
	}
	return s.sendReset(ctx, row.ID, c.ID)
}

// sendReset sends a reset code to the citizen's verified phone (none
// when citizenID is "", or silently none beyond the phone's SMS limits)
// and records the flow.
func (s *Service) sendReset(ctx context.Context, requestID, citizenID string) error {
	chID, err := store.NewIDFrom(s.Rand, "otp_")
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	sent := false
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		sent = false
		if citizenID != "" {
			c, err := selectCitizen(ctx, tx, citizenID)
			if err != nil {
				return fmt.Errorf("auth: reset: %w", err)
			}
			if err := s.checkSMSLimits(ctx, tx, c.PhoneNumber, now); err == nil && c.PhoneVerified {
				if _, err := s.sendSMSChallengeID(ctx, tx, c, purposeReset, chID, now); err != nil {
					return err
				}
				sent = true
			} else if _, limited := err.(*RetryError); err != nil && !limited {
				return err
			}
		}
		return upsertPageFlow(ctx, tx, pageFlow{AuthRequestID: requestID, Kind: flowReset, ChallengeID: chID, CitizenID: citizenID,
			SentAt: now, ExpiresAt: now.Add(s.cfg.OTPTTL)})
	})
	if err != nil {
		return err
	}
	if sent {
		s.noteOTPSent(challengeRow{ID: chID, Method: MethodSMS, Purpose: purposeReset})
		s.Relay.Kick()
	}
	return nil
}

// resendFlowCode sends a new code for the request's sign-up or reset once
// the cool-down since the last one has passed (a RetryError before).
func (s *Service) resendFlowCode(ctx context.Context, id, binding, kind string) error {
	row, f, err := s.openFlow(ctx, id, binding, kind)
	if err != nil {
		return err
	}
	now := s.Now()
	if at := s.resendAt(f.SentAt); at.After(now) {
		return retryAfter("a code was sent a moment ago: wait before asking for another", at.Sub(now))
	}
	if kind == flowReset {
		return s.sendReset(ctx, row.ID, f.CitizenID)
	}
	return s.resendSignup(ctx, row.ID, f)
}

// resendSignup sends a new phone verification code for an account
// creation (within the phone's SMS limits): to the account's phone while
// it is unverified, or a new decoy when the national ID was taken.
func (s *Service) resendSignup(ctx context.Context, requestID string, f pageFlow) error {
	old, err := selectChallenge(ctx, s.DB, f.ChallengeID)
	if err != nil {
		return fmt.Errorf("auth: sign-up: %w", err)
	}
	now := s.Now().UTC()
	var ch challengeRow
	err = s.Commit(ctx, func(tx *sql.Tx) error {
		if err := s.checkSMSLimits(ctx, tx, old.PhoneNumber, now); err != nil {
			return err
		}
		switch old.Purpose {
		case purposePhone:
			c, err := selectCitizen(ctx, tx, old.CitizenID)
			if err != nil {
				return fmt.Errorf("auth: sign-up: %w", err)
			}
			if c.PhoneVerified || c.PhoneNumber != old.PhoneNumber {
				return errNoFlow
			}
			ch, err = s.sendSMSChallenge(ctx, tx, c, purposePhone, now)
			return err
		case purposeDecoy:
			id, err := store.NewIDFrom(s.Rand, "otp_")
			if err != nil {
				return err
			}
			ch = challengeRow{ID: id, CitizenID: old.CitizenID, Purpose: purposeDecoy, Method: MethodSMS,
				PhoneNumber: old.PhoneNumber, ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now}
			return insertChallenge(ctx, tx, ch)
		}
		return errNoFlow
	})
	if err != nil {
		return err
	}
	s.noteOTPSent(ch)
	f.ChallengeID, f.SentAt, f.ExpiresAt = ch.ID, now, now.Add(s.cfg.OTPTTL)
	return upsertPageFlow(ctx, s.DB, f)
}

// finishReset checks the reset code and sets the new password: the try
// is counted before the code is compared, the challenge is consumed
// exactly once, and in the same transaction the password changes, the
// account's login locks are lifted and every session of the citizen ends
// (session_revoked for each, and every browser's single sign-on).
// A wrong, unknown, used or expired code is errResetFailed; a password
// that breaks the policy is a FieldError on "password" and keeps the
// challenge open.
func (s *Service) finishReset(ctx context.Context, id, binding, code, password string) error {
	row, f, err := s.openFlow(ctx, id, binding, flowReset)
	if err != nil {
		return err
	}
	code = strings.TrimSpace(i18n.ASCIIDigits(code))
	if code == "" || len(code) > 64 {
		return &rpcerr.FieldError{Field: "code", Reason: "is required", Code: "code.required"}
	}
	if fe := checkPassword(password); fe != nil {
		return fe
	}
	now := s.Now().UTC()
	counted, err := countPurposeAttempt(ctx, s.DB, f.ChallengeID, purposeReset, s.cfg.OTPMaxAttempts, now)
	if err != nil {
		return fmt.Errorf("auth: reset attempt: %w", err)
	}
	ch, err := selectChallenge(ctx, s.DB, f.ChallengeID)
	if err != nil && !store.IsNoRows(err) {
		return fmt.Errorf("auth: reset: %w", err)
	}
	if !counted || err != nil || ch.Purpose != purposeReset || ch.CitizenID != f.CitizenID || !macEqual(s.codeMAC(ch.ID, code), ch.CodeMAC) {
		s.noteFailedAnswer(ch, err == nil && ch.Purpose == purposeReset && ch.CitizenID == f.CitizenID, counted, now)
		return errResetFailed
	}
	c, err := selectCitizen(ctx, s.DB, ch.CitizenID)
	if err != nil {
		return fmt.Errorf("auth: reset: %w", err)
	}
	nid, err := s.keys.open(c.NationalIDEnc, "citizens.national_id:"+c.ID)
	if err != nil {
		return fmt.Errorf("auth: citizen %s: %w", c.ID, err)
	}
	if fe := checkPassword(password, string(nid), c.PhoneNumber); fe != nil {
		return fe
	}
	hash, err := s.hasher.hash(ctx, password, s.cfg.HashParams())
	if err != nil {
		return err
	}
	err = s.Commit(ctx, func(tx *sql.Tx) error {
		ok, err := consumeChallenge(ctx, tx, ch.ID, now)
		if err != nil {
			return fmt.Errorf("auth: consume reset challenge: %w", err)
		}
		if !ok {
			return errResetFailed
		}
		if err := updatePasswordHash(ctx, tx, c.ID, hash, now); err != nil {
			return fmt.Errorf("auth: reset: %w", err)
		}
		if err := clearAccount(ctx, tx, c.NationalIDMAC); err != nil {
			return fmt.Errorf("auth: reset: %w", err)
		}
		sessions, err := aliveSessionsOf(ctx, tx, c.ID)
		if err != nil {
			return fmt.Errorf("auth: reset: %w", err)
		}
		for _, sid := range sessions {
			if err := s.endSession(ctx, tx, familyRow{SessionID: sid, CitizenID: c.ID}, revokePasswordReset, now); err != nil {
				return err
			}
		}
		if err := revokeCitizenFamilies(ctx, tx, c.ID, revokePasswordReset, now); err != nil {
			return fmt.Errorf("auth: reset: %w", err)
		}
		if err := deleteSSOOfCitizen(ctx, tx, c.ID); err != nil {
			return fmt.Errorf("auth: reset: %w", err)
		}
		return deletePageFlow(ctx, tx, row.ID, flowReset)
	})
	if err != nil {
		return err
	}
	s.noteOTP(otpSuccess)
	s.Logger.InfoContext(ctx, "auth: password reset by SMS code; sessions ended", slog.String("citizen_id", c.ID))
	return nil
}
