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
		"bad id":                        {ClientSpec{ID: "MOH Portal", Name: "x", Secret: "0123456789abcdef"}, "client_id"},
		"short secret":                  {ClientSpec{ID: "moh", Name: "x", Secret: "short"}, "client_secret"},
		"unknown scope":                 {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Scopes: []string{"root"}}, "scopes"},
		"no name":                       {ClientSpec{ID: "moh", Secret: "0123456789abcdef"}, "name"},
		"bidi in organization":          {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Organization: "Ministry of \u202eHealth"}, "organization"},
		"look-alike organization":       {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", Organization: "Ministry of He\u0430lth"}, "organization"},
		"public with secret":            {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{Public: true, RedirectURIs: []string{"https://moh.ps/cb"}}}, "client_secret"},
		"public without redirect":       {ClientSpec{ID: "moh", Name: "x", CodeFlow: CodeFlow{Public: true}}, "redirect_uris"},
		"http redirect":                 {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{RedirectURIs: []string{"http://moh.ps/cb"}}}, "redirect_uris"},
		"redirect with fragment":        {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{RedirectURIs: []string{"https://moh.ps/cb#x"}}}, "redirect_uris"},
		"relative post-logout":          {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{PostLogoutRedirectURIs: []string{"/bye"}}}, "post_logout_redirect_uris"},
		"loopback with https":           {ClientSpec{ID: "moh", Name: "x", CodeFlow: CodeFlow{Public: true, Loopback: true, RedirectURIs: []string{"https://moh.ps/cb"}}}, "redirect_uris"},
		"unknown auth method":           {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{TokenAuthMethod: "tls_client_auth"}}, "token_endpoint_auth_method"},
		"private_key_jwt without keys":  {ClientSpec{ID: "moh", Name: "x", CodeFlow: CodeFlow{TokenAuthMethod: "private_key_jwt"}}, "jwks"},
		"private_key_jwt with a secret": {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{TokenAuthMethod: "private_key_jwt", JWKSURI: "https://moh.ps/jwks"}}, "client_secret"},
		"jwks of a secret client":       {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{JWKS: `{"keys":[]}`}}, "jwks"},
		"bad jwks":                      {ClientSpec{ID: "moh", Name: "x", CodeFlow: CodeFlow{TokenAuthMethod: "private_key_jwt", JWKS: `{"keys":[]}`}}, "jwks"},
		"http back-channel URI":         {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{BackchannelLogoutURI: "http://moh.ps/bye"}}, "backchannel_logout_uri"},
		"unknown ID token alg":          {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{IDTokenAlg: "HS256"}}, "id_token_signed_response_alg"},
		"unknown acr":                   {ClientSpec{ID: "moh", Name: "x", Secret: "0123456789abcdef", CodeFlow: CodeFlow{MaxACR: "loa3"}}, "max_acr"},
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

// TestCodeFlowClients stores clients of the authorization code flow on
// both engines and matches redirect URIs as RFC 8252 section 7.3 says.
func TestCodeFlowClients(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, nil).svc
		portal := ClientSpec{ID: "demo-portal", Name: "Portal", Organization: "Demo Ministry", CodeFlow: CodeFlow{
			Public: true, Loopback: true, MaxACR: ACRStepUp,
			RedirectURIs:           []string{"http://127.0.0.1/callback", "http://[::1]/callback"},
			PostLogoutRedirectURIs: []string{"http://127.0.0.1/callback/bye"},
		}}
		must(t, svc.EnsureClient(ctx, portal), "EnsureClient(public)")
		c, err := svc.Client(ctx, "demo-portal")
		if err != nil {
			t.Fatal(err)
		}
		if !c.Public || !c.Loopback || c.TokenAuthMethod != AuthMethodNone || c.MaxACR != ACRStepUp ||
			!slices.Equal(c.RedirectURIs, portal.RedirectURIs) || !slices.Equal(c.PostLogoutRedirectURIs, portal.PostLogoutRedirectURIs) {
			t.Errorf("Client = %+v; want the registered code flow %+v", c.CodeFlow, portal.CodeFlow)
		}
		// A public client has no secret: client_credentials is closed to it.
		if _, err := svc.AuthenticateClient(ctx, "demo-portal", ""); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("AuthenticateClient(public) = %v; want ErrInvalidClient", err)
		}
		for uri, want := range map[string]bool{
			"http://127.0.0.1/callback":           true,
			"http://127.0.0.1:53127/callback":     true,
			"http://[::1]:8000/callback":          true,
			"http://127.0.0.1:53127/callback/":    false,
			"http://127.0.0.1:53127/callback?x=1": false,
			"http://127.0.0.1:53127/other":        false,
			"http://localhost:53127/callback":     false,
			"https://127.0.0.1:53127/callback":    false,
			"http://127.0.0.1:99999/callback":     false,
			"http://u@127.0.0.1:5000/callback":    false,
			"http://127.0.0.1:5000/callback#frag": false,
			"":                                    false,
		} {
			if got := c.RedirectAllowed(uri); got != want {
				t.Errorf("RedirectAllowed(%q) = %v; want %v", uri, got, want)
			}
		}
		if !c.PostLogoutAllowed("http://127.0.0.1:4000/callback/bye") || c.PostLogoutAllowed("http://127.0.0.1:4000/callback") {
			t.Error("PostLogoutAllowed does not match the post-logout URIs alone")
		}
		if !c.ACRAllowed(ACRStepUp) || !c.ACRAllowed(ACRPassword) || c.ACRAllowed("loa3") {
			t.Error("ACRAllowed does not follow max_acr loa2")
		}

		// A confidential client: exact match only, secret by POST.
		must(t, svc.EnsureClient(ctx, ClientSpec{ID: "moh-web", Name: "MoH", Secret: "s3cret-s3cret-s3cret", CodeFlow: CodeFlow{
			TokenAuthMethod: AuthMethodPost, RedirectURIs: []string{"https://moh.ps/cb"},
		}}), "EnsureClient(confidential)")
		c, err = svc.Client(ctx, "moh-web")
		if err != nil {
			t.Fatal(err)
		}
		if c.Public || c.TokenAuthMethod != AuthMethodPost || c.MaxACR != ACRPassword || c.ACRAllowed(ACRStepUp) {
			t.Errorf("confidential client = %+v; want client_secret_post, max acr loa1", c.CodeFlow)
		}
		if !c.RedirectAllowed("https://moh.ps/cb") || c.RedirectAllowed("https://moh.ps:8443/cb") {
			t.Error("a confidential client's redirect URIs must match exactly")
		}
		// Clients of client_credentials only keep working.
		if c, err := svc.AuthenticateClient(ctx, "moh-web", "s3cret-s3cret-s3cret"); err != nil || c.TokenAuthMethod != AuthMethodPost {
			t.Errorf("AuthenticateClient(confidential) = %+v, %v", c, err)
		}
	})
}
