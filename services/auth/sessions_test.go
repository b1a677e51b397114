package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// sessionRevocations returns the session_revoked events in the outbox.
func sessionRevocations(t *testing.T, db *store.DB) []*eventsv1.SessionRevoked {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT payload FROM outbox WHERE subject = $1 ORDER BY seq`, SubjectSessionRevoked)
	must(t, err, "outbox")
	defer rows.Close()
	var out []*eventsv1.SessionRevoked
	for rows.Next() {
		var payload []byte
		must(t, rows.Scan(&payload))
		var sr eventsv1.SessionRevoked
		must(t, proto.Unmarshal(payload, &sr), "unmarshal SessionRevoked")
		out = append(out, &sr)
	}
	return out
}

// TestSessionsEnd: access tokens carry the session id (sid); logout and
// refresh-token reuse end the session (every family of it, step-ups'
// included) and announce it; a token of an ended session can no longer
// step up, answer a step-up or enrol TOTP.
func TestSessionsEnd(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		_, login := e.citizen(t, "12345678")
		p := e.principal(t, login.AccessToken)
		if !strings.HasPrefix(p.SessionID, "rtf_") {
			t.Fatalf("sid = %q; want the session's id", p.SessionID)
		}
		up := e.stepUpSMS(t, login)
		if got := e.principal(t, up.AccessToken).SessionID; got != p.SessionID {
			t.Fatalf("step-up sid = %q; want the login's %q", got, p.SessionID)
		}
		// A challenge opened before the logout cannot be answered after it.
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		pending, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
		must(t, err, "CreateOTPChallenge")
		code := e.nextSMS(t).GetPersonalisation()["code"]

		must(t, e.svc.Logout(ctx, login.RefreshToken), "Logout")
		if _, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS); !errors.Is(err, ErrSessionEnded) {
			t.Errorf("CreateOTPChallenge after logout = %v; want ErrSessionEnded", err)
		}
		if _, err := e.svc.VerifyOTPChallenge(ctx, p, pending.ID, code); !errors.Is(err, ErrSessionEnded) {
			t.Errorf("VerifyOTPChallenge after logout = %v; want ErrSessionEnded", err)
		}
		_, err = e.srv.CreateOtpChallenge(bearer(login.AccessToken), &authv1.CreateOtpChallengeRequest{Method: MethodSMS})
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(status.Convert(err).Message(), "session") {
			t.Errorf("gRPC CreateOtpChallenge after logout = %v; want Unauthenticated naming the session", err)
		}
		// The step-up's family went with the session.
		if _, err := e.svc.Refresh(ctx, up.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Errorf("Refresh(step-up family) after logout = %v; want ErrInvalidGrant", err)
		}
		if _, err := e.svc.EnrollTotp(ctx, e.principal(t, up.AccessToken)); !errors.Is(err, ErrSessionEnded) {
			t.Errorf("EnrollTotp after logout = %v; want ErrSessionEnded", err)
		}
		// A second logout announces nothing new.
		must(t, e.svc.Logout(ctx, up.RefreshToken), "second Logout")

		// Reuse of a refresh token ends the session too.
		second, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: testPassword})
		must(t, err, "Login")
		rotated, err := e.svc.Refresh(ctx, second.RefreshToken)
		must(t, err, "Refresh")
		if _, err := e.svc.Refresh(ctx, second.RefreshToken); !errors.Is(err, ErrInvalidGrant) {
			t.Fatalf("Refresh(reused) = %v; want ErrInvalidGrant", err)
		}
		q := e.principal(t, rotated.AccessToken)
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		if _, err := e.svc.CreateOTPChallenge(ctx, q, MethodSMS); !errors.Is(err, ErrSessionEnded) {
			t.Errorf("CreateOTPChallenge after reuse = %v; want ErrSessionEnded", err)
		}

		got := sessionRevocations(t, db)
		if len(got) != 2 || got[0].GetSessionId() != p.SessionID || got[0].GetReason() != "logout" ||
			got[1].GetSessionId() != q.SessionID || got[1].GetReason() != "refresh_token_reuse" {
			t.Fatalf("session_revoked events = %v; want the logout's and the reuse's", got)
		}
		if exp := got[0].GetExpireTime().AsTime(); exp.Before(e.clock.Now().Add(e.svc.cfg.AccessTokenTTL)) {
			t.Errorf("expire_time %v is before the session's last token expires", exp)
		}
		// A token without sid (issued before sessions existed) cannot step up.
		if _, err := e.svc.CreateOTPChallenge(ctx, Principal{Subject: q.Subject, ACR: ACRPassword}, MethodSMS); !errors.Is(err, ErrSessionEnded) {
			t.Errorf("CreateOTPChallenge without sid = %v; want ErrSessionEnded", err)
		}
	})
}

// from is a gRPC context whose caller is at addr, as the gateway forwards it.
func from(addr string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-forwarded-for", addr))
}

// TestLoginLockoutIsPerSource: a stranger's five wrong passwords from one
// address lock the account for that address only; the citizen logs in
// from another. The per-account ceiling from every source still holds.
func TestLoginLockoutIsPerSource(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.LoginDelay = 0; c.LoginAccountMaxFailures = 8 })
		e.citizen(t, "12345678")
		nid := nationalID("12345678")
		wrong := &authv1.LoginRequest{NationalId: nid, Password: "not-the-password"}
		right := &authv1.LoginRequest{NationalId: nid, Password: testPassword}
		app := e.appToken(t)
		// The first-party app logs in from each address.
		viaApp := func(addr string) context.Context { return withBearer(from(addr), app) }
		for i := 1; i <= 5; i++ {
			_, err := e.srv.Login(viaApp("198.51.100.7"), wrong)
			want := codes.Unauthenticated
			if i == 5 {
				want = codes.ResourceExhausted
			}
			if status.Code(err) != want {
				t.Fatalf("failure %d from A = %v; want %v", i, err, want)
			}
		}
		if _, err := e.srv.Login(viaApp("198.51.100.7"), right); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("right password from A = %v; want ResourceExhausted (A is locked out)", err)
		}
		if _, err := e.srv.Login(viaApp("203.0.113.20"), right); err != nil {
			t.Errorf("right password from B = %v; want success", err)
		}
		// From many addresses, the account's own ceiling (8 here) locks it everywhere.
		for i := 0; i < 3; i++ {
			_, _ = e.srv.Login(viaApp("192.0.2."+string(rune('1'+i))), wrong)
		}
		if _, err := e.srv.Login(viaApp("203.0.113.20"), right); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("right password after the account ceiling = %v; want ResourceExhausted", err)
		}
	})
}

// TestUnlockBySMS: a locked-out citizen lifts every lock with an SMS code;
// an unknown national ID gets the same answers and no SMS.
func TestUnlockBySMS(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.LoginDelay = 0 })
		ctx := context.Background()
		e.citizen(t, "12345678")
		nid := nationalID("12345678")
		for i := 0; i < 5; i++ {
			_, _ = e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: "not-the-password", Source: "198.51.100.7"})
		}
		if _, err := e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: testPassword, Source: "198.51.100.7"}); err == nil {
			t.Fatal("login while locked succeeded")
		}
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)

		known, err := e.srv.StartUnlock(ctx, &authv1.StartUnlockRequest{NationalId: nid})
		must(t, err, "StartUnlock(registered)")
		sms := e.nextSMS(t)
		unknown, err := e.srv.StartUnlock(ctx, &authv1.StartUnlockRequest{NationalId: nationalID("87654321")})
		must(t, err, "StartUnlock(unknown)")
		if len(known.GetChallengeId()) != len(unknown.GetChallengeId()) || !strings.HasPrefix(unknown.GetChallengeId(), "otp_") ||
			known.GetExpiresIn() != unknown.GetExpiresIn() || known.GetExpiresIn() != 300 {
			t.Fatalf("StartUnlock registered = %v, unknown = %v; want the same shape", known, unknown)
		}
		if sms.GetPhoneNumber() != phoneOf("12345678") || sms.GetReference() != known.GetChallengeId() {
			t.Fatalf("unlock SMS = %v; want the code for %s to the registered phone", sms, known.GetChallengeId())
		}
		var cmds int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = $1`, SubjectOTPSMS).Scan(&cmds))

		// A wrong code and any code for the unknown ID's challenge: one answer.
		_, errWrong := e.srv.VerifyUnlock(ctx, &authv1.VerifyUnlockRequest{ChallengeId: known.GetChallengeId(), Code: "000000"})
		_, errUnknown := e.srv.VerifyUnlock(ctx, &authv1.VerifyUnlockRequest{ChallengeId: unknown.GetChallengeId(), Code: "000000"})
		sw, su := status.Convert(errWrong), status.Convert(errUnknown)
		if sw.Code() != codes.InvalidArgument || sw.Code() != su.Code() || sw.Message() != su.Message() {
			t.Fatalf("wrong code = %v; unknown ID's challenge = %v; want the same InvalidArgument", errWrong, errUnknown)
		}
		// An unlock challenge is no step-up.
		if _, err := e.svc.VerifyOTPChallenge(ctx, Principal{}, known.GetChallengeId(), sms.GetPersonalisation()["code"]); !errors.Is(err, ErrChallengeNotFound) {
			t.Fatalf("VerifyOTPChallenge(unlock challenge) = %v; want ErrChallengeNotFound", err)
		}
		resp, err := e.srv.VerifyUnlock(ctx, &authv1.VerifyUnlockRequest{ChallengeId: known.GetChallengeId(), Code: sms.GetPersonalisation()["code"]})
		if err != nil || !resp.GetUnlocked() {
			t.Fatalf("VerifyUnlock = %v, %v; want unlocked", resp, err)
		}
		if _, err := e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: testPassword, Source: "198.51.100.7"}); err != nil {
			t.Errorf("Login after unlock = %v; want success", err)
		}
		// Single use.
		if _, err := e.srv.VerifyUnlock(ctx, &authv1.VerifyUnlockRequest{ChallengeId: known.GetChallengeId(), Code: sms.GetPersonalisation()["code"]}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("VerifyUnlock again = %v; want InvalidArgument", err)
		}
		var after int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = $1`, SubjectOTPSMS).Scan(&after))
		if after != cmds {
			t.Errorf("%d SMS commands after the unknown ID's unlock; want %d (none for it)", after, cmds)
		}
		// Not locked: no SMS, the same answer.
		e.clock.Advance(time.Hour)
		if _, err := e.srv.StartUnlock(ctx, &authv1.StartUnlockRequest{NationalId: nid}); err != nil {
			t.Fatal(err)
		}
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE subject = $1`, SubjectOTPSMS).Scan(&after))
		if after != cmds {
			t.Errorf("an unlock of an account that is not locked sent an SMS")
		}
	})
}

// TestRegistrationWithTakenIDIsIndistinguishable: registering an ID that
// has an account answers like a new registration, and its holder is told
// by SMS (once an hour at most).
func TestRegistrationWithTakenIDIsIndistinguishable(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		e.citizen(t, "12345678")
		newReg := func(nid, phone string) *authv1.RegisterCitizenRequest {
			return &authv1.RegisterCitizenRequest{NationalId: nid, PhoneNumber: phone, Password: "another-good-passphrase",
				GivenName: "Omar", FamilyName: "Nasser", PreferredLanguage: "en"}
		}
		fresh, err := e.srv.RegisterCitizen(ctx, newReg(nationalID("55555555"), "+970569000001"))
		must(t, err, "RegisterCitizen(new)")
		freshSMS := e.nextSMS(t)
		taken, err := e.srv.RegisterCitizen(ctx, newReg(nationalID("12345678"), "+970569000002"))
		must(t, err, "RegisterCitizen(taken)")
		if len(taken.GetCitizenId()) != len(fresh.GetCitizenId()) || !strings.HasPrefix(taken.GetCitizenId(), "cit_") ||
			len(taken.GetPhoneVerification().GetChallengeId()) != len(fresh.GetPhoneVerification().GetChallengeId()) ||
			!strings.HasPrefix(taken.GetPhoneVerification().GetChallengeId(), "otp_") ||
			taken.GetPhoneVerification().GetExpiresIn() != fresh.GetPhoneVerification().GetExpiresIn() {
			t.Fatalf("taken = %v; new = %v; want the same shape", taken, fresh)
		}
		notice := e.nextSMS(t)
		if notice.GetPhoneNumber() != phoneOf("12345678") || notice.GetTemplateId() != RegistrationAttemptTemplateID ||
			notice.GetLanguage() != "ar" || len(notice.GetPersonalisation()) != 0 {
			t.Fatalf("notice = %v; want the registration-attempt SMS to the holder, in their language", notice)
		}
		// A wrong code for either challenge: the same answer.
		_, errFresh := e.srv.VerifyOtpChallenge(ctx, &authv1.VerifyOtpChallengeRequest{ChallengeId: fresh.GetPhoneVerification().GetChallengeId(), Code: "000000"})
		_, errTaken := e.srv.VerifyOtpChallenge(ctx, &authv1.VerifyOtpChallengeRequest{ChallengeId: taken.GetPhoneVerification().GetChallengeId(), Code: "000000"})
		if sf, st := status.Convert(errFresh), status.Convert(errTaken); sf.Code() != codes.InvalidArgument || sf.Code() != st.Code() || sf.Message() != st.Message() {
			t.Fatalf("wrong code: new = %v; taken = %v; want the same", errFresh, errTaken)
		}
		if freshSMS.GetPersonalisation()["code"] != "000000" {
			// No code answers the decoy, the real one included.
			if _, err := e.svc.VerifyOTPChallenge(ctx, Principal{}, taken.GetPhoneVerification().GetChallengeId(), freshSMS.GetPersonalisation()["code"]); err == nil {
				t.Fatal("the decoy challenge accepted a code")
			}
		}
		// The given phone's SMS limits count the attempt, as for a new one.
		_, err = e.srv.RegisterCitizen(ctx, newReg(nationalID("12345678"), "+970569000002"))
		_, err2 := e.srv.RegisterCitizen(ctx, newReg(nationalID("66666666"), "+970569000001"))
		if status.Code(err) != codes.ResourceExhausted || status.Code(err2) != codes.ResourceExhausted {
			t.Fatalf("second registration from the same phones = %v / %v; want ResourceExhausted both", err, err2)
		}
		// Within the hour the holder is not told again.
		e.clock.Advance(2 * time.Minute)
		_, err = e.srv.RegisterCitizen(ctx, newReg(nationalID("12345678"), "+970569000003"))
		must(t, err, "RegisterCitizen(taken, again)")
		var notices int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM otp_challenges WHERE method = 'notice'`).Scan(&notices))
		if notices != 1 {
			t.Errorf("%d notices; want 1 within the hour", notices)
		}
		// Nothing was registered under the taken ID.
		var n int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM citizens`).Scan(&n))
		if n != 2 {
			t.Errorf("%d citizens; want 2", n)
		}
	})
}

// TestTokenEndpointThrottlesFailuresPerClient: wrong secrets from one
// source lock that source out for a minute, not the client's servers
// elsewhere; the lock ends by itself.
func TestTokenEndpointThrottlesFailuresPerClient(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Ministry: "moh", Secret: "s3cret-s3cret-s3cret",
			Scopes: []string{scope.NotificationsSend}}), "EnsureClient")
		req := func(secret string) *authv1.IssueTokenRequest {
			return &authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "moh-portal", ClientSecret: secret}
		}
		for i := 1; i <= 10; i++ {
			_, err := e.srv.IssueToken(from("198.51.100.7"), req("wrong-wrong-wrong"))
			want := codes.Unauthenticated
			if i == 10 {
				want = codes.ResourceExhausted
			}
			if status.Code(err) != want {
				t.Fatalf("failure %d = %v; want %v", i, err, want)
			}
		}
		_, err := e.srv.IssueToken(from("198.51.100.7"), req("s3cret-s3cret-s3cret"))
		if d, ok := rpcerr.RetryAfter(err); status.Code(err) != codes.ResourceExhausted || !ok || d != time.Minute {
			t.Fatalf("right secret from the throttled source = %v (retry %v); want ResourceExhausted, retry 60 s", err, d)
		}
		if _, err := e.srv.IssueToken(from("203.0.113.20"), req("s3cret-s3cret-s3cret")); err != nil {
			t.Errorf("right secret from the ministry's server = %v; want a token", err)
		}
		e.clock.Advance(time.Minute)
		if _, err := e.srv.IssueToken(from("198.51.100.7"), req("s3cret-s3cret-s3cret")); err != nil {
			t.Errorf("right secret after the lock = %v; want a token", err)
		}
	})
}
