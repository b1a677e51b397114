package auth

import (
	"context"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/scope"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// gatewaySecret is the tests' shared gateway secret.
const gatewaySecret = "gateway-secret-0123456789abcdef-xyz"

// serveGRPC serves svc's gRPC API on a loopback port and returns a client
// connection to it.
func serveGRPC(t *testing.T, svc *Service) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	svc.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// The gateway gets a mapped client's token only with the gateway secret:
// the token is the client's own (its id, its API scopes, verifiable), a
// wrong, missing or unconfigured secret is PermissionDenied, and unknown
// or disabled clients are refused.
func TestGatewayTokenService(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t, func(c *Config) { c.GatewaySecret = gatewaySecret })
	ctx := context.Background()
	must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "mof-xroad", Name: "MoF", Secret: "0123456789abcdef",
		Scopes: []string{scope.PaymentsRead, scope.PaymentsWrite}}))
	must(t, e.svc.CreateClient(ctx, ClientSpec{ID: "off-xroad", Name: "off", Secret: "0123456789abcdef", Scopes: []string{scope.PaymentsRead}}))
	must(t, e.svc.DisableClient(ctx, "off-xroad"))
	client := authv1.NewGatewayTokenServiceClient(serveGRPC(t, e.svc))
	with := func(secret string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, GatewaySecretMetadata, secret)
	}

	resp, err := client.IssueClientToken(with(gatewaySecret), &authv1.IssueClientTokenRequest{ClientId: "mof-xroad"})
	if err != nil {
		t.Fatalf("IssueClientToken(mof-xroad) = %v; want a token", err)
	}
	p := e.principal(t, resp.GetAccessToken())
	if p.ClientID != "mof-xroad" || !p.IsClient() || !p.HasScope(scope.PaymentsRead) || !p.HasScope(scope.PaymentsWrite) {
		t.Errorf("token principal = %+v; want client mof-xroad with payments:read and payments:write", p)
	}
	if resp.GetExpiresIn() <= 0 || !strings.Contains(resp.GetScope(), scope.PaymentsWrite) {
		t.Errorf("expires_in, scope = %d, %q; want positive and the client's scopes", resp.GetExpiresIn(), resp.GetScope())
	}

	for _, tc := range []struct {
		name string
		ctx  context.Context
		id   string
		want codes.Code
	}{
		{"no secret", ctx, "mof-xroad", codes.PermissionDenied},
		{"wrong secret", with(gatewaySecret + "x"), "mof-xroad", codes.PermissionDenied},
		{"two secrets", metadata.AppendToOutgoingContext(with(gatewaySecret), GatewaySecretMetadata, gatewaySecret), "mof-xroad", codes.PermissionDenied},
		{"unknown client", with(gatewaySecret), "nobody", codes.NotFound},
		{"disabled client", with(gatewaySecret), "off-xroad", codes.FailedPrecondition},
		{"no client", with(gatewaySecret), "", codes.InvalidArgument},
	} {
		_, err := client.IssueClientToken(tc.ctx, &authv1.IssueClientTokenRequest{ClientId: tc.id})
		if got := status.Code(err); got != tc.want {
			t.Errorf("%s: IssueClientToken = %v; want %v", tc.name, err, tc.want)
		}
	}

	// Not configured: refused whatever is sent.
	off := sqliteEnv(t, nil)
	must(t, off.svc.CreateClient(ctx, ClientSpec{ID: "mof-xroad", Name: "MoF", Secret: "0123456789abcdef", Scopes: []string{scope.PaymentsRead}}))
	offClient := authv1.NewGatewayTokenServiceClient(serveGRPC(t, off.svc))
	for _, secret := range []string{"", gatewaySecret} {
		if _, err := offClient.IssueClientToken(with(secret), &authv1.IssueClientTokenRequest{ClientId: "mof-xroad"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("unconfigured service, secret %q: IssueClientToken = %v; want PermissionDenied", secret, err)
		}
	}
}

// A short gateway secret is a configuration error.
func TestGatewaySecretValidation(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.GatewaySecret = "short"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "gateway-secret") {
		t.Errorf("Validate(short gateway-secret) = %v; want a gateway-secret problem", err)
	}
}
