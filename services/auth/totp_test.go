package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// oathtool computes the TOTP code of a base32 secret at t with the
// oathtool binary (Debian package oathtool), an implementation that
// shares no code with ours.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		t.Fatalf("oathtool is not installed (apt-get install oathtool; deploy/local/ensure-services.sh does it): %v", err)
	}
	out, err := exec.Command(path, "--totp", "--base32", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestTOTPWithOathtool(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an outside tool")
	}
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")

	// Enrolment needs a fresh loa2 token.
	if _, err := e.srv.EnrollTotp(bearer(pair.AccessToken), &authv1.EnrollTotpRequest{}); status.Code(err) != codes.Unauthenticated ||
		rpcerr.Reason(err) != "insufficient_user_authentication" {
		t.Fatalf("EnrollTotp(loa1) = %v; want Unauthenticated insufficient_user_authentication", err)
	}
	loa2 := e.stepUpSMS(t, pair)
	enr, err := e.srv.EnrollTotp(bearer(loa2.AccessToken), &authv1.EnrollTotpRequest{})
	if err != nil {
		t.Fatalf("EnrollTotp = %v", err)
	}
	u, err := url.Parse(enr.GetOtpauthUri())
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Query().Get("secret") != enr.GetSecret() || u.Query().Get("issuer") != "Tamkeen" {
		t.Errorf("otpauth URI = %q", enr.GetOtpauthUri())
	}
	if img, err := png.Decode(bytes.NewReader(enr.GetQrPng())); err != nil || img.Bounds().Dx() < 200 {
		t.Errorf("QR PNG does not decode: %v", err)
	}
	secret := enr.GetSecret()

	wrong := "000000"
	for wrong == oathtool(t, secret, e.clock.Now().Add(-30*time.Second)) || wrong == oathtool(t, secret, e.clock.Now()) ||
		wrong == oathtool(t, secret, e.clock.Now().Add(30*time.Second)) {
		wrong = fmt.Sprintf("%06d", atoi(wrong)+1)
	}
	if _, err := e.svc.ConfirmTotp(ctx, e.principal(t, loa2.AccessToken), wrong); err == nil {
		t.Fatalf("ConfirmTotp(wrong code) = nil; want an error")
	}
	conf, err := e.srv.ConfirmTotp(bearer(loa2.AccessToken), &authv1.ConfirmTotpRequest{Code: oathtool(t, secret, e.clock.Now())})
	if err != nil || len(conf.GetRecoveryCodes()) != 10 {
		t.Fatalf("ConfirmTotp = %v, %v; want 10 recovery codes", conf, err)
	}
	recovery := conf.GetRecoveryCodes()

	// A TOTP step-up with the code of the next 30-second step.
	p := e.principal(t, pair.AccessToken)
	e.clock.Advance(30 * time.Second)
	code := oathtool(t, secret, e.clock.Now())
	ch, err := e.svc.CreateOTPChallenge(ctx, p, MethodTOTP)
	must(t, err, "CreateOTPChallenge(totp)")
	v, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, code)
	if err != nil || v.Tokens == nil {
		t.Fatalf("VerifyOTPChallenge(oathtool code) = %+v, %v; want tokens", v, err)
	}
	if got := e.principal(t, v.Tokens.AccessToken); got.ACR != ACRStepUp || strings.Join(got.AMR, " ") != "pwd otp" {
		t.Errorf("TOTP step-up token = %+v; want loa2 with amr [pwd otp]", got)
	}

	// The same code again, within its window, is refused.
	ch, err = e.svc.CreateOTPChallenge(ctx, p, MethodTOTP)
	must(t, err)
	_, err = e.srv.VerifyOtpChallenge(bearer(pair.AccessToken), &authv1.VerifyOtpChallengeRequest{ChallengeId: ch.ID, Code: code})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("replayed TOTP code = %v; want InvalidArgument already used", err)
	}
	// ... and so is the code of the previous step (skew must not reopen it).
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, oathtool(t, secret, e.clock.Now().Add(-30*time.Second))); err == nil {
		t.Fatal("the code of an earlier step was accepted")
	}
	// One step later (within the ±1 skew) the next code works on the same challenge.
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, oathtool(t, secret, e.clock.Now().Add(30*time.Second))); err != nil {
		t.Errorf("code of the next step (skew +1) = %v; want accepted", err)
	}

	// A recovery code works once, in any case and without its hyphen.
	ch, err = e.svc.CreateOTPChallenge(ctx, p, MethodTOTP)
	must(t, err)
	v, err = e.svc.VerifyOTPChallenge(ctx, p, ch.ID, strings.ToUpper(strings.ReplaceAll(recovery[3], "-", "")))
	if err != nil || v.Tokens == nil {
		t.Fatalf("recovery code = %+v, %v; want tokens", v, err)
	}
	ch, err = e.svc.CreateOTPChallenge(ctx, p, MethodTOTP)
	must(t, err)
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, recovery[3]); err == nil {
		t.Error("a used recovery code was accepted again")
	}
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, recovery[4]); err != nil {
		t.Errorf("another recovery code = %v; want accepted", err)
	}

	// Enrolled: enrolling again is refused; a stale loa2 token is refused.
	if _, err := e.svc.EnrollTotp(ctx, e.principal(t, v.Tokens.AccessToken)); !errors.Is(err, ErrTOTPEnabled) {
		t.Errorf("EnrollTotp when enabled = %v; want ErrTOTPEnabled", err)
	}
	stale := e.principal(t, v.Tokens.AccessToken)
	e.clock.Advance(301 * time.Second)
	if _, err := e.svc.EnrollTotp(ctx, stale); !errors.Is(err, ErrStepUpRequired) {
		t.Errorf("EnrollTotp with a loa2 older than 300 s = %v; want ErrStepUpRequired", err)
	}
}

func TestMatchTOTP(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXP"
	at := time.Unix(1_700_000_000, 0)
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		code := generate(t, secret, at.Add(d))
		step, ok := matchTOTP(secret, code, at)
		if !ok || step != at.Add(d).Unix()/30 {
			t.Errorf("code of offset %v: step %d, %v; want step %d", d, step, ok, at.Add(d).Unix()/30)
		}
	}
	for _, d := range []time.Duration{-60 * time.Second, 60 * time.Second} {
		code := generate(t, secret, at.Add(d))
		if same := generate(t, secret, at); code == same {
			continue
		}
		if _, ok := matchTOTP(secret, code, at); ok {
			t.Errorf("code of offset %v accepted; want only ±1 step", d)
		}
	}
}

// generate is pquerna/otp's code for secret at t.
func generate(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	must(t, err, "generate")
	return code
}
