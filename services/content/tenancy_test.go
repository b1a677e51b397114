package content

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

const (
	mof    = "mof" // Ministry of Finance
	mofApp = "mof-portal"
)

// roleRows is every role grant, as "ministry/subject/role/granted_by",
// to show that a refused call changed nothing.
func (h *harness) roleRows() string {
	h.t.Helper()
	rows, err := h.db.QueryContext(context.Background(), `SELECT ministry, subject, role, granted_by FROM content_roles ORDER BY ministry, subject, role`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m, s, r, by string
		if err := rows.Scan(&m, &s, &r, &by); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, m+"/"+s+"/"+r+"/"+by)
	}
	return strings.Join(out, "\n")
}

// itemState is an item's row and history length, to show that a refused
// call changed nothing.
func (h *harness) itemState(id string) string {
	h.t.Helper()
	var st string
	var v, pv, n int
	if err := h.db.QueryRowContext(context.Background(), `SELECT state, version, published_version,
		(SELECT COUNT(*) FROM content_transitions WHERE item_id = $1) FROM content_items WHERE id = $1`, id).Scan(&st, &v, &pv, &n); err != nil {
		h.t.Fatal(err)
	}
	return st + " v" + strconv.Itoa(v) + " live v" + strconv.Itoa(pv) + " transitions " + strconv.Itoa(n)
}

// TestMinistryIsolation is issue 12's "a ministry manages only its own
// ministry": a client of mof holding content:roles cannot grant or revoke
// roles in moh, and even holding roles in moh (granted before this check
// existed) it cannot act on moh's items; nothing changes. A client whose
// token names no ministry manages none; content:admin manages all.
func TestMinistryIsolation(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h, tk, c := grpcHarnessOn(t, db, nil)
		ctx := context.Background()
		every := []string{"content:roles", "content:write", "content:read"}
		mofTok := bearer(tk.clientOf(t, mofApp, mof, every...))

		// moh's live item, and a second one waiting for review.
		live := h.published("moh-live")
		review := h.submitted("moh-review")
		// Roles in moh that mof's client holds from before the check
		// (the very grants the attack made): they must not help it.
		for _, r := range Roles {
			if _, err := h.svc.GrantRole(ctx, PlatformAdmin("platform"), moh, mofApp, string(r)); err != nil {
				t.Fatal(err)
			}
		}
		roles := h.roleRows()
		liveBefore, reviewBefore := h.itemState(live.ID), h.itemState(review.ID)

		t.Run("mof cannot grant or revoke in moh", func(t *testing.T) {
			if _, err := c.GrantRole(mofTok, &contentv1.GrantRoleRequest{Ministry: moh, Subject: mofApp, Role: "publisher"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("GrantRole in moh by mof's client = %v; want PermissionDenied", err)
			}
			if _, err := c.GrantRole(mofTok, &contentv1.GrantRoleRequest{Ministry: moh, Subject: "cit_mof_friend", Role: "editor"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("GrantRole in moh to someone else by mof's client = %v; want PermissionDenied", err)
			}
			if _, err := c.RevokeRole(mofTok, &contentv1.RevokeRoleRequest{Ministry: moh, Subject: publisher, Role: "publisher"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("RevokeRole of moh's publisher by mof's client = %v; want PermissionDenied", err)
			}
			if got := h.roleRows(); got != roles {
				t.Errorf("roles after refused calls:\n%s\nwant unchanged:\n%s", got, roles)
			}
		})

		t.Run("mof cannot act in moh", func(t *testing.T) {
			tr := map[string]*contentv1.Translation{"en": {Slug: "mof-in-moh", Title: "A page", Body: "Text"}}
			calls := map[string]func() error{
				"create": func() error {
					_, err := c.CreateItem(mofTok, &contentv1.CreateItemRequest{Type: "page", Ministry: moh, Translations: tr})
					return err
				},
				"get":  func() error { _, err := c.GetItem(mofTok, &contentv1.GetItemRequest{Id: live.ID}); return err },
				"list": func() error { _, err := c.ListItems(mofTok, &contentv1.ListItemsRequest{Ministry: moh}); return err },
				"save": func() error {
					_, err := c.SaveDraft(mofTok, &contentv1.SaveDraftRequest{Id: live.ID, BaseVersion: int32(live.Version), Translations: tr})
					return err
				},
				"submit": func() error { _, err := c.SubmitItem(mofTok, &contentv1.SubmitItemRequest{Id: review.ID}); return err },
				"approve": func() error {
					_, err := c.ApproveItem(mofTok, &contentv1.ApproveItemRequest{Id: review.ID})
					return err
				},
				"reject": func() error {
					_, err := c.RejectItem(mofTok, &contentv1.RejectItemRequest{Id: review.ID, Comment: "no"})
					return err
				},
				"publish": func() error {
					_, err := c.PublishItem(mofTok, &contentv1.PublishItemRequest{Id: review.ID})
					return err
				},
				"schedule": func() error {
					_, err := c.PublishItem(mofTok, &contentv1.PublishItemRequest{Id: review.ID, PublishTime: timestamppb.New(h.clk.Now().Add(time.Hour))})
					return err
				},
				"unpublish": func() error {
					_, err := c.UnpublishItem(mofTok, &contentv1.UnpublishItemRequest{Id: live.ID, Comment: "gone"})
					return err
				},
				"archive": func() error { _, err := c.ArchiveItem(mofTok, &contentv1.ArchiveItemRequest{Id: live.ID}); return err },
				"rollback": func() error {
					_, err := c.RollbackItem(mofTok, &contentv1.RollbackItemRequest{Id: live.ID, Version: 1})
					return err
				},
				"versions": func() error {
					_, err := c.ListItemVersions(mofTok, &contentv1.ListItemVersionsRequest{Id: live.ID})
					return err
				},
				"version": func() error {
					_, err := c.GetItemVersion(mofTok, &contentv1.GetItemVersionRequest{Id: live.ID, Version: 1})
					return err
				},
				"diff": func() error {
					_, err := c.DiffItemVersions(mofTok, &contentv1.DiffItemVersionsRequest{Id: live.ID, FromVersion: 1, ToVersion: 1})
					return err
				},
				"transitions": func() error {
					_, err := c.ListTransitions(mofTok, &contentv1.ListTransitionsRequest{Id: live.ID})
					return err
				},
			}
			for name, call := range calls {
				if err := call(); status.Code(err) != codes.PermissionDenied {
					t.Errorf("%s of a moh item by mof's client = %v; want PermissionDenied", name, err)
				}
			}
			// Listing without a ministry shows mof's client nothing of moh.
			l, err := c.ListItems(mofTok, &contentv1.ListItemsRequest{})
			if err != nil || len(l.GetItems()) != 0 {
				t.Errorf("mof's client lists %d items, %v; want none of moh's", len(l.GetItems()), err)
			}
			if got := h.itemState(live.ID); got != liveBefore {
				t.Errorf("live item after refused calls = %s; want %s", got, liveBefore)
			}
			if got := h.itemState(review.ID); got != reviewBefore {
				t.Errorf("item in review after refused calls = %s; want %s", got, reviewBefore)
			}
			if n := h.count(`SELECT COUNT(*) FROM content_items WHERE ministry = $1`, moh); n != 2 {
				t.Errorf("moh has %d items; want the 2 it had", n)
			}
			if pc, err := h.svc.GetPublicContent(ctx, "moh-live", "en"); err != nil || pc.ID != live.ID {
				t.Errorf("moh's public page after the attack = %v, %v; want it still live", pc.ID, err)
			}
		})

		t.Run("a client token without a ministry manages none", func(t *testing.T) {
			noMinistry := bearer(tk.clientOf(t, mohApp, "", every...))
			if _, err := c.GrantRole(noMinistry, &contentv1.GrantRoleRequest{Ministry: moh, Subject: "cit_x", Role: "author"}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("GrantRole without a ministry claim = %v; want PermissionDenied", err)
			}
			if _, err := c.GetItem(noMinistry, &contentv1.GetItemRequest{Id: live.ID}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("GetItem without a ministry claim = %v; want PermissionDenied (mohApp holds every role in moh)", err)
			}
			if got := h.roleRows(); got != roles {
				t.Errorf("roles changed:\n%s", got)
			}
		})

		t.Run("a ministry manages its own", func(t *testing.T) {
			if _, err := c.GrantRole(mofTok, &contentv1.GrantRoleRequest{Ministry: mof, Subject: mofApp, Role: "author"}); err != nil {
				t.Fatalf("GrantRole in mof by mof's client = %v", err)
			}
			it, err := c.CreateItem(mofTok, &contentv1.CreateItemRequest{Type: "page", Ministry: mof,
				Translations: map[string]*contentv1.Translation{"en": {Slug: "mof-own", Title: "A page", Body: "Text"}}})
			if err != nil || it.GetMinistry() != mof {
				t.Fatalf("CreateItem in mof by mof's client = %v, %v", it, err)
			}
			if _, err := c.RevokeRole(mofTok, &contentv1.RevokeRoleRequest{Ministry: mof, Subject: mofApp, Role: "author"}); err != nil {
				t.Fatalf("RevokeRole in mof by mof's client = %v", err)
			}
			mohTok := bearer(tk.clientOf(t, mohApp, moh, every...))
			if _, err := c.GetItem(mohTok, &contentv1.GetItemRequest{Id: live.ID}); err != nil {
				t.Errorf("GetItem by moh's own client = %v", err)
			}
		})

		t.Run("content:admin manages every ministry", func(t *testing.T) {
			admin := bearer(tk.clientOf(t, "platform-ops", "", "content:admin"))
			g, err := c.GrantRole(admin, &contentv1.GrantRoleRequest{Ministry: moh, Subject: "cit_new_publisher", Role: "publisher"})
			if err != nil || g.GetMinistry() != moh {
				t.Fatalf("GrantRole in moh with content:admin = %v, %v", g, err)
			}
			if n := h.count(`SELECT COUNT(*) FROM content_roles WHERE ministry = $1 AND subject = $2 AND granted_by = $3`, moh, "cit_new_publisher", "platform-ops"); n != 1 {
				t.Errorf("grant by the platform admin recorded %d times; want once, naming it", n)
			}
			if _, err := c.RevokeRole(admin, &contentv1.RevokeRoleRequest{Ministry: moh, Subject: mofApp, Role: "publisher"}); err != nil {
				t.Fatalf("RevokeRole in moh with content:admin = %v", err)
			}
		})

		t.Run("staff act only where they hold a role", func(t *testing.T) {
			// molEditor holds author and editor in mol only.
			staff := bearer(tk.staff(t, molEditor, "loa1"))
			if _, err := c.CreateItem(staff, &contentv1.CreateItemRequest{Type: "page", Ministry: moh,
				Translations: map[string]*contentv1.Translation{"en": {Slug: "mol-staff-in-moh", Title: "A page", Body: "Text"}}}); status.Code(err) != codes.PermissionDenied {
				t.Errorf("mol's staff creating in moh = %v; want PermissionDenied", err)
			}
			if _, err := c.CreateItem(staff, &contentv1.CreateItemRequest{Type: "page", Ministry: mol,
				Translations: map[string]*contentv1.Translation{"en": {Slug: "mol-staff-in-mol", Title: "A page", Body: "Text"}}}); err != nil {
				t.Errorf("mol's staff creating in mol = %v", err)
			}
		})
	})
}

// TestFourEyes: whoever submitted or wrote the version under review cannot
// approve it, even holding the editor role; another editor can. A
// ministry listed in content-four-eyes-off (a one-person team) may.
func TestFourEyes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		const solo = "cit_solo"
		setup := func(t *testing.T, off []string) *harness {
			h := newHarness(t, db, func(c *Config, _ *Deps) { c.FourEyesOff = off })
			for _, r := range []string{"author", "editor"} {
				if _, err := h.svc.GrantRole(context.Background(), PlatformAdmin("platform"), moh, solo, r); err != nil {
					t.Fatal(err)
				}
			}
			return h
		}
		ctx := context.Background()
		h := setup(t, nil)

		t.Run("the submitter cannot approve", func(t *testing.T) {
			it := h.must(h.svc.CreateItem(ctx, as(solo), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("solo-1")}))
			it = h.must(h.svc.Transition(ctx, as(solo), it.ID, ActionSubmit, ""))
			before := h.itemState(it.ID)
			_, err := h.svc.Transition(ctx, as(solo), it.ID, ActionApprove, "looks fine to me")
			wantErr(t, err, rpcerr.ErrPermissionDenied)
			if got := h.itemState(it.ID); got != before {
				t.Errorf("refused approval changed the item: %s; want %s", got, before)
			}
			if got := h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, "")); got.State != StateApproved {
				t.Errorf("another editor's approval = %s; want approved", got.State)
			}
		})
		t.Run("the author of the version cannot approve it either", func(t *testing.T) {
			// solo writes version 2, the author submits it.
			it := h.create("solo-2")
			it = h.must(h.svc.SaveDraft(ctx, as(solo), it.ID, it.Version, it.Content))
			h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, ""))
			_, err := h.svc.Transition(ctx, as(solo), it.ID, ActionApprove, "")
			wantErr(t, err, rpcerr.ErrPermissionDenied)
			// Rejecting one's own work is allowed: it asks for changes.
			h.must(h.svc.Transition(ctx, as(solo), it.ID, ActionReject, "not ready"))
		})
		t.Run("a ministry may turn it off", func(t *testing.T) {
			h := setup(t, []string{moh})
			it := h.must(h.svc.CreateItem(ctx, as(solo), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("solo-off")}))
			h.must(h.svc.Transition(ctx, as(solo), it.ID, ActionSubmit, ""))
			if got := h.must(h.svc.Transition(ctx, as(solo), it.ID, ActionApprove, "")); got.State != StateApproved {
				t.Errorf("self-approval with four-eyes off = %s; want approved", got.State)
			}
		})
	})
}
