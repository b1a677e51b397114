package auth

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// OTP methods a challenge may use.
const (
	// MethodSMS sends a 6-digit code to the citizen's verified phone.
	MethodSMS = "sms"
	// MethodTOTP asks for a code of the citizen's authenticator app (or a
	// recovery code).
	MethodTOTP = "totp"
	// MethodPhoneVerification re-sends the registration's phone
	// verification code (when the first SMS was lost) to a citizen whose
	// phone is not verified yet.
	MethodPhoneVerification = "phone_verification"
)

// Challenge purposes.
const (
	purposeStepUp = "step_up"
	purposePhone  = "phone"
	// purposeDecoy is the phone "verification" answered to a registration
	// with a national ID that is already registered: it has no code, so
	// every answer is wrong, exactly as a wrong answer to a real one.
	purposeDecoy = "phone_decoy"
	// purposeUnlock lifts the login locks of an account (unlock.go).
	purposeUnlock = "unlock"
	// purposeNotice records an SMS notice (method "notice"); never answered.
	purposeNotice = "notice"
)

// Errors of OTP challenges.
var (
	// ErrChallengeNotFound: no such challenge, or not the caller's.
	ErrChallengeNotFound = fmt.Errorf("OTP challenge %w", rpcerr.ErrNotFound)
	// ErrChallengeClosed: the challenge was used, has expired or has had
	// its tries; start a new one.
	ErrChallengeClosed = fmt.Errorf("OTP challenge is used, expired or out of tries; start a new one: %w", rpcerr.ErrFailedPrecondition)
	// ErrPhoneNotVerified: SMS step-up needs a verified phone number.
	ErrPhoneNotVerified = fmt.Errorf("the phone number is not verified yet: %w", rpcerr.ErrFailedPrecondition)
	// ErrPhoneAlreadyVerified: there is nothing to verify.
	ErrPhoneAlreadyVerified = fmt.Errorf("the phone number is already verified: %w", rpcerr.ErrFailedPrecondition)
	// ErrTOTPNotEnabled: TOTP step-up needs a confirmed enrolment.
	ErrTOTPNotEnabled = fmt.Errorf("TOTP is not enabled for this account: %w", rpcerr.ErrFailedPrecondition)
)

// wrongCode is the error for a code that does not match.
func wrongCode(left int) error {
	if left <= 0 {
		return &rpcerr.FieldError{Field: "code", Reason: "is not correct; no tries left: start a new challenge", Code: "code.no_tries_left"}
	}
	return &rpcerr.FieldError{Field: "code", Reason: fmt.Sprintf("is not correct; %d tries left", left), Code: "code.tries_left", Args: rpcerr.ArgList(strconv.Itoa(left))}
}

// Challenge is a pending one-time-code check.
type Challenge struct {
	ID     string
	Method string
	// ExpiresIn is the time left to answer.
	ExpiresIn time.Duration
	// ResendAfter is the cool-down before another SMS (SMS only).
	ResendAfter time.Duration
}

// Verified is the outcome of a correct code: a loa2 token pair after a
// step-up, or PhoneVerified after a phone verification.
type Verified struct {
	Tokens        *TokenPair
	PhoneVerified bool
}

// newCode returns a uniformly random 6-digit code.
func newCode(rnd io.Reader) (string, error) {
	const limit = 4_294_000_000 // the largest multiple of 10^6 below 2^32
	var b [4]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return "", fmt.Errorf("auth: OTP code: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%1_000_000), nil
		}
	}
}

// codeMAC binds an SMS code to its challenge.
func (s *Service) codeMAC(challengeID, code string) string {
	return mac(s.keys.otp, "sms:"+challengeID, code)
}

// checkSMSLimits refuses a new SMS to phone within the resend cool-down
// of the last one or beyond the hourly cap, with the time to wait.
func (s *Service) checkSMSLimits(ctx context.Context, q store.Querier, phone string, now time.Time) error {
	n, oldest, newest, err := smsSends(ctx, q, phone, ms(now.Add(-time.Hour)))
	if err != nil {
		return fmt.Errorf("auth: SMS limits: %w", err)
	}
	if n > 0 {
		if next := fromMS(newest).Add(s.cfg.SMSResendCooldown); next.After(now) {
			return retryAfter("a code was sent a moment ago: wait before asking for another", next.Sub(now))
		}
	}
	if n >= s.cfg.SMSHourlyCap {
		return retryAfter("too many codes sent to this phone number this hour", fromMS(oldest).Add(time.Hour).Sub(now))
	}
	return nil
}

// sendSMSChallenge stores an SMS challenge for the citizen's phone and
// puts the SendSms command in the outbox, inside tx: the challenge exists
// if and only if its SMS goes out. The caller has checked the limits.
func (s *Service) sendSMSChallenge(ctx context.Context, tx *sql.Tx, c citizenRow, purpose string, now time.Time) (challengeRow, error) {
	id, err := store.NewIDFrom(s.Rand, "otp_")
	if err != nil {
		return challengeRow{}, err
	}
	return s.sendSMSChallengeID(ctx, tx, c, purpose, id, now)
}

// sendSMSChallengeID is sendSMSChallenge with the challenge id chosen.
func (s *Service) sendSMSChallengeID(ctx context.Context, tx *sql.Tx, c citizenRow, purpose, id string, now time.Time) (challengeRow, error) {
	code, err := newCode(s.Rand)
	if err != nil {
		return challengeRow{}, err
	}
	ch := challengeRow{
		ID: id, CitizenID: c.ID, Purpose: purpose, Method: MethodSMS, CodeMAC: s.codeMAC(id, code),
		PhoneNumber: c.PhoneNumber, ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now,
	}
	if err := insertChallenge(ctx, tx, ch); err != nil {
		return challengeRow{}, fmt.Errorf("auth: store OTP challenge: %w", err)
	}
	sms := challengeSMS(ch, OTPTemplateID, c.PreferredLanguage, ch.ExpiresAt)
	sms.Personalisation = map[string]string{"code": code}
	return ch, s.command(ctx, tx, SubjectOTPSMS, typeSendSMS, sms)
}

// challengeSMS is the SendSms command that carries challenge ch to its
// phone. The challenge id is the command id, so a redelivered command
// sends one SMS, and the reference, so delivery reports find the
// challenge.
func challengeSMS(ch challengeRow, templateID, lang string, expire time.Time) *eventsv1.SendSms {
	return &eventsv1.SendSms{
		CommandId:   ch.ID,
		ClientId:    "tamkeen-auth",
		PhoneNumber: ch.PhoneNumber,
		TemplateId:  templateID,
		Reference:   ch.ID,
		Language:    lang,
		ExpireTime:  timestamppb.New(expire),
	}
}

// CreateOTPChallenge starts a one-time-code check for the calling citizen:
// "sms" sends a code to the verified phone (within the cool-down and
// hourly cap), "totp" asks for an authenticator code, and
// "phone_verification" re-sends the phone verification code.
func (s *Service) CreateOTPChallenge(ctx context.Context, caller Principal, method string) (Challenge, error) {
	if !caller.IsCitizen() {
		return Challenge{}, ErrCitizenTokenRequired
	}
	switch method {
	case MethodSMS, MethodTOTP, MethodPhoneVerification:
	default:
		return Challenge{}, &rpcerr.FieldError{Field: "method", Reason: `must be "sms" or "totp"`, Code: "method.unsupported"}
	}
	now := s.Now().UTC()
	var ch challengeRow
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		c, err := selectCitizen(ctx, tx, caller.Subject)
		if store.IsNoRows(err) {
			return ErrCitizenNotFound
		}
		if err != nil {
			return fmt.Errorf("auth: OTP challenge: %w", err)
		}
		// A token of an ended session cannot open a new one.
		if err := s.requireSession(ctx, tx, caller); err != nil {
			return err
		}
		switch method {
		case MethodTOTP:
			if !c.TOTPEnabled {
				return ErrTOTPNotEnabled
			}
			id, err := store.NewIDFrom(s.Rand, "otp_")
			if err != nil {
				return err
			}
			ch = challengeRow{ID: id, CitizenID: c.ID, Purpose: purposeStepUp, Method: MethodTOTP,
				ExpiresAt: now.Add(s.cfg.OTPTTL), CreatedAt: now}
			return insertChallenge(ctx, tx, ch)
		case MethodSMS:
			if !c.PhoneVerified {
				return ErrPhoneNotVerified
			}
		case MethodPhoneVerification:
			if c.PhoneVerified {
				return ErrPhoneAlreadyVerified
			}
		}
		if err := s.checkSMSLimits(ctx, tx, c.PhoneNumber, now); err != nil {
			return err
		}
		purpose := purposeStepUp
		if method == MethodPhoneVerification {
			purpose = purposePhone
		}
		ch, err = s.sendSMSChallenge(ctx, tx, c, purpose, now)
		return err
	})
	if err != nil {
		return Challenge{}, err
	}
	out := Challenge{ID: ch.ID, Method: method, ExpiresIn: s.cfg.OTPTTL}
	if ch.Method == MethodSMS {
		s.noteOTPSent(ch)
		s.Relay.Kick()
		out.ResendAfter = s.cfg.SMSResendCooldown
	}
	return out, nil
}

// VerifyOTPChallenge checks a code against a challenge.
//
// A step-up challenge must be answered by the citizen it was made for
// (caller from the bearer token); a phone-verification challenge is known
// by its id alone (registration has no token yet). The try is counted
// before the code is checked, so at most otp-max-attempts codes are ever
// compared; a correct code consumes the challenge exactly once (UPDATE …
// WHERE used_at IS NULL), even under concurrent answers. A TOTP challenge
// also accepts an unused recovery code. Success returns a loa2 token pair
// (amr pwd+sms or pwd+otp, auth_time now) or marks the phone verified.
func (s *Service) VerifyOTPChallenge(ctx context.Context, caller Principal, id, code string) (Verified, error) {
	code = strings.TrimSpace(i18n.ASCIIDigits(code))
	if code == "" || len(code) > 64 {
		return Verified{}, &rpcerr.FieldError{Field: "code", Reason: "is required", Code: "code.required"}
	}
	ch, err := selectChallenge(ctx, s.DB, id)
	if store.IsNoRows(err) {
		return Verified{}, ErrChallengeNotFound
	}
	if err != nil {
		return Verified{}, fmt.Errorf("auth: OTP challenge: %w", err)
	}
	switch ch.Purpose {
	case purposeStepUp:
		if !caller.IsCitizen() || caller.Subject != ch.CitizenID {
			return Verified{}, ErrChallengeNotFound
		}
	case purposePhone, purposeDecoy:
		if caller.IsCitizen() && caller.Subject != ch.CitizenID {
			return Verified{}, ErrChallengeNotFound
		}
	default:
		// Unlock challenges have their own route; notices are no
		// challenges.
		return Verified{}, ErrChallengeNotFound
	}
	if caller.IsCitizen() {
		// A token of an ended session cannot open a new one.
		if err := s.requireSession(ctx, s.DB, caller); err != nil {
			return Verified{}, err
		}
	}
	var key *signingKey
	if ch.Purpose == purposeStepUp {
		if key, err = s.ring.signer(ctx); err != nil {
			return Verified{}, err
		}
	}
	now := s.Now().UTC()
	counted, err := countAttempt(ctx, s.DB, id, s.cfg.OTPMaxAttempts, now)
	if err != nil {
		return Verified{}, fmt.Errorf("auth: OTP attempt: %w", err)
	}
	if !counted {
		return Verified{}, s.otpClosed(ch, now)
	}
	left := s.cfg.OTPMaxAttempts - ch.Attempts - 1

	var (
		method   = ch.Method
		step     int64
		recovery string
	)
	switch ch.Method {
	case MethodSMS:
		// A decoy's code_mac is empty: nothing matches it.
		if !macEqual(s.codeMAC(id, code), ch.CodeMAC) || ch.CodeMAC == "" {
			return Verified{}, s.wrongCode(left)
		}
	case MethodTOTP:
		c, err := selectCitizen(ctx, s.DB, ch.CitizenID)
		if err != nil {
			return Verified{}, fmt.Errorf("auth: OTP challenge: %w", err)
		}
		if isTOTPCode(code) {
			secret, err := s.totpSecret(c)
			if err != nil {
				return Verified{}, err
			}
			var ok bool
			if step, ok = matchTOTP(secret, code, now); !ok {
				return Verified{}, s.wrongCode(left)
			}
			if step <= c.TOTPLastStep {
				s.noteOTP(otpWrongCode)
				return Verified{}, &rpcerr.FieldError{Field: "code", Reason: "was already used: wait for the next code", Code: "code.reused"}
			}
		} else {
			recovery = s.recoveryMAC(ch.CitizenID, code)
			method = "recovery_code"
		}
	default:
		return Verified{}, fmt.Errorf("auth: challenge %s has unknown method %q", id, ch.Method)
	}

	var out Verified
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := consumeChallenge(ctx, tx, id, now)
		if err != nil {
			return fmt.Errorf("auth: consume OTP challenge: %w", err)
		}
		if !ok || ch.Purpose == purposeDecoy {
			return ErrChallengeClosed
		}
		if caller.IsCitizen() {
			// Hold the session until commit: a logout racing this
			// step-up either waits and revokes the new family too, or
			// has ended the session already.
			if alive, err := lockSession(ctx, tx, caller.SessionID); err != nil {
				return fmt.Errorf("auth: session: %w", err)
			} else if !alive {
				return ErrSessionEnded
			}
		}
		switch {
		case step > 0:
			if ok, err := advanceTOTPStep(ctx, tx, ch.CitizenID, step); err != nil {
				return fmt.Errorf("auth: TOTP step: %w", err)
			} else if !ok {
				return errTOTPReplay
			}
		case recovery != "":
			if ok, err := useRecoveryCode(ctx, tx, ch.CitizenID, recovery, now); err != nil {
				return fmt.Errorf("auth: recovery code: %w", err)
			} else if !ok {
				return errWrongRecovery
			}
		}
		if ch.Purpose == purposePhone {
			ok, err := markPhoneVerified(ctx, tx, ch.CitizenID, ch.PhoneNumber, now)
			if err != nil {
				return fmt.Errorf("auth: verify phone: %w", err)
			}
			if !ok {
				// The number changed since the code was sent.
				return ErrChallengeClosed
			}
			out = Verified{PhoneVerified: true}
			return s.emit(ctx, tx, EventCitizenPhoneVerified, ch.CitizenID, &eventsv1.CitizenPhoneVerified{
				CitizenId: ch.CitizenID, Time: timestamppb.New(now), PhoneNumber: ch.PhoneNumber,
			})
		}
		amr := "otp"
		if ch.Method == MethodSMS {
			amr = "sms"
		}
		// The step-up's family belongs to the caller's session: ending
		// the session ends it too.
		f := familyRow{SessionID: caller.SessionID, CitizenID: ch.CitizenID, ACR: ACRStepUp, AMR: []string{"pwd", amr}, AuthTime: now, AZP: caller.AZP}
		pair, err := s.startFamily(ctx, tx, key, f, now)
		if err != nil {
			return err
		}
		out = Verified{Tokens: &pair}
		return s.emit(ctx, tx, EventStepUpSucceeded, ch.CitizenID, &eventsv1.StepUpSucceeded{
			CitizenId: ch.CitizenID, Method: method, Acr: ACRStepUp, AuthTime: timestamppb.New(now),
		})
	})
	switch {
	case errors.Is(err, errTOTPReplay):
		s.noteOTP(otpWrongCode)
		return Verified{}, &rpcerr.FieldError{Field: "code", Reason: "was already used: wait for the next code", Code: "code.reused"}
	case errors.Is(err, errWrongRecovery):
		return Verified{}, s.wrongCode(left)
	case errors.Is(err, ErrChallengeClosed):
		s.notConsumed(ch)
		return Verified{}, err
	case err != nil:
		return Verified{}, err
	}
	s.noteOTP(otpSuccess)
	s.Relay.Kick()
	return out, nil
}

// Inner errors of VerifyOTPChallenge that roll its transaction back.
var (
	errTOTPReplay    = errors.New("auth: TOTP code replayed")
	errWrongRecovery = errors.New("auth: recovery code unknown or used")
)
