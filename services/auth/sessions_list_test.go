package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// TestListAndDeleteSessions: a citizen lists their live sessions (a JSON
// login stepped up to loa2, a hosted sign-in of the portal, the current
// one) through the gRPC API and ends one: its refresh tokens, single
// sign-on cookie and access tokens (session_revoked) stop working.
// Another citizen sees none of them and gets NOT_FOUND for their ids; a
// client token is refused.
func TestListAndDeleteSessions(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		f := newOIDCFixture(t, e, "40000101")
		nid := nationalID("40000101")

		// Session 1: a JSON login stepped up.
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		first, err := e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: testPassword})
		must(t, err, "Login")
		e.stepUpSMS(t, first)
		sid1 := e.principal(t, first.AccessToken).SessionID

		// Session 2: the hosted sign-in of the portal, with its SSO cookie.
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		st, body := f.exchange(f.code(t, nid), f.verifier)
		if st != http.StatusOK {
			t.Fatalf("exchange = %d %s", st, body)
		}
		var portal struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		must(t, json.Unmarshal([]byte(body), &portal), "token response")
		sid2 := e.principal(t, portal.AccessToken).SessionID

		// Session 3: the caller's own.
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		cur, err := e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: testPassword})
		must(t, err, "Login")
		sid3 := e.principal(t, cur.AccessToken).SessionID

		list, err := e.srv.ListSessions(bearer(cur.AccessToken), &authv1.ListSessionsRequest{})
		must(t, err, "ListSessions")
		byID := map[string]*authv1.Session{}
		for _, s := range list.GetSessions() {
			byID[s.GetId()] = s
		}
		// The fixture's own login (newOIDCFixture) is a fourth session.
		if len(byID) != 4 || byID[sid1] == nil || byID[sid2] == nil || byID[sid3] == nil {
			t.Fatalf("sessions = %v; want 4 with %s, %s, %s", list.GetSessions(), sid1, sid2, sid3)
		}
		if got := list.GetSessions()[0].GetId(); got != sid3 {
			t.Errorf("first session = %s; want the newest, %s", got, sid3)
		}
		if s := byID[sid1]; s.GetAcr() != ACRStepUp || s.GetCurrent() || len(s.GetApps()) != 0 {
			t.Errorf("session 1 = %v; want acr loa2, not current, no apps", s)
		}
		if s := byID[sid2]; s.GetAcr() != ACRPassword || len(s.GetApps()) != 1 || s.GetApps()[0].GetClientId() != "portal" {
			t.Errorf("session 2 = %v; want acr loa1 and the app portal", s)
		}
		if s := byID[sid3]; !s.GetCurrent() || !s.GetCreateTime().AsTime().Equal(e.clock.Now()) {
			t.Errorf("session 3 = %v; want current, created now", s)
		}

		// Another citizen sees only theirs and cannot end these.
		_, other := e.citizen(t, "40000102")
		olist, err := e.srv.ListSessions(bearer(other.AccessToken), &authv1.ListSessionsRequest{})
		must(t, err, "ListSessions(other)")
		if n := len(olist.GetSessions()); n != 1 || olist.GetSessions()[0].GetId() == sid2 {
			t.Errorf("other citizen's sessions = %v; want only their own", olist.GetSessions())
		}
		_, err = e.srv.DeleteSession(bearer(other.AccessToken), &authv1.DeleteSessionRequest{SessionId: sid2})
		if status.Code(err) != codes.NotFound {
			t.Errorf("DeleteSession(another's) = %v; want NotFound", err)
		}
		if got := len(sessionRevocations(t, e.db)); got != 0 {
			t.Fatalf("session_revoked events after a refused delete = %d; want 0", got)
		}
		// A client token has no sessions.
		client := Principal{Subject: "moh", ClientID: "moh", Scopes: []string{"citizens:read"}}
		if _, err := e.svc.ListSessions(ctx, client); err != ErrCitizenTokenRequired {
			t.Errorf("ListSessions(client) = %v; want ErrCitizenTokenRequired", err)
		}

		// The citizen ends the portal's session.
		_, err = e.srv.DeleteSession(bearer(cur.AccessToken), &authv1.DeleteSessionRequest{SessionId: sid2})
		must(t, err, "DeleteSession")
		revs := sessionRevocations(t, e.db)
		if len(revs) != 1 || revs[0].GetSessionId() != sid2 || revs[0].GetReason() != revokeLogout {
			t.Fatalf("session_revoked = %v; want one for %s, reason logout", revs, sid2)
		}
		st, _, body = f.b.do("POST", "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {portal.RefreshToken}, "client_id": {"portal"}})
		if st != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Errorf("refresh of the ended session = %d %s; want 400 invalid_grant", st, body)
		}
		// The browser's single sign-on went with it: the password again.
		st, loc, _ := f.b.do("GET", "/oauth2/authorize?"+f.query.Encode(), nil)
		if st != http.StatusFound || strings.HasPrefix(loc, "http://127.0.0.1:5555/") {
			t.Errorf("authorize after the session ended = %d %s; want the sign-in page", st, loc)
		}
		list, err = e.srv.ListSessions(bearer(cur.AccessToken), &authv1.ListSessionsRequest{})
		must(t, err, "ListSessions")
		for _, s := range list.GetSessions() {
			if s.GetId() == sid2 {
				t.Errorf("ended session %s still listed", sid2)
			}
		}
		if _, err := e.srv.DeleteSession(bearer(cur.AccessToken), &authv1.DeleteSessionRequest{SessionId: sid2}); status.Code(err) != codes.NotFound {
			t.Errorf("DeleteSession(ended) = %v; want NotFound", err)
		}

		// Ending one's own current session works, and the token is then
		// refused here.
		must(t, e.svc.DeleteSession(ctx, e.principal(t, cur.AccessToken), sid3), "DeleteSession(current)")
		if _, err := e.srv.ListSessions(bearer(cur.AccessToken), &authv1.ListSessionsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("ListSessions with an ended session's token = %v; want Unauthenticated", err)
		}

		// Sessions whose refresh tokens all expired are not listed.
		e.clock.Advance(e.svc.cfg.SMSResendCooldown)
		fresh, err := e.svc.Login(ctx, LoginRequest{NationalID: nid, Password: testPassword})
		must(t, err, "Login")
		p := e.principal(t, fresh.AccessToken)
		if got, err := e.svc.ListSessions(ctx, p); err != nil || len(got) != 3 {
			t.Fatalf("ListSessions = %d sessions, %v; want 3 (the fixture's, session 1, this)", len(got), err)
		}
		e.clock.Advance(e.svc.cfg.RefreshTokenTTL)
		if got, err := e.svc.ListSessions(ctx, p); err != nil || len(got) != 0 {
			t.Errorf("ListSessions after every refresh token expired = %v, %v; want none", got, err)
		}
	})
}
