package auth

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
)

// TOTP parameters: RFC 6238 defaults, which every authenticator app
// supports.
const (
	totpPeriod     = 30
	totpDigits     = 6
	totpSecretLen  = 20 // 160 bits, RFC 4226's recommendation
	totpIssuer     = "Tamkeen"
	recoveryCodes  = 10
	recoveryLength = 10 // base32 characters: 50 bits each
)

// Errors of TOTP enrolment.
var (
	// ErrStepUpRequired: the call needs a loa2 authentication no older
	// than step-up-max-age (RFC 9470's insufficient_user_authentication).
	ErrStepUpRequired = fmt.Errorf("a recent loa2 authentication is required: %w", rpcerr.ErrUnauthenticated)
	// ErrTOTPEnabled: TOTP is already enabled; there is nothing to enrol.
	ErrTOTPEnabled = fmt.Errorf("TOTP is already enabled for this account: %w", rpcerr.ErrFailedPrecondition)
	// ErrTOTPNotEnrolled: confirm needs an enrolment first.
	ErrTOTPNotEnrolled = fmt.Errorf("start TOTP enrolment first: %w", rpcerr.ErrFailedPrecondition)
)

// TOTPEnrollment is what an authenticator app needs.
type TOTPEnrollment struct {
	// Secret is base32 (RFC 4648, no padding), for typing by hand.
	Secret string
	// URI is the otpauth:// URI.
	URI string
	// QRPNG is the URI as a QR code, PNG.
	QRPNG []byte
}

// requireFreshStepUp checks that the caller is a citizen at loa2 whose
// authentication is at most step-up-max-age old. The gateway checks the
// same; the service does not rely on it.
func (s *Service) requireFreshStepUp(caller Principal) error {
	if !caller.IsCitizen() {
		return ErrCitizenTokenRequired
	}
	if caller.ACR != ACRStepUp || caller.AuthTime.IsZero() || s.Now().Sub(caller.AuthTime) > s.cfg.StepUpMaxAge {
		return ErrStepUpRequired
	}
	return nil
}

// totpSecret decrypts a citizen's TOTP secret (base32).
func (s *Service) totpSecret(c citizenRow) (string, error) {
	if c.TOTPSecretEnc == "" {
		return "", ErrTOTPNotEnrolled
	}
	b, err := s.keys.open(c.TOTPSecretEnc, "citizens.totp_secret:"+c.ID)
	if err != nil {
		return "", fmt.Errorf("auth: TOTP secret of %s: %w", c.ID, err)
	}
	return string(b), nil
}

// EnrollTotp starts TOTP enrolment for the calling citizen (fresh loa2
// needed): a new secret, replacing any unconfirmed one, stored encrypted.
// TOTP is enabled only by ConfirmTotp.
func (s *Service) EnrollTotp(ctx context.Context, caller Principal) (TOTPEnrollment, error) {
	if err := s.requireFreshStepUp(caller); err != nil {
		return TOTPEnrollment{}, err
	}
	if err := s.requireSession(ctx, s.DB, caller); err != nil {
		return TOTPEnrollment{}, err
	}
	raw := make([]byte, totpSecretLen)
	if _, err := io.ReadFull(s.Rand, raw); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("auth: TOTP secret: %w", err)
	}
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	sealed, err := s.keys.seal(s.Rand, []byte(secret), "citizens.totp_secret:"+caller.Subject)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	c, err := selectCitizen(ctx, s.DB, caller.Subject)
	if store.IsNoRows(err) {
		return TOTPEnrollment{}, ErrCitizenNotFound
	}
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("auth: enrol TOTP: %w", err)
	}
	if c.TOTPEnabled {
		return TOTPEnrollment{}, ErrTOTPEnabled
	}
	ok, err := updateTOTPSecret(ctx, s.DB, caller.Subject, sealed, s.Now().UTC())
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("auth: enrol TOTP: %w", err)
	}
	if !ok {
		return TOTPEnrollment{}, ErrTOTPEnabled
	}
	uri := totpURI(caller.Subject, secret)
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("auth: TOTP QR code: %w", err)
	}
	return TOTPEnrollment{Secret: secret, URI: uri, QRPNG: png}, nil
}

// totpURI is the Key URI Format of Google Authenticator, which every app
// reads: otpauth://totp/Tamkeen:<account>?secret=…&issuer=Tamkeen&….
// The account is the citizen id, never the national ID.
func totpURI(account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", totpIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + url.PathEscape(totpIssuer+":"+account) + "?" + v.Encode()
}

// ConfirmTotp enables TOTP for the calling citizen (fresh loa2 needed)
// once code shows the app holds the enrolment secret, and returns 10
// single-use recovery codes (shown once; only their HMACs are stored).
func (s *Service) ConfirmTotp(ctx context.Context, caller Principal, code string) ([]string, error) {
	if err := s.requireFreshStepUp(caller); err != nil {
		return nil, err
	}
	if err := s.requireSession(ctx, s.DB, caller); err != nil {
		return nil, err
	}
	code = strings.TrimSpace(i18n.ASCIIDigits(code))
	c, err := selectCitizen(ctx, s.DB, caller.Subject)
	if store.IsNoRows(err) {
		return nil, ErrCitizenNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("auth: confirm TOTP: %w", err)
	}
	if c.TOTPEnabled {
		return nil, ErrTOTPEnabled
	}
	secret, err := s.totpSecret(c)
	if err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	step, ok := matchTOTP(secret, code, now)
	if !isTOTPCode(code) || !ok {
		return nil, &rpcerr.FieldError{Field: "code", Reason: "does not match the enrolment secret: check the app's clock and try the current code", Code: "code.totp_mismatch"}
	}
	codes := make([]string, recoveryCodes)
	macs := make([]string, recoveryCodes)
	for i := range codes {
		if codes[i], err = newRecoveryCode(s.Rand); err != nil {
			return nil, err
		}
		macs[i] = s.recoveryMAC(c.ID, codes[i])
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := enableTOTP(ctx, tx, c.ID, step, now)
		if err != nil {
			return fmt.Errorf("auth: confirm TOTP: %w", err)
		}
		if !ok {
			return ErrTOTPEnabled
		}
		return replaceRecoveryCodes(ctx, tx, c.ID, macs)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// isTOTPCode reports whether code has the shape of a TOTP code.
func isTOTPCode(code string) bool {
	if len(code) != totpDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// matchTOTP compares code with the codes of the steps before, at and
// after now (±1 step of clock skew), all three in constant time, and
// returns the step that matched.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	var step int64
	opts := totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for d := -1; d <= 1; d++ {
		t := now.Add(time.Duration(d*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, t, opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step = t.Unix() / totpPeriod
		}
	}
	return step, step > 0
}

// newRecoveryCode returns a code like "k7m2q-x9d4w": 50 random bits in
// lower-case base32, split for reading.
func newRecoveryCode(rnd io.Reader) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("auth: recovery code: %w", err)
	}
	s := idEncoding.EncodeToString(b[:])[:recoveryLength]
	return s[:5] + "-" + s[5:], nil
}

// recoveryMAC is the stored form of a recovery code, as typed (case,
// spaces and hyphens do not matter).
func (s *Service) recoveryMAC(citizenID, code string) string {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
	return mac(s.keys.otp, "recovery:"+citizenID, norm)
}
