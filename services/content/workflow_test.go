package content

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestWorkflowTable is issue 7's workflow table: each role tries each
// action on an item in the state the action starts from. Allowed cases
// must reach the target state; refused ones must be PermissionDenied (403)
// and change nothing.
func TestWorkflowTable(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		// setup brings a fresh item to the state the action needs.
		setups := map[Action]func(slug string) Item{
			ActionSave:      h.create,
			ActionRollback:  h.create,
			ActionSubmit:    h.create,
			ActionApprove:   func(s string) Item { return h.submitted(s) },
			ActionReject:    func(s string) Item { return h.submitted(s) },
			ActionPublish:   h.approved,
			ActionSchedule:  h.approved,
			ActionUnpublish: h.published,
			ActionArchive:   h.published,
		}
		allowed := map[Action]Role{
			ActionSubmit: RoleAuthor, ActionApprove: RoleEditor, ActionReject: RoleEditor,
			ActionPublish: RolePublisher, ActionSchedule: RolePublisher, ActionUnpublish: RolePublisher, ActionArchive: RolePublisher,
		}
		subjects := map[Role]string{RoleAuthor: author, RoleEditor: editor, RolePublisher: publisher}
		n := 0
		for _, a := range []Action{ActionSave, ActionRollback, ActionSubmit, ActionApprove, ActionReject, ActionPublish, ActionSchedule, ActionUnpublish, ActionArchive} {
			for _, role := range Roles {
				n++
				t.Run(string(a)+"_by_"+string(role), func(t *testing.T) {
					it := setups[a]("wf-" + string(a) + "-" + string(role))
					got, err := h.act(ctx, subjects[role], a, it)
					ok := allowed[a] == role || ((a == ActionSave || a == ActionRollback) && role != RolePublisher)
					if !ok {
						wantErr(t, err, rpcerr.ErrPermissionDenied)
						if after := h.must(h.svc.GetItem(ctx, as(author), it.ID)); after.State != it.State || after.Version != it.Version {
							t.Errorf("refused %s changed the item: %s v%d → %s v%d", a, it.State, it.Version, after.State, after.Version)
						}
						return
					}
					if err != nil {
						t.Fatalf("%s by %s: %v; want it allowed", a, role, err)
					}
					want := target(a, it.State)
					if got.State != want {
						t.Errorf("%s by %s: state %s; want %s", a, role, got.State, want)
					}
				})
			}
		}
		if n != 27 {
			t.Fatalf("table has %d cases; want 3 roles × 9 actions", n)
		}
	})
}

func (h *harness) submitted(slug string) Item {
	h.t.Helper()
	it := h.create(slug)
	return h.must(h.svc.Transition(context.Background(), as(author), it.ID, ActionSubmit, ""))
}

// act takes action a on it as subject.
func (h *harness) act(ctx context.Context, subject string, a Action, it Item) (Item, error) {
	p := as(subject)
	switch a {
	case ActionSave:
		c := it.Content
		tr := c.Translations["en"]
		tr.Title += " (edited)"
		c.Translations = map[string]Translation{"ar": c.Translations["ar"], "en": tr}
		return h.svc.SaveDraft(ctx, p, it.ID, it.Version, c)
	case ActionRollback:
		return h.svc.RollbackItem(ctx, p, it.ID, 1, "")
	case ActionPublish:
		return h.svc.PublishItem(ctx, p, it.ID, time.Time{}, time.Time{}, "")
	case ActionSchedule:
		return h.svc.PublishItem(ctx, p, it.ID, h.clk.Now().Add(time.Hour), time.Time{}, "")
	}
	comment := ""
	if a == ActionReject {
		comment = "needs the fee in ILS too"
	}
	return h.svc.Transition(ctx, p, it.ID, a, comment)
}

func TestWorkflowRules(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()

		t.Run("an author cannot publish", func(t *testing.T) {
			it := h.approved("author-publish")
			_, err := h.svc.PublishItem(ctx, as(author), it.ID, time.Time{}, time.Time{}, "")
			wantErr(t, err, rpcerr.ErrPermissionDenied)
		})
		t.Run("another ministry's editor is refused everywhere", func(t *testing.T) {
			it := h.submitted("cross-ministry")
			for name, call := range map[string]func() error{
				"approve": func() error { _, err := h.svc.Transition(ctx, as(molEditor), it.ID, ActionApprove, ""); return err },
				"save":    func() error { _, err := h.svc.SaveDraft(ctx, as(molEditor), it.ID, it.Version, it.Content); return err },
				"read":    func() error { _, err := h.svc.GetItem(ctx, as(molEditor), it.ID); return err },
				"history": func() error { _, err := h.svc.ListTransitions(ctx, as(molEditor), it.ID); return err },
				"create": func() error {
					_, err := h.svc.CreateItem(ctx, as(molEditor), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("mol-in-moh")})
					return err
				},
			} {
				if err := call(); !errors.Is(err, rpcerr.ErrPermissionDenied) {
					t.Errorf("%s by mol's editor on a moh item = %v; want PermissionDenied", name, err)
				}
			}
			items, _, err := h.svc.ListItems(ctx, as(molEditor), ListFilter{})
			if err != nil || len(items) != 0 {
				t.Errorf("mol editor's list = %d items, %v; want none of moh's", len(items), err)
			}
			if _, _, err := h.svc.ListItems(ctx, as(molEditor), ListFilter{Ministry: moh}); !errors.Is(err, rpcerr.ErrPermissionDenied) {
				t.Errorf("mol editor listing moh = %v; want PermissionDenied", err)
			}
		})
		t.Run("no role at all", func(t *testing.T) {
			_, err := h.svc.CreateItem(ctx, as(nobody), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("nobody")})
			wantErr(t, err, rpcerr.ErrPermissionDenied)
		})
		t.Run("wrong state is a conflict, not a 403", func(t *testing.T) {
			it := h.create("approve-draft")
			_, err := h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, "")
			wantErr(t, err, rpcerr.ErrFailedPrecondition)
		})
		t.Run("reject needs a comment", func(t *testing.T) {
			it := h.submitted("reject-comment")
			_, err := h.svc.Transition(ctx, as(editor), it.ID, ActionReject, " ")
			wantField(t, err, "comment")
		})
		t.Run("revoked role is refused", func(t *testing.T) {
			if _, err := h.svc.GrantRole(ctx, PlatformAdmin("admin"), moh, "cit_temp", "author"); err != nil {
				t.Fatal(err)
			}
			if err := h.svc.RevokeRole(ctx, PlatformAdmin("admin"), moh, "cit_temp", "author"); err != nil {
				t.Fatal(err)
			}
			_, err := h.svc.CreateItem(ctx, as("cit_temp"), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("revoked")})
			wantErr(t, err, rpcerr.ErrPermissionDenied)
			wantErr(t, h.svc.RevokeRole(ctx, PlatformAdmin("admin"), moh, "cit_temp", "author"), rpcerr.ErrNotFound)
		})
		t.Run("every transition is recorded with who, when and the comment", func(t *testing.T) {
			it := h.submitted("history")
			h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionReject, "add the fee"))
			it = h.must(h.svc.GetItem(ctx, as(author), it.ID))
			h.must(h.svc.SaveDraft(ctx, as(author), it.ID, it.Version, it.Content))
			h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, "fixed"))
			h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
			h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, time.Time{}, "go live"))
			h.must(h.svc.Transition(ctx, as(publisher), it.ID, ActionUnpublish, "outdated"))
			h.must(h.svc.Transition(ctx, as(publisher), it.ID, ActionArchive, ""))
			got, err := h.svc.ListTransitions(ctx, as(editor), it.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				a        Action
				from, to State
				actor    string
				comment  string
			}{
				{ActionCreate, "", StateDraft, author, ""},
				{ActionSubmit, StateDraft, StateInReview, author, ""},
				{ActionReject, StateInReview, StateRejected, editor, "add the fee"},
				{ActionSave, StateRejected, StateDraft, author, ""},
				{ActionSubmit, StateDraft, StateInReview, author, "fixed"},
				{ActionApprove, StateInReview, StateApproved, editor, ""},
				{ActionPublish, StateApproved, StatePublished, publisher, "go live"},
				{ActionUnpublish, StatePublished, StateUnpublished, publisher, "outdated"},
				{ActionArchive, StateUnpublished, StateArchived, publisher, ""},
			}
			if len(got) != len(want) {
				t.Fatalf("%d transitions: %+v; want %d", len(got), got, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Action != w.a || g.From != w.from || g.To != w.to || g.Actor != w.actor || g.Comment != w.comment || !g.Time.Equal(h.clk.Now()) {
					t.Errorf("transition %d = %+v; want %+v at %s", i, g, w, h.clk.Now())
				}
			}
			_, err = h.svc.SaveDraft(ctx, as(author), it.ID, 2, it.Content)
			wantErr(t, err, rpcerr.ErrFailedPrecondition) // archived items are frozen
		})
	})
}
