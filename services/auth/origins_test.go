package auth

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	authv1 "github.com/tamkeen/tamkeen/proto/tamkeen/auth/v1"
)

// Registration refuses every origin a browser would never send as given,
// or that CORS must not trust, with a reason an operator can act on.
func TestOriginProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origin string
		want   string // a part of the reason; "" accepts
	}{
		{"https://app.ministry.ps", ""},
		{"https://app.ministry.ps:8443", ""},
		{"HTTPS://App.Ministry.PS", ""},
		{"https://xn--mgbaam4bd.ps", ""},
		{"http://localhost:5173", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://[::1]:3000", ""},
		{"http://127.0.0.2", ""},
		{"", "is empty"},
		{"*", "wildcard"},
		{"https://*.ministry.ps", "wildcard"},
		{"null", `"null"`},
		{"http://app.ministry.ps", "must be https"},
		{"http://localhost.evil.ps", "must be https"},
		{"ftp://app.ministry.ps", "must be https"},
		{"https://app.ministry.ps/", "must not have a path"},
		{"https://app.ministry.ps/portal", "must not have a path"},
		{"https://app.ministry.ps?x=1", "must not have a query"},
		{"https://app.ministry.ps#top", "must not have a fragment"},
		{"https://user:pw@app.ministry.ps", "user information"},
		{"https://app.ministry.ps:0", "invalid port"},
		{"https://app.ministry.ps:99999", "invalid port"},
		{"https://app.ministry.ps:", "empty port"},
		{"https://وزارة.ps", "xn-- form"},
		{"https://app ministry.ps", "without spaces"},
		{"app.ministry.ps", "is not an origin"},
		{"//app.ministry.ps", "is not an origin"},
		{"https:app.ministry.ps", "is not an origin"},
		{"https://app_ministry.ps", "invalid host name"},
		{"https://-app.ministry.ps", "invalid host name"},
		{"https://" + strings.Repeat("a", 300) + ".ps", "longer than 300"},
	} {
		_, got := originProblem(tc.origin)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("originProblem(%q) = %q; want accepted", tc.origin, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("originProblem(%q) = %q; want a reason containing %q", tc.origin, got, tc.want)
		}
	}
}

// Accepted origins are stored as browsers serialize them, so that the
// gateway's exact comparison with the Origin header works.
func TestNormalizeOrigins(t *testing.T) {
	t.Parallel()
	got := normalizeOrigins([]string{"HTTPS://App.Ministry.PS:443", "https://app.ministry.ps", "http://LOCALHOST:80", "http://[::1]:3000", "https://b.ps:8443"})
	want := []string{"http://[::1]:3000", "http://localhost", "https://app.ministry.ps", "https://b.ps:8443"}
	if !slices.Equal(got, want) {
		t.Errorf("normalizeOrigins = %q; want %q", got, want)
	}
}

// Origins are registered with the client (create, then replaced by
// update), validated as field errors, kept by EnsureClient, and listed for
// the gateway over gRPC for enabled clients only; on both engines.
func TestClientAllowedOrigins(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := newEnv(t, db, nil).svc
		spa := ClientSpec{ID: "moh-web", Name: "MoH web", Scopes: []string{scope.ContentRead},
			AllowedOrigins: []string{"https://App.MoH.ps", "https://app.moh.ps:443", "http://localhost:5173"},
			CodeFlow:       CodeFlow{Public: true, RedirectURIs: []string{"https://app.moh.ps/cb"}}}
		must(t, svc.CreateClient(ctx, spa), "create moh-web")
		c, err := svc.Client(ctx, "moh-web")
		if want := []string{"http://localhost:5173", "https://app.moh.ps"}; err != nil || !slices.Equal(c.AllowedOrigins, want) {
			t.Fatalf("origins after create = %q, %v; want %q", c.AllowedOrigins, err, want)
		}

		bad := ClientSpec{ID: "bad-web", Name: "bad", Secret: "0123456789abcdef", AllowedOrigins: []string{"https://*.moh.ps", "https://ok.ps/path"}}
		err = svc.CreateClient(ctx, bad)
		var fe *rpcerr.FieldError
		if !errors.As(err, &fe) || fe.Field != "allowed_origins" || !strings.Contains(err.Error(), "wildcard") || !strings.Contains(err.Error(), "path") {
			t.Errorf("CreateClient(bad origins) = %v; want allowed_origins field errors naming the wildcard and the path", err)
		}
		many := make([]string, MaxAllowedOrigins+1)
		for i := range many {
			many[i] = "https://a" + strings.Repeat("b", i) + ".ps"
		}
		if err := svc.SetClientAllowedOrigins(ctx, "moh-web", many); !errors.As(err, &fe) || !strings.Contains(err.Error(), "at most") {
			t.Errorf("SetClientAllowedOrigins(%d origins) = %v; want at most %d", len(many), err, MaxAllowedOrigins)
		}
		if err := svc.SetClientAllowedOrigins(ctx, "nobody", []string{"https://a.ps"}); !errors.Is(err, ErrClientNotFound) {
			t.Errorf("SetClientAllowedOrigins(unknown) = %v; want ErrClientNotFound", err)
		}

		fin := ClientSpec{ID: "mof-app", Name: "MoF", Secret: "0123456789abcdef", Scopes: []string{scope.PaymentsRead}}
		must(t, svc.CreateClient(ctx, fin), "create mof-app")
		must(t, svc.SetClientAllowedOrigins(ctx, "mof-app", []string{"https://pay.mof.ps", "https://pay.mof.ps"}), "update mof-app")
		// EnsureClient (tamkeen dev's seeding) leaves registered origins.
		must(t, svc.EnsureClient(ctx, fin), "ensure mof-app")
		must(t, svc.CreateClient(ctx, ClientSpec{ID: "off-app", Name: "off", Secret: "0123456789abcdef", AllowedOrigins: []string{"https://off.ps"}}), "create off-app")
		must(t, svc.DisableClient(ctx, "off-app"), "disable off-app")
		must(t, svc.CreateClient(ctx, ClientSpec{ID: "no-web", Name: "none", Secret: "0123456789abcdef"}), "create no-web")

		// What the gateway sees, through a real gRPC server.
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
		resp, err := authv1.NewClientOriginsServiceClient(cc).ListClientOrigins(ctx, &authv1.ListClientOriginsRequest{})
		if err != nil {
			t.Fatalf("ListClientOrigins: %v", err)
		}
		var got []string
		for _, c := range resp.GetClients() {
			got = append(got, c.GetClientId()+"="+strings.Join(c.GetOrigins(), ","))
		}
		if want := []string{"mof-app=https://pay.mof.ps", "moh-web=http://localhost:5173,https://app.moh.ps"}; !slices.Equal(got, want) {
			t.Errorf("ListClientOrigins = %q; want %q (enabled clients with origins only)", got, want)
		}

		// Update replaces; none removes.
		must(t, svc.SetClientAllowedOrigins(ctx, "moh-web", nil), "clear moh-web")
		by, err := svc.ClientOrigins(ctx)
		if err != nil || len(by) != 1 || by["moh-web"] != nil {
			t.Errorf("ClientOrigins after clearing moh-web = %v, %v; want only mof-app", by, err)
		}
	})
}
