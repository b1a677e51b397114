package auth

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

func TestClientsStore(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, nil).svc
		spec := ClientSpec{ID: "moh-portal", Name: "Ministry of Health portal", Ministry: "Health", Secret: "s3cret-s3cret-s3cret", Scopes: []string{scope.PaymentsWrite, scope.ContentRead}}
		if err := svc.EnsureClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
		c, err := svc.AuthenticateClient(ctx, "moh-portal", "s3cret-s3cret-s3cret")
		if err != nil {
			t.Fatalf("AuthenticateClient(right secret) = %v; want nil", err)
		}
		if got, want := c.Scopes, []string{scope.ContentRead, scope.PaymentsWrite}; !slices.Equal(got, want) {
			t.Errorf("scopes = %v; want %v", got, want)
		}
		if c.Ministry != "Health" {
			t.Errorf("ministry = %q; want Health", c.Ministry)
		}
		if c.Organization != "" {
			t.Errorf("organization = %q; want none yet", c.Organization)
		}
		// The operator sets the organisation (spaces normalised, checked).
		if err := svc.SetClientOrganization(ctx, "moh-portal", "  Ministry of   Health "); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetClientOrganization(ctx, "moh-portal", "Ministry of \u200bHealth"); !errors.As(err, new(*rpcerr.FieldError)) {
			t.Errorf("SetClientOrganization(zero-width) = %v; want a field error", err)
		}
		if err := svc.SetClientOrganization(ctx, "nobody", "Ministry of Health"); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("SetClientOrganization(unknown) = %v; want ErrClientNotFound", err)
		}
		if c, err := svc.Client(ctx, "moh-portal"); err != nil || c.Organization != "Ministry of Health" {
			t.Errorf("organization after set = %q, %v; want Ministry of Health", c.Organization, err)
		}
		if _, err := svc.AuthenticateClient(ctx, "moh-portal", "wrong-wrong-wrong-wrong"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("AuthenticateClient(wrong secret) = %v; want ErrInvalidClient", err)
		}
		if _, err := svc.AuthenticateClient(ctx, "nobody", "s3cret-s3cret-s3cret"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("AuthenticateClient(unknown id) = %v; want ErrInvalidClient", err)
		}

		// Ensuring again replaces the secret and scopes: the old secret stops working.
		spec.Secret, spec.Scopes = "another-secret-value", []string{scope.LedgerRead}
		if err := svc.EnsureClient(ctx, spec); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AuthenticateClient(ctx, "moh-portal", "s3cret-s3cret-s3cret"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("old secret after rotation = %v; want ErrInvalidClient", err)
		}
		c, err = svc.Client(ctx, "moh-portal")
		if err != nil || len(c.Scopes) != 1 || c.Scopes[0] != scope.LedgerRead {
			t.Errorf("Client() = %+v, %v; want scopes [%s]", c, err, scope.LedgerRead)
		}
		if _, err := svc.Client(ctx, "nobody"); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("Client(unknown) = %v; want ErrClientNotFound", err)
		}

		// The admin API of `tamkeen clients`.
		mof := ClientSpec{ID: "mof-fees", Name: "Fees", Ministry: "Finance", Secret: "0123456789abcdef", Scopes: []string{scope.PaymentsRead}}
		if err := svc.CreateClient(ctx, mof); err != nil {
			t.Fatal(err)
		}
		if err := svc.CreateClient(ctx, mof); !errors.Is(err, ErrClientExists) || status.Code(rpcerr.FromDomain(err, nil, ctx)) != codes.AlreadyExists {
			t.Errorf("CreateClient(existing) = %v; want ErrClientExists (AlreadyExists)", err)
		}
		list, err := svc.ListClients(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "mof-fees" || list[1].ID != "moh-portal" {
			t.Fatalf("ListClients = %+v, %v; want mof-fees and moh-portal", list, err)
		}
		secret, err := svc.RotateClientSecret(ctx, "mof-fees")
		if err != nil || len(secret) < 32 {
			t.Fatalf("RotateClientSecret = %q, %v", secret, err)
		}
		if _, err := svc.AuthenticateClient(ctx, "mof-fees", "0123456789abcdef"); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("old secret after RotateClientSecret = %v; want ErrInvalidClient", err)
		}
		if _, err := svc.AuthenticateClient(ctx, "mof-fees", secret); err != nil {
			t.Errorf("new secret = %v; want nil", err)
		}
		if _, err := svc.RotateClientSecret(ctx, "nobody"); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("RotateClientSecret(unknown) = %v; want ErrClientNotFound", err)
		}
		must(t, svc.DisableClient(ctx, "mof-fees"), "DisableClient")
		if _, err := svc.AuthenticateClient(ctx, "mof-fees", secret); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("disabled client = %v; want ErrInvalidClient", err)
		}
		if err := svc.DisableClient(ctx, "nobody"); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("DisableClient(unknown) = %v; want ErrClientNotFound", err)
		}
	})
}

func TestEnsureClientRejectsBadSpecs(t *testing.T) {
	svc := sqliteEnv(t, nil).svc
	for name, tc := range map[string]struct {
		spec  ClientSpec
		field string
	}{
		"bad id":                  {ClientSpec{ID: "MOH Portal", Name: "x", Secret: "0123456789abcdef"}, "client_id"},
		"short secret":            {ClientSpec{ID: "moh", Name: "x", Secret: "short"}, "client_secret"},
		"unknown scope":           {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Scopes: []string{"root"}}, "scopes"},
		"no name":                 {ClientSpec{ID: "moh", Secret: "0123456789abcdef"}, "name"},
		"bidi in organization":    {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Organization: "Ministry of \u202eHealth"}, "organization"},
		"look-alike organization": {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Organization: "Ministry of He\u0430lth"}, "organization"},
	} {
		t.Run(name, func(t *testing.T) {
			err := svc.EnsureClient(context.Background(), tc.spec)
			var fe *rpcerr.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("EnsureClient = %v; want a field error on %s", err, tc.field)
			}
		})
	}
	if _, err := svc.Client(context.Background(), "moh"); !errors.Is(err, ErrClientNotFound) {
		t.Errorf("a refused spec was stored: Client = %v", err)
	}
}

// TestIssueToken drives the token endpoint through the gRPC adapter, so
// that the OAuth 2.0 error codes the gateway relies on are checked.
func TestIssueToken(t *testing.T) {
	e := sqliteEnv(t, nil)
	ctx := context.Background()
	must(t, e.svc.EnsureClient(ctx, ClientSpec{ID: "moh-portal", Name: "MoH", Ministry: "moh", Organization: "Ministry of Health", Secret: "s3cret-s3cret-s3cret",
		Scopes: []string{scope.NotificationsSend, scope.CitizensRead}}), "EnsureClient")

	resp, err := e.srv.IssueToken(ctx, &authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "moh-portal",
		ClientSecret: "s3cret-s3cret-s3cret", Scope: scope.NotificationsSend})
	if err != nil {
		t.Fatalf("IssueToken = %v", err)
	}
	if resp.GetTokenType() != "Bearer" || resp.GetExpiresIn() != 600 || resp.GetScope() != scope.NotificationsSend || resp.GetRefreshToken() != "" {
		t.Errorf("token response = %v; want a 600 s Bearer token with scope %s and no refresh token", resp, scope.NotificationsSend)
	}
	p := e.principal(t, resp.GetAccessToken())
	if !p.IsClient() || p.Subject != "moh-portal" || p.ClientID != "moh-portal" || p.ACR != "" || !slices.Equal(p.Scopes, []string{scope.NotificationsSend}) {
		t.Errorf("client token principal = %+v", p)
	}
	var claims jwks.Claims
	if _, _, err := jwt.NewParser().ParseUnverified(resp.GetAccessToken(), &claims); err != nil || claims.Ministry != "moh" {
		t.Errorf("client token ministry claim = %q (%v); want the client's registered ministry moh", claims.Ministry, err)
	}
	if claims.OrgName != "Ministry of Health" {
		t.Errorf("client token org_name claim = %q; want the client's registered organisation Ministry of Health", claims.OrgName)
	}
	all, err := e.svc.IssueToken(ctx, TokenRequest{GrantType: "client_credentials", ClientID: "moh-portal", ClientSecret: "s3cret-s3cret-s3cret"})
	if err != nil || all.Scope != scope.CitizensRead+" "+scope.NotificationsSend {
		t.Errorf("IssueToken(no scope) = %+v, %v; want every granted scope", all, err)
	}

	for name, tc := range map[string]struct {
		req    *authv1.IssueTokenRequest
		code   codes.Code
		reason string
		field  string
	}{
		"wrong secret": {&authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "moh-portal", ClientSecret: "wrong-wrong-wrong"},
			codes.Unauthenticated, "invalid_client", ""},
		"unknown client": {&authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "nobody", ClientSecret: "s3cret-s3cret-s3cret"},
			codes.Unauthenticated, "invalid_client", ""},
		"scope not granted": {&authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "moh-portal", ClientSecret: "s3cret-s3cret-s3cret", Scope: scope.PaymentsWrite},
			codes.InvalidArgument, "invalid_scope", "scope"},
		"unknown scope": {&authv1.IssueTokenRequest{GrantType: "client_credentials", ClientId: "moh-portal", ClientSecret: "s3cret-s3cret-s3cret", Scope: "root"},
			codes.InvalidArgument, "invalid_scope", "scope"},
		"password grant": {&authv1.IssueTokenRequest{GrantType: "password", ClientId: "moh-portal", ClientSecret: "s3cret-s3cret-s3cret"},
			codes.InvalidArgument, "unsupported_grant_type", "grant_type"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.srv.IssueToken(ctx, tc.req)
			if status.Code(err) != tc.code || rpcerr.Reason(err) != tc.reason {
				t.Fatalf("IssueToken = %v (reason %q); want %v with reason %q", err, rpcerr.Reason(err), tc.code, tc.reason)
			}
			if tc.field != "" {
				if v := rpcerr.FieldViolations(err); len(v) != 1 || v[0].Field != tc.field {
					t.Errorf("violations = %v; want one on %s", v, tc.field)
				}
			}
		})
	}
}
