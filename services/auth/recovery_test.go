package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// pageRequest is an open authorization request in a test browser: its
// id (ar), the browser's binding cookie and the forms' CSRF token.
type pageRequest struct {
	b                 *oidcBrowser
	ar, binding, csrf string
}

// openPageRequest registers the public client "portal" (once) and opens
// an authorization request for it in a new browser.
func openPageRequest(t *testing.T, e *testEnv) pageRequest {
	t.Helper()
	must(t, e.svc.EnsureClient(context.Background(), ClientSpec{ID: "portal", Name: "Portal", Scopes: []string{ScopeProfile, ScopePhone, ScopeEmail}, Organization: "Ministry of Health", CodeFlow: CodeFlow{
		Public: true, Loopback: true, MaxACR: ACRStepUp, RedirectURIs: []string{"http://127.0.0.1/callback"},
	}}), "EnsureClient")
	b := newOIDCBrowser(t, e)
	_, challenge := pkcePair()
	q := url.Values{
		"client_id": {"portal"}, "redirect_uri": {"http://127.0.0.1:5555/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "nonce": {"nn"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	st, loc, body := b.do("GET", "/oauth2/authorize?"+q.Encode(), nil)
	if st != http.StatusFound || !strings.Contains(loc, "/oauth2/login?ar=") {
		t.Fatalf("authorize = %d %q %s; want the sign-in page", st, loc, body)
	}
	ar := mustQuery(t, loc, "ar")
	st, _, body = b.do("GET", pathReset+"?ar="+url.QueryEscape(ar), nil)
	m := csrfField.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil || !strings.Contains(body, `name="national_id"`) {
		t.Fatalf("reset page = %d:\n%s", st, body)
	}
	u, _ := url.Parse(b.base + pathReset) // the cookie is scoped to /oauth2/
	var binding string
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == cookieBinding {
			binding = c.Value
		}
	}
	if binding == "" {
		t.Fatal("no binding cookie after /oauth2/authorize")
	}
	return pageRequest{b: b, ar: ar, binding: binding, csrf: m[1]}
}

// startReset posts the national ID on the reset page and returns the
// answer (status, Location) and the page the browser lands on.
func (p pageRequest) startReset(nationalID string) (status int, location string, landing string) {
	status, location, body := p.b.do("POST", pathReset, url.Values{"ar": {p.ar}, "csrf": {p.csrf}, "national_id": {nationalID}})
	if status != http.StatusSeeOther {
		return status, location, body
	}
	_, _, landing = p.b.do("GET", location, nil)
	return status, location, landing
}

// tableCount counts the rows of a table.
func tableCount(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	must(t, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n), table)
	return n
}

// TestResetStartTellsNothing: a forgotten-password reset started for a
// registered national ID with a verified phone, an unknown one, one whose
// phone was never verified and one whose phone is in its SMS cool-down
// gets the same answer: the same status and redirect, the same code page
// (byte for byte once the request's own ids are masked), a flow with a
// challenge id of the same shape and the same countdown, and the same
// database work but for the SMS itself (one challenge row and one outbox
// command, only where a code really goes out).
func TestResetStartTellsNothing(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	e.citizen(t, "40000001")
	// An account whose phone was never verified.
	if _, err := e.svc.RegisterCitizen(ctx, registration("40000002")); err != nil {
		t.Fatal(err)
	}
	e.nextSMS(t)
	e.clock.Advance(e.svc.cfg.SMSResendCooldown)

	mask := func(p pageRequest, s string) string {
		return strings.NewReplacer(p.ar, "AR", url.QueryEscape(p.ar), "AR", p.csrf, "CSRF").Replace(s)
	}
	type answer struct {
		status           int
		location, page   string
		idLen            int
		countdown        int64
		flows, chs, outs int // rows added to page_flows, otp_challenges, outbox
	}
	var first answer
	for i, tc := range []struct {
		name, nid string
		sms       bool
	}{
		{"registered, phone verified", nationalID("40000001"), true},
		{"unknown national ID", nationalID("49999991"), false},
		{"registered, phone never verified", nationalID("40000002"), false},
		{"registered, phone in its SMS cool-down", nationalID("40000001"), false},
	} {
		p := openPageRequest(t, e)
		flows, chs, outs := tableCount(t, e.db, "page_flows"), tableCount(t, e.db, "otp_challenges"), tableCount(t, e.db, "outbox")
		st, loc, page := p.startReset(tc.nid)
		f, err := selectPageFlow(ctx, e.db, p.ar, flowReset)
		if err != nil {
			t.Fatalf("%s: no reset flow: %v", tc.name, err)
		}
		got := answer{status: st, location: mask(p, loc), page: mask(p, page), idLen: len(f.ChallengeID),
			countdown: f.ExpiresAt.Sub(f.SentAt).Milliseconds(),
			flows:     tableCount(t, e.db, "page_flows") - flows, chs: tableCount(t, e.db, "otp_challenges") - chs,
			outs: tableCount(t, e.db, "outbox") - outs}
		if st != http.StatusSeeOther || !strings.HasPrefix(got.location, pathResetCode+"?ar=AR") || !strings.Contains(page, `name="code"`) {
			t.Fatalf("%s: reset start = %d %q; want 303 to the code page:\n%s", tc.name, st, loc, page)
		}
		sms := 0
		if tc.sms {
			sms = 1
			if code := e.nextSMS(t).GetPersonalisation()["code"]; len(code) != 6 {
				t.Errorf("%s: SMS code %q; want 6 digits", tc.name, code)
			}
		}
		if got.flows != 1 || got.chs != sms || got.outs != sms {
			t.Errorf("%s: rows added: %d flows, %d challenges, %d outbox; want 1, %d, %d (only the SMS differs)",
				tc.name, got.flows, got.chs, got.outs, sms, sms)
		}
		if i == 0 {
			first = got
			continue
		}
		if got.status != first.status || got.location != first.location || got.idLen != first.idLen || got.countdown != first.countdown {
			t.Errorf("%s: answer %d %q (id %d chars, countdown %d ms); registered: %d %q (%d, %d)", tc.name,
				got.status, got.location, got.idLen, got.countdown, first.status, first.location, first.idLen, first.countdown)
		}
		if got.page != first.page {
			t.Errorf("%s: the code page differs from the registered citizen's:\n%s\n---\n%s", tc.name, got.page, first.page)
		}
	}
}

// resetCode starts a reset for the citizen of prefix in a new request and
// returns the request and the SMS code.
func resetCode(t *testing.T, e *testEnv, prefix string) (pageRequest, string) {
	t.Helper()
	e.clock.Advance(e.svc.cfg.SMSResendCooldown)
	p := openPageRequest(t, e)
	if st, loc, page := p.startReset(nationalID(prefix)); st != http.StatusSeeOther {
		t.Fatalf("reset start = %d %q:\n%s", st, loc, page)
	}
	return p, e.nextSMS(t).GetPersonalisation()["code"]
}

// TestResetCodeWorksOnce: 16 concurrent resets with the right code (each
// with its own new password, tries allowing all 16) end with exactly one
// password set; the others get the reset's one refusal, and the winner's
// password is the one that logs in.
func TestResetCodeWorksOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.OTPMaxAttempts = 20 })
		ctx := context.Background()
		citizenID, _ := e.citizen(t, "40000003")
		p, code := resetCode(t, e, "40000003")
		const n = 16
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = e.svc.finishReset(ctx, p.ar, p.binding, code, fmt.Sprintf("new-olive-grove-%02d", i))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("resets %d and %d both succeeded with one code", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, errResetFailed) && !errors.Is(err, errAuthRequestClosed):
				t.Errorf("reset %d = %v; want the reset's refusal", i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("no reset succeeded: %v", errs)
		}
		var used int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM otp_challenges WHERE purpose = $1 AND used_at IS NOT NULL`, purposeReset).Scan(&used))
		if used != 1 {
			t.Errorf("%d used reset challenges; want 1", used)
		}
		// The stored hash is the winner's password, nobody else's.
		row, err := selectCitizen(ctx, db, citizenID)
		must(t, err, "selectCitizen")
		for i := range n {
			ok, _, err := e.svc.hasher.verify(ctx, fmt.Sprintf("new-olive-grove-%02d", i), row.PasswordHash)
			if err != nil || ok != (i == winner) {
				t.Errorf("reset %d's password matches = %v, %v; want a match only for the winner (%d)", i, ok, err, winner)
			}
		}
		if _, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("40000003"), Password: fmt.Sprintf("new-olive-grove-%02d", winner)}); err != nil {
			t.Errorf("login with the winner's password = %v; want success", err)
		}
		// The code cannot be used again, even by the same browser.
		if err := e.svc.finishReset(ctx, p.ar, p.binding, code, "another-olive-grove"); err == nil {
			t.Error("the reset code worked a second time")
		}
	})
}

// TestResetEndsEverySession: a reset revokes every refresh-token family
// of the citizen (two logins and a step-up), announces session_revoked
// once for each session with reason password_reset, forgets every
// browser's single sign-on, and leaves other citizens' sessions alone;
// the old password stops working and the new one works.
func TestResetEndsEverySession(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		citizenID, first := e.citizen(t, "40000004")
		second, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("40000004"), Password: testPassword})
		must(t, err, "second login")
		stepped := e.stepUpSMS(t, second)
		_, bystander := e.citizen(t, "40000005")
		sessions := map[string]bool{e.principal(t, first.AccessToken).SessionID: true, e.principal(t, second.AccessToken).SessionID: true}
		before := len(sessionRevocations(t, db))
		must(t, insertSSO(ctx, db, ssoRow{TokenMAC: "mac-of-a-browser", SessionID: e.principal(t, first.AccessToken).SessionID,
			CitizenID: citizenID, ACR: ACRPassword, AMR: []string{"pwd"}, AuthTime: e.clock.Now(), ExpiresAt: e.clock.Now().Add(e.svc.cfg.SSOAbsoluteTTL)},
			e.clock.Now()), "insertSSO")

		p, code := resetCode(t, e, "40000004")
		must(t, e.svc.finishReset(ctx, p.ar, p.binding, code, "fresh-olive-press-2026"), "finishReset")

		var alive, revoked int
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM token_families WHERE citizen_id = $1 AND revoked_at IS NULL`, citizenID).Scan(&alive))
		must(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM token_families WHERE citizen_id = $1 AND revoke_reason = $2`, citizenID, revokePasswordReset).Scan(&revoked))
		if alive != 0 || revoked < 3 {
			t.Errorf("after the reset: %d live families, %d revoked by it; want 0 and at least 3 (two logins, a step-up)", alive, revoked)
		}
		revs := sessionRevocations(t, db)[before:]
		got := map[string]bool{}
		for _, r := range revs {
			if r.GetCitizenId() != citizenID || r.GetReason() != revokePasswordReset || got[r.GetSessionId()] {
				t.Errorf("session_revoked %v; want one per session of %s, reason %s", r, citizenID, revokePasswordReset)
			}
			got[r.GetSessionId()] = true
		}
		if len(got) != len(sessions) {
			t.Errorf("session_revoked for %v; want %v", got, sessions)
		}
		for sid := range sessions {
			if !got[sid] {
				t.Errorf("no session_revoked for %s", sid)
			}
		}
		if n := tableCountWhere(t, db, `sso_sessions WHERE citizen_id = $1`, citizenID); n != 0 {
			t.Errorf("%d single sign-on sessions left; want 0", n)
		}
		for name, rt := range map[string]string{"first": first.RefreshToken, "second": second.RefreshToken, "step-up": stepped.RefreshToken} {
			if _, err := e.svc.Refresh(ctx, rt); !errors.Is(err, ErrInvalidGrant) {
				t.Errorf("refresh of the %s session after the reset = %v; want ErrInvalidGrant", name, err)
			}
		}
		if _, err := e.svc.Refresh(ctx, bystander.RefreshToken); err != nil {
			t.Errorf("another citizen's refresh = %v; want success", err)
		}
		if _, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("40000004"), Password: testPassword}); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("login with the old password = %v; want ErrInvalidCredentials", err)
		}
		e.clock.Advance(e.svc.cfg.LoginDelay) // the failure's delay
		if _, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("40000004"), Password: "fresh-olive-press-2026"}); err != nil {
			t.Errorf("login with the new password = %v; want success", err)
		}
	})
}

// tableCountWhere counts the rows of "table WHERE …" with args.
func tableCountWhere(t *testing.T, db *store.DB, from string, args ...any) int {
	t.Helper()
	var n int
	must(t, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+from, args...).Scan(&n), from)
	return n
}
