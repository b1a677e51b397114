package auth

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Login methods, the method label of tamkeen_auth_logins_total: the same
// password check reached two ways.
const (
	// loginMethodPassword is POST /v1/auth/login (the first-party apps).
	loginMethodPassword = "password"
	// loginMethodOIDC is the hosted sign-in page of the authorization
	// code flow.
	loginMethodOIDC = "oidc"
)

// Login outcomes, the outcome label of tamkeen_auth_logins_total.
const (
	loginSuccess        = "success"
	loginBadCredentials = "bad_credentials" // unknown national ID or wrong password
	loginLocked         = "locked"          // refused by a lock, or the failure that set one
	loginThrottled      = "throttled"       // the wait after a failure, or no free hashing slot
	loginInvalid        = "invalid_request" // a malformed national ID or an unknown client
	loginError          = "error"           // anything else (the database, the keys)
)

// OTP verification outcomes, the outcome label of
// tamkeen_auth_otp_verifications_total.
const (
	otpSuccess   = "success"
	otpWrongCode = "wrong_code" // the code does not match (a replayed TOTP step or recovery code too)
	otpExpired   = "expired"
	otpExhausted = "exhausted" // the challenge has had otp-max-attempts tries
	otpUsed      = "used"      // the challenge was already answered
)

// otpChannelSMS is the channel label of tamkeen_auth_otp_sends_total: the
// only channel that sends a code (an authenticator app sends nothing).
const otpChannelSMS = "sms"

func loginMethods() []string { return []string{loginMethodPassword, loginMethodOIDC} }

func loginOutcomes() []string {
	return []string{loginSuccess, loginBadCredentials, loginLocked, loginThrottled, loginInvalid, loginError}
}

func otpOutcomes() []string {
	return []string{otpSuccess, otpWrongCode, otpExpired, otpExhausted, otpUsed}
}

// metrics are the auth enabler's own instruments. Every label comes from
// the closed sets above; never a national ID, phone number, citizen or
// client id.
type metrics struct {
	logins           *prometheus.CounterVec
	lockouts         prometheus.Counter
	otpSends         *prometheus.CounterVec
	otpVerifications *prometheus.CounterVec
}

// newMetrics registers the instruments on reg (reusing those another
// instance registered there), every series present from the start at 0.
// A registration failure (another collector took a name) is logged and
// the service runs with instruments nobody scrapes.
func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	return telemetry.OrUnscraped(reg, log, "auth: metrics not registered", registerMetrics)
}

func registerMetrics(reg prometheus.Registerer) (*metrics, error) {
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		logins: in.CounterVec("tamkeen_auth_logins_total",
			"Password logins by method (password: the JSON API; oidc: the hosted sign-in page) and outcome (success, bad_credentials, locked, throttled, invalid_request, error).",
			[]string{"method", "outcome"}, loginMethods(), loginOutcomes()),
		lockouts: in.Counter("tamkeen_auth_lockouts_total",
			"Login locks set after repeated failures (of an account from one source, of an account, of a source); committed only."),
		otpSends: in.CounterVec("tamkeen_auth_otp_sends_total",
			"One-time codes sent (step-up, phone verification, unlock, password reset), by channel (sms); committed only.",
			[]string{"channel"}, []string{otpChannelSMS}),
		otpVerifications: in.CounterVec("tamkeen_auth_otp_verifications_total",
			"Answers to one-time-code challenges, by outcome (success, wrong_code, expired, exhausted, used).",
			[]string{"outcome"}, otpOutcomes()),
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// noteLogin counts one login by method with the outcome err gives.
func (s *Service) noteLogin(method string, err error) {
	s.metrics.logins.WithLabelValues(method, loginOutcome(err)).Inc()
}

// loginOutcome classifies the error of a login.
func loginOutcome(err error) string {
	var (
		retry *RetryError
		fe    *rpcerr.FieldError
	)
	switch {
	case err == nil:
		return loginSuccess
	case errors.Is(err, ErrInvalidCredentials):
		return loginBadCredentials
	case errors.As(err, &retry):
		if retry.Msg == msgAccountLocked || retry.Msg == msgSourceLocked {
			return loginLocked
		}
		return loginThrottled
	case errors.As(err, &fe):
		return loginInvalid
	}
	return loginError
}

// noteLockouts counts the locks a committed failed login set.
func (s *Service) noteLockouts(n int) { s.metrics.lockouts.Add(float64(n)) }

// noteOTPSent counts the code of challenge ch once its transaction has
// committed: an SMS challenge with a code (a decoy has none and sends
// nothing).
func (s *Service) noteOTPSent(ch challengeRow) {
	if ch.ID != "" && ch.Method == MethodSMS && ch.Purpose != purposeDecoy {
		s.metrics.otpSends.WithLabelValues(otpChannelSMS).Inc()
	}
}

// noteOTP counts one answer to a challenge.
func (s *Service) noteOTP(outcome string) { s.metrics.otpVerifications.WithLabelValues(outcome).Inc() }

// wrongCode is the error for a code that does not match, counted.
func (s *Service) wrongCode(left int) error {
	s.noteOTP(otpWrongCode)
	return wrongCode(left)
}

// otpClosed counts an answer to challenge ch whose try could not be
// counted, by why (as ch was read before the try), and returns
// ErrChallengeClosed.
func (s *Service) otpClosed(ch challengeRow, now time.Time) error {
	s.noteOTP(s.closedOutcome(ch, now))
	return ErrChallengeClosed
}

// closedOutcome is why a try at ch could not be counted.
func (s *Service) closedOutcome(ch challengeRow, now time.Time) string {
	switch {
	case ch.Used:
		return otpUsed
	case ch.Attempts >= s.cfg.OTPMaxAttempts:
		return otpExhausted
	case !now.Before(ch.ExpiresAt):
		return otpExpired
	}
	// Another answer took the last try or the challenge meanwhile.
	return otpUsed
}

// notConsumed counts an answer to ch whose code matched but that did not
// consume the challenge: a decoy (no code answers it, as a wrong one) or
// a concurrent answer that consumed it first.
func (s *Service) notConsumed(ch challengeRow) {
	if ch.Purpose == purposeDecoy {
		s.noteOTP(otpWrongCode)
		return
	}
	s.noteOTP(otpUsed)
}

// noteFailedAnswer counts a refused answer of the flows that check their
// challenge themselves (unlock, password reset): found says whether ch
// is the challenge of the flow (unknown ids are not counted), counted
// whether the try was counted (else the challenge was closed).
func (s *Service) noteFailedAnswer(ch challengeRow, found, counted bool, now time.Time) {
	switch {
	case !found:
	case !counted:
		s.noteOTP(s.closedOutcome(ch, now))
	default:
		s.noteOTP(otpWrongCode)
	}
}
