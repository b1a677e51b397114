package content

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func TestVersions(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()

		t.Run("two editors save from the same version: the second gets 409 naming the current version", func(t *testing.T) {
			it := h.create("occ")
			a, b := it.Content, it.Content
			a.Tags = []string{"first"}
			b.Tags = []string{"second"}
			if _, err := h.svc.SaveDraft(ctx, as(editor), it.ID, it.Version, a); err != nil {
				t.Fatal(err)
			}
			_, err := h.svc.SaveDraft(ctx, as(editor2), it.ID, it.Version, b)
			var vc *VersionConflictError
			if !errors.As(err, &vc) || vc.Current != 2 || vc.Base != 1 {
				t.Fatalf("second save = %v; want a version conflict naming version 2", err)
			}
			st := status.Convert((&grpcServer{svc: h.svc}).toStatus(ctx, err))
			if st.Code() != codes.Aborted || !strings.Contains(st.Message(), "version 2") {
				t.Errorf("status = %s %q; want Aborted (409) naming version 2", st.Code(), st.Message())
			}
			if got := h.must(h.svc.GetItem(ctx, as(editor), it.ID)); got.Version != 2 || got.Tags[0] != "first" {
				t.Errorf("item after the conflict = v%d %v; want v2 with the first editor's tags", got.Version, got.Tags)
			}
		})

		t.Run("concurrent saves from one version: exactly one wins", func(t *testing.T) {
			it := h.create("occ-race")
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := it.Content
					c.Tags = []string{"t" + string(rune('a'+i))}
					_, errs[i] = h.svc.SaveDraft(ctx, as(editor), it.ID, it.Version, c)
				}()
			}
			wg.Wait()
			wins := 0
			for _, err := range errs {
				var vc *VersionConflictError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &vc):
				default:
					t.Errorf("save: %v; want success or a version conflict", err)
				}
			}
			if wins != 1 || h.count(`SELECT COUNT(*) FROM content_versions WHERE item_id = $1`, it.ID) != 2 {
				t.Errorf("%d saves won, %d versions; want 1 and 2", wins, h.count(`SELECT COUNT(*) FROM content_versions WHERE item_id = $1`, it.ID))
			}
		})

		t.Run("diff shows exactly the changed fields", func(t *testing.T) {
			it := h.create("diff")
			c := serviceContent("diff")
			ar := c.Translations["ar"]
			ar.Title = "تجديد جواز السفر للمغتربين"
			ar.Fees = []Fee{{Description: "رسوم التجديد", Amount: 200000, Currency: "JOD"}}
			en := c.Translations["en"]
			en.Steps = append(en.Steps, "Collect the passport")
			c.Translations = map[string]Translation{"ar": ar, "en": en}
			c.Tags = []string{"passports"}
			h.must(h.svc.SaveDraft(ctx, as(author), it.ID, 1, c))
			got, err := h.svc.DiffVersions(ctx, as(editor), it.ID, 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			want := []Change{
				{"tags", "passports, civil-affairs", "passports"},
				{"translations.ar.title", "تجديد جواز السفر", "تجديد جواز السفر للمغتربين"},
				{"translations.ar.fees[0].amount", "150000", "200000"},
				{"translations.en.steps[2]", "", "Collect the passport"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("diff =\n%q\nwant\n%q", got, want)
			}
			if same, _ := h.svc.DiffVersions(ctx, as(editor), it.ID, 2, 2); len(same) != 0 {
				t.Errorf("diff of a version with itself = %v; want none", same)
			}
			_, err = h.svc.DiffVersions(ctx, as(editor), it.ID, 1, 9)
			wantErr(t, err, rpcerr.ErrNotFound)
		})

		t.Run("rollback creates a new version equal to the old one", func(t *testing.T) {
			it := h.create("rollback")
			c := it.Content
			c.Tags = []string{"changed"}
			h.must(h.svc.SaveDraft(ctx, as(author), it.ID, 1, c))
			got := h.must(h.svc.RollbackItem(ctx, as(editor), it.ID, 1, ""))
			if got.Version != 3 || got.State != StateDraft {
				t.Fatalf("after rollback: v%d %s; want v3 draft", got.Version, got.State)
			}
			v1 := h.must(h.svc.GetVersion(ctx, as(editor), it.ID, 1))
			if !reflect.DeepEqual(got.Content, v1.Content) {
				t.Errorf("v3 = %+v; want v1's content %+v", got.Content, v1.Content)
			}
			if d, _ := h.svc.DiffVersions(ctx, as(editor), it.ID, 1, 3); len(d) != 0 {
				t.Errorf("diff v1..v3 = %v; want none", d)
			}
			vs, _, err := h.svc.ListVersions(ctx, as(editor), it.ID, 2, "")
			if err != nil || len(vs) != 2 || vs[0].Version != 3 || vs[0].SavedBy != editor {
				t.Errorf("versions page = %+v, %v; want v3 (by %s) first, two per page", vs, err, editor)
			}
			// Old versions are untouched.
			if v2 := h.must(h.svc.GetVersion(ctx, as(editor), it.ID, 2)); v2.Tags[0] != "changed" {
				t.Errorf("v2 changed: %v", v2.Tags)
			}
		})

		t.Run("slugs belong to one item", func(t *testing.T) {
			h.create("taken")
			_, err := h.svc.CreateItem(ctx, as(author), CreateInput{Type: "service", Ministry: moh, Content: serviceContent("taken")})
			wantField(t, err, "translations.en.slug")
		})
	})
}
