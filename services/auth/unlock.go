package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// errUnlockFailed is the one answer to a wrong code, an unknown or closed
// challenge, and a challenge that was never sent (an unknown national ID):
// the unlock flow tells nobody whether an ID is registered.
var errUnlockFailed = &rpcerr.FieldError{Field: "code", Reason: "is not correct, or the code has expired or had its tries: ask for a new code", Code: "code.incorrect"}

// StartUnlock begins lifting the login locks of an account: when the
// national ID has an account with a verified phone, some lock of it is in
// force and the phone's SMS limits allow, an SMS code goes to that phone
// (the OTP machinery: HMAC-stored, attempt-limited, single use). The answer
// — a challenge id and its lifetime — is the same in every case, so that
// it does not tell whether the ID is registered, locked or rate limited; a
// malformed ID is a 400, which tells nothing either.
func (s *Service) StartUnlock(ctx context.Context, nationalID string) (Challenge, error) {
	nid, fe := NormalizeNationalID(nationalID)
	if fe != nil {
		return Challenge{}, fe
	}
	id, err := store.NewIDFrom(s.Rand, "otp_")
	if err != nil {
		return Challenge{}, err
	}
	out := Challenge{ID: id, Method: MethodSMS, ExpiresIn: s.cfg.OTPTTL}
	nidMAC := s.nationalIDMAC(nid)
	now := s.Now().UTC()
	sent := false
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		sent = false
		c, err := selectCitizenByNationalID(ctx, tx, nidMAC)
		if store.IsNoRows(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("auth: unlock: %w", err)
		}
		if !c.PhoneVerified {
			return nil
		}
		locked, err := accountLocked(ctx, tx, nidMAC, ms(now))
		if err != nil {
			return fmt.Errorf("auth: unlock: %w", err)
		}
		if !locked {
			return nil
		}
		if err := s.checkSMSLimits(ctx, tx, c.PhoneNumber, now); err != nil {
			var retry *RetryError
			if errors.As(err, &retry) {
				// Silently: a 429 here would say the ID is registered.
				return nil
			}
			return err
		}
		if _, err := s.sendSMSChallengeID(ctx, tx, c, purposeUnlock, id, now); err != nil {
			return err
		}
		sent = true
		return nil
	})
	if err != nil {
		return Challenge{}, err
	}
	if sent {
		s.noteOTPSent(challengeRow{ID: id, Method: MethodSMS, Purpose: purposeUnlock})
		s.Relay.Kick()
	}
	return out, nil
}

// VerifyUnlock checks the code of an unlock challenge and, when it is
// right, deletes every failure counter and lock of the account (from
// every source) in one transaction with the account_unlocked event. The
// try is counted before the code is compared, and the challenge is
// consumed exactly once. Every failure is errUnlockFailed.
func (s *Service) VerifyUnlock(ctx context.Context, id, code string) error {
	code = strings.TrimSpace(i18n.ASCIIDigits(code))
	if code == "" || len(code) > 64 {
		return &rpcerr.FieldError{Field: "code", Reason: "is required", Code: "code.required"}
	}
	if len(id) > 64 {
		return errUnlockFailed
	}
	now := s.Now().UTC()
	// Counted first, whether or not the challenge exists, so that an
	// unknown id costs the same statements as a wrong code.
	counted, err := countPurposeAttempt(ctx, s.DB, id, purposeUnlock, s.cfg.OTPMaxAttempts, now)
	if err != nil {
		return fmt.Errorf("auth: unlock attempt: %w", err)
	}
	ch, err := selectChallenge(ctx, s.DB, id)
	if err != nil && !store.IsNoRows(err) {
		return fmt.Errorf("auth: unlock: %w", err)
	}
	if !counted || err != nil || ch.Purpose != purposeUnlock || !macEqual(s.codeMAC(id, code), ch.CodeMAC) {
		s.noteFailedAnswer(ch, err == nil && ch.Purpose == purposeUnlock, counted, now)
		return errUnlockFailed
	}
	err = s.Commit(ctx, func(tx *sql.Tx) error {
		ok, err := consumeChallenge(ctx, tx, id, now)
		if err != nil {
			return fmt.Errorf("auth: consume unlock challenge: %w", err)
		}
		if !ok {
			return errUnlockFailed
		}
		c, err := selectCitizen(ctx, tx, ch.CitizenID)
		if err != nil {
			return fmt.Errorf("auth: unlock: %w", err)
		}
		if err := clearAccount(ctx, tx, c.NationalIDMAC); err != nil {
			return fmt.Errorf("auth: unlock: %w", err)
		}
		return s.emit(ctx, tx, EventAccountUnlocked, c.ID, &eventsv1.AccountUnlocked{CitizenId: c.ID, Time: timestamppb.New(now)})
	})
	if err != nil {
		return err
	}
	s.noteOTP(otpSuccess)
	s.Logger.InfoContext(ctx, "auth: account unlocked by SMS code", slog.String("citizen_id", ch.CitizenID))
	return nil
}
