package auth

import (
	"context"
	"errors"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gathered reads every sample of the families named name* from reg, by
// family and then by labels written "k=v,k=v" (sorted; "" for none).
func gathered(t *testing.T, reg prometheus.Gatherer, prefix string) map[string]map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		out[f.GetName()] = map[string]float64{}
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			v := m.GetCounter().GetValue()
			if m.GetGauge() != nil {
				v = m.GetGauge().GetValue()
			}
			out[f.GetName()][strings.Join(ls, ",")] = v
		}
	}
	return out
}

// nonZero drops the samples at 0.
func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// TestMetrics drives logins (a success, wrong passwords, the wait after a
// failure, the lock and a refusal by it) and OTP challenges (sent,
// answered wrong, right, again, too late and beyond their tries) through
// the service on SQLite and NATS, then reads the registry: every family
// has exactly the counts the traffic made, under closed label values.
func TestMetrics(t *testing.T) {
	e := sqliteEnv(t, func(c *Config) { c.LoginMaxFailures, c.OTPMaxAttempts = 3, 2 })
	ctx := context.Background()
	_, pair := e.citizen(t, "31415926") // one SMS code, one verification, one login
	reg := registration("31415926")
	wrong := LoginRequest{NationalID: reg.NationalID, Password: "not-the-password-1"}

	if _, err := e.svc.Login(ctx, wrong); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password = %v", err)
	}
	_, err := e.svc.Login(ctx, wrong) // before the delay after a failure
	wantRetry(t, err, time.Second)
	e.clock.Advance(10 * time.Second)
	if _, err := e.svc.Login(ctx, wrong); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("second wrong password = %v", err)
	}
	e.clock.Advance(10 * time.Second)
	_, err = e.svc.Login(ctx, wrong) // the third failure locks
	wantRetry(t, err, e.svc.cfg.LoginLockout)
	_, err = e.svc.Login(ctx, LoginRequest{NationalID: reg.NationalID, Password: reg.Password}) // refused by the lock
	wantRetry(t, err, e.svc.cfg.LoginLockout)

	p := e.principal(t, pair.AccessToken)
	challenge := func() (string, string) {
		t.Helper()
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		ch, err := e.svc.CreateOTPChallenge(ctx, p, MethodSMS)
		must(t, err, "CreateOTPChallenge")
		return ch.ID, e.nextSMS(t).GetPersonalisation()["code"]
	}
	otherThan := func(code string) string {
		if code == "000000" {
			return "111111"
		}
		return "000000"
	}
	id, code := challenge()
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, otherThan(code)); err == nil {
		t.Fatal("a wrong code verified")
	}
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, code); err != nil {
		t.Fatalf("right code: %v", err)
	}
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, code); !errors.Is(err, ErrChallengeClosed) {
		t.Fatalf("the code again = %v; want ErrChallengeClosed", err)
	}
	id, code = challenge()
	e.clock.Advance(e.svc.cfg.OTPTTL)
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, code); !errors.Is(err, ErrChallengeClosed) {
		t.Fatalf("an expired code = %v; want ErrChallengeClosed", err)
	}
	id, code = challenge()
	for range 2 {
		if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, otherThan(code)); err == nil {
			t.Fatal("a wrong code verified")
		}
	}
	if _, err := e.svc.VerifyOTPChallenge(ctx, p, id, code); !errors.Is(err, ErrChallengeClosed) {
		t.Fatalf("a code after the last try = %v; want ErrChallengeClosed", err)
	}

	lintFamilies(t, e.svc.Registry, "tamkeen_auth_logins_total", "tamkeen_auth_lockouts_total", "tamkeen_auth_otp_sends_total", "tamkeen_auth_otp_verifications_total")
	got := gathered(t, e.svc.Registry, "tamkeen_auth_")
	for _, tc := range []struct {
		family string
		want   map[string]float64
	}{
		{"tamkeen_auth_logins_total", map[string]float64{
			"method=password,outcome=success": 1, "method=password,outcome=bad_credentials": 2,
			"method=password,outcome=throttled": 1, "method=password,outcome=locked": 2,
		}},
		{"tamkeen_auth_lockouts_total", map[string]float64{"": 1}},
		{"tamkeen_auth_otp_sends_total", map[string]float64{"channel=sms": 4}},
		{"tamkeen_auth_otp_verifications_total", map[string]float64{
			"outcome=success": 2, "outcome=wrong_code": 3, "outcome=used": 1, "outcome=expired": 1, "outcome=exhausted": 1,
		}},
	} {
		if fam, ok := got[tc.family]; !ok {
			t.Errorf("no %s in the registry", tc.family)
		} else if nz := nonZero(fam); !maps.Equal(nz, tc.want) {
			t.Errorf("%s = %v; want %v", tc.family, nz, tc.want)
		}
	}
	// Every series exists from the start, so rate() and alerts see zeros.
	if n := len(got["tamkeen_auth_logins_total"]); n != len(loginMethods())*len(loginOutcomes()) {
		t.Errorf("tamkeen_auth_logins_total has %d series; want %d (methods × outcomes)", n, len(loginMethods())*len(loginOutcomes()))
	}
}

// TestMetricsHostedSignIn: sign-ins through the hosted page of the code
// flow count under method oidc, the JSON login under password.
func TestMetricsHostedSignIn(t *testing.T) {
	e := sqliteEnv(t, nil)
	f := newOIDCFixture(t, e, "27182818") // logs in once with the JSON login
	f.code(t, nationalID("27182818"))
	e.clock.Advance(time.Minute)
	f.b = newOIDCBrowser(t, e) // a browser without the single sign-on cookie
	if st, loc, _ := f.signIn(t, nationalID("27182818"), "not-the-password-1"); mustQuery(t, loc, "code") != "" {
		t.Fatalf("a wrong password signed in: %d %s", st, loc)
	}
	want := map[string]float64{
		"method=password,outcome=success": 1, "method=oidc,outcome=success": 1, "method=oidc,outcome=bad_credentials": 1,
	}
	if got := nonZero(gathered(t, e.svc.Registry, "tamkeen_auth_logins_total")["tamkeen_auth_logins_total"]); !maps.Equal(got, want) {
		t.Errorf("tamkeen_auth_logins_total = %v; want %v", got, want)
	}
}

// lintFamilies runs promlint over the families names in reg.
func lintFamilies(t *testing.T, reg prometheus.Gatherer, names ...string) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg, names...)
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
}
