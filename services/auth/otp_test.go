package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// TestSMSStepUp: register, verify the phone with the code that reached
// JetStream, log in at loa1, step up by SMS and get a loa2 token.
func TestSMSStepUp(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "citizen-app", Name: "App", Secret: "0123456789abcdef"}))
	reg := registration("12345678")
	r, err := e.srv.RegisterCitizen(ctx, &authv1.RegisterCitizenRequest{NationalId: reg.NationalID, PhoneNumber: reg.PhoneNumber,
		Password: reg.Password, GivenName: reg.GivenName, FamilyName: reg.FamilyName, PreferredLanguage: "en"})
	must(t, err, "RegisterCitizen")
	sms := e.nextSMS(t)
	if sms.GetLanguage() != "en" {
		t.Errorf("SMS language = %q; want en", sms.GetLanguage())
	}

	// Before the phone is verified, SMS step-up is refused.
	pair, err := e.svc.Login(ctx, LoginRequest{NationalID: reg.NationalID, Password: reg.Password, ClientID: "citizen-app"})
	must(t, err, "Login")
	loa1 := e.principal(t, pair.AccessToken)
	if loa1.ACR != ACRPassword || loa1.AZP != "citizen-app" || !slices.Equal(loa1.AMR, []string{"pwd"}) {
		t.Errorf("loa1 principal = %+v", loa1)
	}
	if _, err := e.svc.CreateOTPChallenge(ctx, loa1, MethodSMS); !errors.Is(err, ErrPhoneNotVerified) {
		t.Fatalf("SMS step-up before verification = %v; want ErrPhoneNotVerified", err)
	}

	// The phone-verification challenge needs no token.
	v, err := e.srv.VerifyOtpChallenge(ctx, &authv1.VerifyOtpChallengeRequest{
		ChallengeId: r.GetPhoneVerification().GetChallengeId(), Code: sms.GetPersonalisation()["code"]})
	if err != nil || !v.GetPhoneVerified() || v.GetAccessToken() != "" {
		t.Fatalf("verify phone = %v, %v; want phone_verified and no tokens", v, err)
	}

	e.clock.Advance(time.Minute)
	ch, err := e.srv.CreateOtpChallenge(bearer(pair.AccessToken), &authv1.CreateOtpChallengeRequest{Method: "sms"})
	if err != nil || ch.GetMethod() != "sms" || ch.GetExpiresIn() != 300 || ch.GetResendAfter() != 60 {
		t.Fatalf("CreateOtpChallenge = %v, %v", ch, err)
	}
	sms = e.nextSMS(t)
	if sms.GetPhoneNumber() != reg.PhoneNumber || sms.GetCommandId() != ch.GetChallengeId() {
		t.Errorf("step-up SMS = %v", sms)
	}
	// Another citizen's token cannot answer it.
	_, otherPair := e.citizen(t, "23456789")
	if _, err := e.srv.VerifyOtpChallenge(bearer(otherPair.AccessToken), &authv1.VerifyOtpChallengeRequest{
		ChallengeId: ch.GetChallengeId(), Code: sms.GetPersonalisation()["code"]}); status.Code(err) != codes.NotFound {
		t.Errorf("verify by another citizen = %v; want NotFound", err)
	}
	e.clock.Advance(10 * time.Second)
	resp, err := e.srv.VerifyOtpChallenge(bearer(pair.AccessToken), &authv1.VerifyOtpChallengeRequest{
		ChallengeId: ch.GetChallengeId(), Code: sms.GetPersonalisation()["code"]})
	if err != nil || resp.GetAcr() != "loa2" || resp.GetRefreshToken() == "" || resp.GetTokenType() != "Bearer" {
		t.Fatalf("VerifyOtpChallenge = %v, %v; want a loa2 pair", resp, err)
	}
	loa2 := e.principal(t, resp.GetAccessToken())
	if loa2.ACR != ACRStepUp || !slices.Equal(loa2.AMR, []string{"pwd", "sms"}) || !loa2.AuthTime.Equal(e.clock.Now()) ||
		loa2.AZP != "citizen-app" || loa2.Subject != loa1.Subject {
		t.Errorf("loa2 principal = %+v; want acr loa2, amr [pwd sms], auth_time now, same azp and subject", loa2)
	}
	// Single use.
	if _, err := e.svc.VerifyOTPChallenge(ctx, loa1, ch.GetChallengeId(), sms.GetPersonalisation()["code"]); !errors.Is(err, ErrChallengeClosed) {
		t.Errorf("second use = %v; want ErrChallengeClosed", err)
	}
}

func TestOTPWrongCodesKillChallenge(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")
	p := e.principal(t, pair.AccessToken)
	e.clock.Advance(time.Minute)
	ch, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	must(t, err)
	code := e.nextSMS(t).GetPersonalisation()["code"]
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	for i := 1; i <= 5; i++ {
		_, err := e.srv.VerifyOtpChallenge(bearer(pair.AccessToken), &authv1.VerifyOtpChallengeRequest{ChallengeId: ch.ID, Code: wrong})
		if status.Code(err) != codes.InvalidArgument || len(rpcerr.FieldViolations(err)) != 1 {
			t.Fatalf("wrong code %d = %v; want InvalidArgument on code", i, err)
		}
	}
	// The right code no longer helps: the challenge is dead.
	_, err = e.srv.VerifyOtpChallenge(bearer(pair.AccessToken), &authv1.VerifyOtpChallengeRequest{ChallengeId: ch.ID, Code: code})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("right code after 5 wrong = %v; want FailedPrecondition", err)
	}
	var attempts int
	must(t, e.db.QueryRowContext(ctx, `SELECT attempts FROM otp_challenges WHERE id = $1`, ch.ID).Scan(&attempts))
	if attempts != 5 {
		t.Errorf("attempts = %d; want 5", attempts)
	}
	// An expired challenge refuses the right code too.
	e.clock.Advance(time.Minute)
	ch2, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	must(t, err)
	code2 := e.nextSMS(t).GetPersonalisation()["code"]
	e.clock.Advance(5*time.Minute + time.Second)
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, ch2.ID, code2); !errors.Is(err, ErrChallengeClosed) {
		t.Errorf("expired challenge = %v; want ErrChallengeClosed", err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestOTPSingleUseUnderConcurrency: 16 verifiers with the right code race
// on PostgreSQL; exactly one gets tokens.
func TestOTPSingleUseUnderConcurrency(t *testing.T) {
	e := newEnv(t, storetest.Postgres(t), func(c *Config) { c.OTPMaxAttempts = 20 })
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")
	p := e.principal(t, pair.AccessToken)
	e.clock.Advance(time.Minute)
	ch, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	must(t, err)
	code := e.nextSMS(t).GetPersonalisation()["code"]

	const n = 16
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		wins     int
		closed   int
		unwanted []error
	)
	for range n {
		wg.Go(func() {
			<-start
			v, err := e.svc.VerifyOTPChallenge(ctx, p, ch.ID, code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && v.Tokens != nil:
				wins++
			case errors.Is(err, ErrChallengeClosed):
				closed++
			default:
				unwanted = append(unwanted, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 || closed != n-1 || len(unwanted) > 0 {
		t.Fatalf("%d wins, %d refused as closed, other errors %v; want exactly 1 win", wins, closed, unwanted)
	}
	var families int
	must(t, e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM token_families WHERE acr = 'loa2'`).Scan(&families))
	if families != 1 {
		t.Errorf("%d loa2 token families; want 1", families)
	}
}

func TestSMSResendLimits(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678") // the registration SMS is the first of the hour
	p := e.principal(t, pair.AccessToken)

	_, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	wantRetry(t, err, time.Minute) // cool-down after the registration SMS
	e.clock.Advance(30 * time.Second)
	_, err = e.srv.CreateOtpChallenge(bearer(pair.AccessToken), &authv1.CreateOtpChallengeRequest{Method: "sms"})
	if d, ok := rpcerr.RetryAfter(err); status.Code(err) != codes.ResourceExhausted || !ok || d != 30*time.Second {
		t.Fatalf("resend within the cool-down = %v (retry %v); want ResourceExhausted, retry 30 s", err, d)
	}
	// Four more, a minute apart, reach the hourly cap of five.
	for i := range 4 {
		e.clock.Advance(time.Minute)
		if _, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS); err != nil {
			t.Fatalf("SMS %d = %v", i+2, err)
		}
	}
	e.clock.Advance(time.Minute)
	_, err = e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
	// The first SMS went 5.5 minutes ago; the cap frees up an hour after it.
	wantRetry(t, err, time.Hour-5*time.Minute-30*time.Second)
	var n int
	must(t, e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM otp_challenges WHERE method = 'sms'`).Scan(&n))
	if n != 5 {
		t.Errorf("%d SMS challenges stored; want 5", n)
	}
	e.clock.Advance(time.Hour)
	if _, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS); err != nil {
		t.Errorf("SMS an hour later = %v; want success", err)
	}
}

func TestCreateOTPChallengeRefuses(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")
	p := e.principal(t, pair.AccessToken)
	for name, tc := range map[string]struct {
		p      Principal
		method string
		want   error
	}{
		"client token":               {Principal{Subject: "moh", ClientID: "moh"}, MethodSMS, ErrCitizenTokenRequired},
		"totp not enabled":           {p, MethodTOTP, ErrTOTPNotEnabled},
		"phone verified already":     {p, MethodPhoneVerification, ErrPhoneAlreadyVerified},
		"unknown method":             {p, "email", nil},
		"citizen deleted or unknown": {Principal{Subject: "cit_x", ACR: ACRPassword}, MethodSMS, ErrCitizenNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.CreateOTPChallenge(ctx, tc.p, tc.method)
			if tc.want == nil {
				var fe *rpcerr.FieldError
				if !errors.As(err, &fe) || fe.Field != "method" {
					t.Fatalf("CreateOTPChallenge = %v; want a field error on method", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateOTPChallenge = %v; want %v", err, tc.want)
			}
		})
	}
	if _, err := e.srv.CreateOtpChallenge(ctx, &authv1.CreateOtpChallengeRequest{Method: "sms"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("CreateOtpChallenge without a token = %v; want Unauthenticated", err)
	}
}

func TestPruneOutboxDropsPublishedCodes(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	e.citizen(t, "12345678") // publishes the SMS command
	e.clock.Advance(2 * time.Minute)
	n, err := e.svc.PruneOutbox(ctx)
	if err != nil || n == 0 {
		t.Fatalf("PruneOutbox = %d, %v; want published rows deleted", n, err)
	}
	var left int
	must(t, e.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = $1 AND published_at IS NOT NULL`, SubjectOTPSMS).Scan(&left))
	if left != 0 {
		t.Errorf("%d published SMS commands left after pruning", left)
	}
}
