package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/sealed"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
)

// bearer returns a context carrying an access token as gRPC metadata, the
// way the gateway forwards it.
func bearer(token string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
}

func TestRegisterCitizen(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, nil)
		ctx := context.Background()
		reg := registration("12345678")
		resp, err := e.srv.RegisterCitizen(ctx, &authv1.RegisterCitizenRequest{
			NationalId: reg.NationalID, PhoneNumber: reg.PhoneNumber, Password: reg.Password,
			GivenName: reg.GivenName, FamilyName: reg.FamilyName, Email: "layla@example.ps",
		})
		if err != nil {
			t.Fatalf("RegisterCitizen = %v", err)
		}
		if !strings.HasPrefix(resp.GetCitizenId(), "cit_") || resp.GetPhoneVerification().GetExpiresIn() != 300 ||
			resp.GetPhoneVerification().GetChallengeId() == "" {
			t.Fatalf("RegisterCitizen = %v; want a cit_ id and a 300 s phone challenge", resp)
		}

		// The phone verification SMS is a command on the OTP lane.
		sms := e.nextSMS(t)
		if sms.GetPhoneNumber() != reg.PhoneNumber || sms.GetTemplateId() != "tamkeen:otp" || sms.GetClientId() != "tamkeen-auth" ||
			sms.GetLanguage() != "ar" || len(sms.GetPersonalisation()["code"]) != 6 || sms.GetCommandId() == "" {
			t.Errorf("SendSms = %v", sms)
		}
		if got, want := sms.GetExpireTime().AsTime(), e.clock.Now().Add(5*time.Minute); !got.Equal(want) {
			t.Errorf("expire_time = %v; want %v (the challenge's expiry)", got, want)
		}

		// Duplicate national ID: answered like a new one (no oracle of who
		// is registered; TestRegistrationWithTakenIDIsIndistinguishable).
		dup, err := e.srv.RegisterCitizen(ctx, &authv1.RegisterCitizenRequest{
			NationalId: reg.NationalID, PhoneNumber: "+970569000000", Password: "another-good-passphrase",
			GivenName: "Omar", FamilyName: "Nasser",
		})
		if err != nil || !strings.HasPrefix(dup.GetCitizenId(), "cit_") || dup.GetCitizenId() == resp.GetCitizenId() {
			t.Errorf("duplicate RegisterCitizen = %v, %v; want an answer like a new registration's", dup, err)
		}

		// The citizen sees their account; phone not verified yet.
		cit := Principal{Subject: resp.GetCitizenId(), ACR: ACRPassword}
		c, err := e.svc.GetCitizen(ctx, cit, resp.GetCitizenId())
		if err != nil || c.ProofingLevel != ProofingSelf || c.PhoneVerified || c.NationalID != "" || c.GivenName != "ليلى" {
			t.Errorf("GetCitizen(self) = %+v, %v; want self-proofed, unverified, no national ID", c, err)
		}

		// Nothing stored or published holds the national ID in clear.
		for _, q := range []string{`SELECT national_id_mac || national_id_enc FROM citizens`, `SELECT payload FROM outbox`} {
			rows, err := db.QueryContext(ctx, q)
			must(t, err, q)
			for rows.Next() {
				var b []byte
				must(t, rows.Scan(&b))
				if bytes.Contains(b, []byte(reg.NationalID)) || bytes.Contains(b, []byte(testPassword)) {
					t.Errorf("%s holds the national ID or password in clear", q)
				}
			}
			rows.Close()
		}
	})
}

// A mobile written the local way, as every Palestinian writes it,
// registers in E.164: 059… and 056… under +970, other 05x under +972.
func TestRegisterCitizenLocalMobile(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	for i, tc := range []struct{ in, want string }{
		{"0599123456", "+970599123456"},
		{"٠٥٦٩ ١٢٣ ٤٥٦", "+970569123456"},
		{"052-123-4567", "+972521234567"},
	} {
		reg := registration(fmt.Sprintf("1234567%d", i))
		if _, err := e.srv.RegisterCitizen(ctx, &authv1.RegisterCitizenRequest{
			NationalId: reg.NationalID, PhoneNumber: tc.in, Password: reg.Password,
			GivenName: reg.GivenName, FamilyName: reg.FamilyName,
		}); err != nil {
			t.Fatalf("RegisterCitizen(phone %q) = %v", tc.in, err)
		}
		if sms := e.nextSMS(t); sms.GetPhoneNumber() != tc.want {
			t.Errorf("RegisterCitizen(phone %q) sent its code to %q; want %q", tc.in, sms.GetPhoneNumber(), tc.want)
		}
	}
}

func TestRegisterCitizenRejectsBadInput(t *testing.T) {
	e := sqliteEnv(t, nil)
	_, err := e.srv.RegisterCitizen(context.Background(), &authv1.RegisterCitizenRequest{
		NationalId: "123456789", PhoneNumber: "022951234", Password: "password1", // a Ramallah landline
		GivenName: "Layla2", FamilyName: "", Email: "nope", PreferredLanguage: "fr",
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("RegisterCitizen = %v; want InvalidArgument", err)
	}
	var fields []string
	for _, v := range rpcerr.FieldViolations(err) {
		fields = append(fields, v.Field)
	}
	slices.Sort(fields)
	want := []string{"email", "family_name", "given_name", "national_id", "password", "phone_number", "preferred_language"}
	if !slices.Equal(fields, want) {
		t.Errorf("violations on %v; want every bad field %v", fields, want)
	}
	if strings.Contains(err.Error(), "password1") {
		t.Errorf("the error echoes the password: %v", err)
	}
	var n int
	must(t, e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM citizens`).Scan(&n))
	if n != 0 {
		t.Errorf("%d citizens stored after a refused registration", n)
	}
}

func TestGetAndProofCitizen(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moi-office", Name: "Interior", Secret: "0123456789abcdef",
		Scopes: []string{scope.CitizensProof, scope.CitizensRead}}))
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moh-portal", Name: "Health", Secret: "0123456789abcdef",
		Scopes: []string{scope.ContentRead}}))
	id, pair := e.citizen(t, "12345678")
	other, _ := e.citizen(t, "23456789")
	proofer, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moi-office", ClientSecret: "0123456789abcdef"})
	must(t, err)
	weak, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moh-portal", ClientSecret: "0123456789abcdef"})
	must(t, err)

	// Through gRPC: the service verifies the bearer token itself.
	c, err := e.srv.GetCitizen(bearer(pair.AccessToken), &authv1.GetCitizenRequest{CitizenId: id})
	if err != nil || c.GetCitizenId() != id || !c.GetPhoneVerified() || c.GetNationalId() != "" {
		t.Errorf("GetCitizen(self) = %v, %v; want own account, phone verified, no national ID", c, err)
	}
	if _, err := e.srv.GetCitizen(bearer(pair.AccessToken), &authv1.GetCitizenRequest{CitizenId: other}); status.Code(err) != codes.NotFound {
		t.Errorf("GetCitizen(another citizen) = %v; want NotFound", err)
	}
	if _, err := e.srv.GetCitizen(context.Background(), &authv1.GetCitizenRequest{CitizenId: id}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetCitizen(no token) = %v; want Unauthenticated", err)
	}
	if _, err := e.srv.GetCitizen(bearer(pair.AccessToken+"x"), &authv1.GetCitizenRequest{CitizenId: id}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("GetCitizen(tampered token) = %v; want Unauthenticated", err)
	}
	c, err = e.srv.GetCitizen(bearer(proofer.AccessToken), &authv1.GetCitizenRequest{CitizenId: id})
	if err != nil || c.GetNationalId() != nationalID("12345678") {
		t.Errorf("GetCitizen(citizens:read client) = %v, %v; want the national ID", c, err)
	}
	if _, err := e.srv.GetCitizen(bearer(weak.AccessToken), &authv1.GetCitizenRequest{CitizenId: id}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetCitizen(client without citizens:read) = %v; want PermissionDenied", err)
	}

	for name, tc := range map[string]struct {
		ctx  context.Context
		req  *authv1.ProofCitizenRequest
		code codes.Code
	}{
		"citizen token":     {bearer(pair.AccessToken), &authv1.ProofCitizenRequest{CitizenId: id, Evidence: "x"}, codes.PermissionDenied},
		"client w/o scope":  {bearer(weak.AccessToken), &authv1.ProofCitizenRequest{CitizenId: id, Evidence: "x"}, codes.PermissionDenied},
		"no evidence":       {bearer(proofer.AccessToken), &authv1.ProofCitizenRequest{CitizenId: id}, codes.InvalidArgument},
		"unknown citizen":   {bearer(proofer.AccessToken), &authv1.ProofCitizenRequest{CitizenId: "cit_nobody", Evidence: "x"}, codes.NotFound},
		"proofed in person": {bearer(proofer.AccessToken), &authv1.ProofCitizenRequest{CitizenId: id, Evidence: "MoI Ramallah desk 4, ref 2026/118"}, codes.OK},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := e.srv.ProofCitizen(tc.ctx, tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("ProofCitizen = %v; want %v", err, tc.code)
			}
			if tc.code == codes.OK && c.GetProofingLevel() != ProofingInPerson {
				t.Errorf("proofing level = %q; want in_person", c.GetProofingLevel())
			}
		})
	}
}

func TestEventsCarryNoSecrets(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	_, pair := e.citizen(t, "12345678")
	_, err := e.svc.Login(ctx, LoginRequest{NationalID: nationalID("12345678"), Password: "wrong-password-here"})
	if !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("Login(wrong) = %v", err)
	}
	e.stepUpSMS(t, pair)
	rows, err := e.db.QueryContext(ctx, `SELECT subject, payload FROM outbox ORDER BY seq`)
	must(t, err)
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var (
			subject string
			payload []byte
		)
		must(t, rows.Scan(&subject, &payload))
		seen[subject] = true
		if subject == SubjectOTPSMS {
			continue // the SMS command must carry the code
		}
		for _, secret := range []string{nationalID("12345678"), testPassword, "wrong-password-here", pair.RefreshToken} {
			if bytes.Contains(payload, []byte(secret)) {
				t.Errorf("event %s carries a secret", subject)
			}
		}
	}
	for _, want := range []string{"tamkeen.auth.citizen_registered", "tamkeen.auth.citizen_phone_verified", "tamkeen.auth.login_succeeded",
		"tamkeen.auth.login_failed", "tamkeen.auth.step_up_succeeded", SubjectOTPSMS} {
		if !seen[want] {
			t.Errorf("no %s in the outbox", want)
		}
	}
}

// TestEventsCarrySealedIdentity: citizen_registered and citizen_proofed
// carry the citizen's identity (national ID and names as registered)
// sealed to the signature enabler's identity key, bound to the citizen:
// the signature enabler's key opens it, the payload never holds it in
// clear, and it does not open for another citizen.
func TestEventsCarrySealedIdentity(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moi-office", Name: "Interior", Secret: "0123456789abcdef", Scopes: []string{scope.CitizensProof}}))
	id, _ := e.citizen(t, "12345678")
	if _, err := e.svc.ProofCitizen(ctx, Principal{ClientID: "moi-office", Scopes: []string{scope.CitizensProof}}, id, "MoI desk 4"); err != nil {
		t.Fatal(err)
	}
	want := registration("12345678")
	rows, err := e.db.QueryContext(ctx, `SELECT subject, payload FROM outbox WHERE subject IN ('tamkeen.auth.citizen_registered', 'tamkeen.auth.citizen_proofed') ORDER BY seq`)
	must(t, err)
	defer rows.Close()
	var seen []string
	for rows.Next() {
		var subject string
		var payload []byte
		must(t, rows.Scan(&subject, &payload))
		seen = append(seen, subject)
		for _, clear := range []string{want.NationalID, want.GivenName, want.FamilyName} {
			if bytes.Contains(payload, []byte(clear)) {
				t.Errorf("%s holds %q in clear", subject, clear)
			}
		}
		var blob []byte
		if subject == "tamkeen.auth.citizen_proofed" {
			var m eventsv1.CitizenProofed
			must(t, proto.Unmarshal(payload, &m))
			blob = m.GetSealedIdentity()
		} else {
			var m eventsv1.CitizenRegistered
			must(t, proto.Unmarshal(payload, &m))
			blob = m.GetSealedIdentity()
		}
		pt, err := sealed.Open([]*sealed.PrivateKey{testIdentityKey}, "citizen_identity/"+id, blob)
		if err != nil {
			t.Fatalf("%s: sealed identity does not open: %v", subject, err)
		}
		var got eventsv1.CitizenIdentity
		must(t, proto.Unmarshal(pt, &got))
		if got.GetNationalId() != want.NationalID || got.GetGivenName() != want.GivenName || got.GetFamilyName() != want.FamilyName {
			t.Errorf("%s: identity %v; want the registered %s %s %s", subject, &got, want.NationalID, want.GivenName, want.FamilyName)
		}
		if _, err := sealed.Open([]*sealed.PrivateKey{testIdentityKey}, "citizen_identity/cit_other", blob); err == nil {
			t.Errorf("%s: the sealed identity opens for another citizen", subject)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("events %v; want citizen_registered and citizen_proofed", seen)
	}
}
