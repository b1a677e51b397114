package content

import (
	"context"
	"net"
	"strconv"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

// grpcHarness serves the service on a loopback gRPC server with a real
// token verifier, as the gateway reaches it.
func grpcHarness(t *testing.T) (*harness, *tokens, contentv1.ContentServiceClient) {
	t.Helper()
	return grpcHarnessOn(t, storetest.SQLite(t), nil)
}

// grpcHarnessOn is grpcHarness on db; edit may change the configuration.
func grpcHarnessOn(t *testing.T, db *store.DB, edit func(*Config)) (*harness, *tokens, contentv1.ContentServiceClient) {
	t.Helper()
	clk := newClock()
	tk := newTokens(t, clk)
	h := newHarness(t, db, func(c *Config, d *Deps) {
		d.Verifier = tk.verifier(t)
		if edit != nil {
			edit(c)
		}
	})
	srv := grpc.NewServer()
	h.svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return h, tk, contentv1.NewContentServiceClient(conn)
}

func bearer(tok string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

func TestGRPCAuthorization(t *testing.T) {
	h, tk, c := grpcHarness(t)
	n := 0
	create := func(ctx context.Context, ministry string) error {
		n++
		_, err := c.CreateItem(ctx, &contentv1.CreateItemRequest{Type: "page", Ministry: ministry, Translations: map[string]*contentv1.Translation{
			"en": {Slug: "p-" + ministry + "-" + strconv.Itoa(n), Title: "A page", Body: "Text"}}})
		return err
	}
	tests := []struct {
		name     string
		ctx      context.Context
		ministry string
		want     codes.Code
	}{
		{"no token", context.Background(), moh, codes.Unauthenticated},
		{"garbage token", bearer("not.a.jwt"), moh, codes.Unauthenticated},
		{"client without content:write", bearer(tk.client(t, mohApp, "content:read")), moh, codes.PermissionDenied},
		{"client with scope and roles", bearer(tk.clientOf(t, mohApp, moh, "content:write")), moh, codes.OK},
		{"client with scope, other ministry", bearer(tk.clientOf(t, mohApp, moh, "content:write")), mol, codes.PermissionDenied},
		{"staff author at loa1", bearer(tk.staff(t, author, "loa1")), moh, codes.OK},
		{"staff author without acr", bearer(tk.staff(t, author, "")), moh, codes.PermissionDenied},
		{"staff of another ministry", bearer(tk.staff(t, molEditor, "loa1")), moh, codes.PermissionDenied},
		{"staff without any role", bearer(tk.staff(t, nobody, "loa2")), moh, codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(create(tc.ctx, tc.ministry)); got != tc.want {
				t.Errorf("CreateItem = %s; want %s", got, tc.want)
			}
		})
	}

	t.Run("roles are managed only with content:roles or content:admin", func(t *testing.T) {
		req := &contentv1.GrantRoleRequest{Ministry: moh, Subject: "cit_new", Role: "author"}
		if _, err := c.GrantRole(bearer(tk.client(t, mohApp, "content:write")), req); status.Code(err) != codes.PermissionDenied {
			t.Errorf("GrantRole without content:roles = %v; want PermissionDenied", err)
		}
		if _, err := c.GrantRole(bearer(tk.staff(t, publisher, "loa2")), req); status.Code(err) != codes.PermissionDenied {
			t.Errorf("GrantRole by a staff token = %v; want PermissionDenied", err)
		}
		g, err := c.GrantRole(bearer(tk.client(t, "platform", "content:admin")), req)
		if err != nil || g.GetRole() != "author" {
			t.Fatalf("GrantRole = %v, %v", g, err)
		}
		bad := &contentv1.GrantRoleRequest{Ministry: "M O H", Subject: "", Role: "owner"}
		_, err = c.GrantRole(bearer(tk.client(t, "platform", "content:admin")), bad)
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("bad grant = %v; want InvalidArgument", err)
		}
		var fields []string
		for _, d := range status.Convert(err).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		if len(fields) != 3 {
			t.Errorf("bad grant names fields %v; want ministry, subject and role", fields)
		}
	})

	t.Run("409 carries the current version", func(t *testing.T) {
		ctx := bearer(tk.staff(t, author, "loa1"))
		it, err := c.CreateItem(ctx, &contentv1.CreateItemRequest{Type: "page", Ministry: moh, Translations: map[string]*contentv1.Translation{
			"ar": {Slug: "صفحة", Title: "صفحة", Body: "نص"}}})
		if err != nil {
			t.Fatal(err)
		}
		save := &contentv1.SaveDraftRequest{Id: it.GetId(), BaseVersion: 1, Translations: it.GetTranslations()}
		if _, err := c.SaveDraft(ctx, save); err != nil {
			t.Fatal(err)
		}
		_, err = c.SaveDraft(ctx, save)
		st := status.Convert(err)
		var current string
		for _, d := range st.Details() {
			if ei, ok := d.(*errdetails.ErrorInfo); ok {
				current = ei.GetMetadata()["current_version"]
			}
		}
		if st.Code() != codes.Aborted || current != "2" {
			t.Errorf("stale save = %s %q current_version=%q; want Aborted with current_version 2", st.Code(), st.Message(), current)
		}
	})

	t.Run("public read needs no token and sends ETag and Cache-Control headers", func(t *testing.T) {
		h.published("public-grpc")
		var hdr metadata.MD
		pc, err := c.GetPublicContent(context.Background(), &contentv1.GetPublicContentRequest{Slug: "public-grpc", Lang: "en"}, grpc.Header(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if got := hdr.Get(HeaderETag); len(got) != 1 || got[0] != pc.GetEtag() || pc.GetEtag() == "" {
			t.Errorf("etag header %v, field %q; want the same, non-empty", got, pc.GetEtag())
		}
		if got := hdr.Get(HeaderCacheControl); len(got) != 1 || got[0] != "public, max-age=60" {
			t.Errorf("cache-control header = %v", got)
		}
		if pc.GetTranslation().GetEligibilityHtml() == "" || pc.GetTranslation().GetEligibility() != "" {
			t.Errorf("public translation = %v; want eligibility as HTML only", pc.GetTranslation())
		}
	})
}
