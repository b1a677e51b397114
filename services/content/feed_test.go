package content

import (
	"context"
	"database/sql"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	contentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/content/v1"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// parsedFeed is what the tests read back from a feed document: enough of
// Atom to check ids, languages, order, links and categories.
type parsedFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Lang    string   `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		Lang    string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Link    struct {
			Href     string `xml:"href,attr"`
			HrefLang string `xml:"hreflang,attr"`
		} `xml:"link"`
		Categories []struct {
			Scheme string `xml:"scheme,attr"`
			Term   string `xml:"term,attr"`
		} `xml:"category"`
		Content string `xml:"content"`
	} `xml:"entry"`
}

func parseFeed(t testing.TB, doc []byte) parsedFeed {
	t.Helper()
	var f parsedFeed
	if err := xml.Unmarshal(doc, &f); err != nil {
		t.Fatalf("feed is not Atom XML: %v\n%s", err, doc)
	}
	return f
}

// publishContent takes c (a new moh item of type typ) through the
// workflow and publishes it, expiring at expire when that is set.
func (h *harness) publishContent(typ Type, c Content, expire time.Time) Item {
	h.t.Helper()
	ctx := context.Background()
	it := h.must(h.svc.CreateItem(ctx, as(author), CreateInput{Type: string(typ), Ministry: moh, Content: c}))
	h.must(h.svc.Transition(ctx, as(author), it.ID, ActionSubmit, ""))
	h.must(h.svc.Transition(ctx, as(editor), it.ID, ActionApprove, ""))
	return h.must(h.svc.PublishItem(ctx, as(publisher), it.ID, time.Time{}, expire, ""))
}

// news is a bilingual news item; an empty en leaves English out.
func news(slug, ar, en string, tags ...string) Content {
	c := Content{Tags: tags, Translations: map[string]Translation{
		"ar": {Slug: slug + "-ar", Title: ar, Summary: "ملخص " + ar, Body: "نص **الخبر**."},
	}}
	if en != "" {
		c.Translations["en"] = Translation{Slug: slug, Title: en, Summary: "About " + en, Body: "The **news**."}
	}
	return c
}

func TestPublicFeed(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()

		empty, err := h.svc.PublicFeed(ctx, FeedFilter{Ministry: mol})
		if err != nil || empty.Entries != 0 {
			t.Fatalf("feed of mol (roles, no content) = %d entries, %v; want an empty feed", empty.Entries, err)
		}
		if f := parseFeed(t, empty.Atom); f.Lang != "ar" || len(f.Entries) != 0 || f.Updated != "1970-01-01T00:00:00Z" {
			t.Errorf("empty feed = lang %q, %d entries, updated %s; want ar, none, the epoch", f.Lang, len(f.Entries), f.Updated)
		}

		h.clk.Advance(time.Second)
		clinic := h.publishContent(TypeNews, news("clinic-opens", "افتتاح عيادة في نابلس", "A clinic opens in Nablus", "clinics"), time.Time{})
		h.clk.Advance(time.Second)
		service := h.published("passport")
		h.clk.Advance(time.Second)
		arOnly := h.publishContent(TypeNews, news("vaccines", "حملة تطعيم", "", "vaccines", "clinics"), time.Time{})
		h.clk.Advance(time.Second)
		newest := h.clk.Now()
		expiring := h.publishContent(TypeNews, news("heat-wave", "موجة حر", "Heat wave"), h.clk.Now().Add(time.Hour))
		draft := h.must(h.svc.CreateItem(ctx, as(author), CreateInput{Type: "news", Ministry: moh, Content: news("draft", "مسودة", "Draft news")}))

		ar, err := h.svc.PublicFeed(ctx, FeedFilter{Ministry: moh})
		if err != nil {
			t.Fatal(err)
		}
		f := parseFeed(t, ar.Atom)
		var ids []string
		for _, e := range f.Entries {
			ids = append(ids, e.ID)
		}
		want := []string{
			uuidURN("item|" + expiring.ID + "|ar"), uuidURN("item|" + arOnly.ID + "|ar"),
			uuidURN("item|" + service.ID + "|ar"), uuidURN("item|" + clinic.ID + "|ar"),
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) || ar.Entries != 4 {
			t.Fatalf("Arabic feed ids = %v; want newest first %v", ids, want)
		}
		if f.Lang != "ar" || f.Title != "moh · المحتوى المنشور" || f.Updated != atomTime(newest) {
			t.Errorf("feed = lang %q title %q updated %s; want ar, the Arabic title, the newest publication", f.Lang, f.Title, f.Updated)
		}
		e := f.Entries[3]
		if e.Lang != "ar" || e.Title != "افتتاح عيادة في نابلس" || e.Link.HrefLang != "ar" ||
			e.Link.Href != testIssuer+"/v1/public/content/clinic-opens-ar?lang=ar" ||
			!strings.HasPrefix(e.Content, `<div dir="rtl" lang="ar"><p>نص <strong>الخبر</strong>.</p>`) {
			t.Errorf("Arabic entry = %+v", e)
		}
		if strings.Contains(string(ar.Atom), draft.ID) || strings.Contains(string(ar.Atom), "مسودة") {
			t.Error("a draft reached the feed")
		}

		en, err := h.svc.PublicFeed(ctx, FeedFilter{Ministry: moh, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		fe := parseFeed(t, en.Atom)
		if fe.Lang != "en" || len(fe.Entries) != 4 || fe.Entries[1].Lang != "ar" || fe.Entries[0].Lang != "en" ||
			fe.Entries[0].ID != uuidURN("item|"+expiring.ID+"|en") || !strings.HasPrefix(fe.Entries[0].Content, `<div dir="ltr" lang="en">`) {
			t.Errorf("English feed = lang %s, entries %+v; want en, the Arabic-only item as an ar entry", fe.Lang, fe.Entries)
		}
		if en.ETag == ar.ETag {
			t.Error("the Arabic and English feeds share an ETag")
		}

		for name, c := range map[string]struct {
			filter FeedFilter
			want   []Item
		}{
			"type news":        {FeedFilter{Ministry: moh, Type: "news"}, []Item{expiring, arOnly, clinic}},
			"type service":     {FeedFilter{Ministry: moh, Type: "service"}, []Item{service}},
			"tag clinics":      {FeedFilter{Ministry: moh, Tag: "clinics"}, []Item{arOnly, clinic}},
			"type and tag":     {FeedFilter{Ministry: moh, Type: "news", Tag: "vaccines"}, []Item{arOnly}},
			"no such tag":      {FeedFilter{Ministry: moh, Tag: "none"}, nil},
			"another ministry": {FeedFilter{Ministry: mol, Type: "news"}, nil},
		} {
			got, err := h.svc.PublicFeed(ctx, c.filter)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			var gotIDs, wantIDs []string
			for _, e := range parseFeed(t, got.Atom).Entries {
				gotIDs = append(gotIDs, e.ID)
			}
			for _, it := range c.want {
				wantIDs = append(wantIDs, uuidURN("item|"+it.ID+"|ar"))
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(wantIDs) {
				t.Errorf("%s: entries %v; want %v", name, gotIDs, wantIDs)
			}
		}

		// The same feed is the same document; time alone changes nothing
		// until an item expires.
		again, _ := h.svc.PublicFeed(ctx, FeedFilter{Ministry: moh})
		if again.ETag != ar.ETag || string(again.Atom) != string(ar.Atom) {
			t.Error("the same feed read twice differs")
		}
		h.clk.Advance(2 * time.Hour)
		after, err := h.svc.PublicFeed(ctx, FeedFilter{Ministry: moh})
		if err != nil {
			t.Fatal(err)
		}
		if after.Entries != 3 || strings.Contains(string(after.Atom), uuidURN("item|"+expiring.ID+"|ar")) || after.ETag == ar.ETag {
			t.Errorf("after the expiry: %d entries, ETag %s (was %s); want the expired item gone and a new ETag", after.Entries, after.ETag, ar.ETag)
		}

		// Republishing keeps the entry's id and moves it to the top.
		c := clinic.Content
		arTr := c.Translations["ar"]
		arTr.Title = "افتتاح عيادة جديدة في نابلس"
		c.Translations = map[string]Translation{"ar": arTr, "en": c.Translations["en"]}
		edited := h.must(h.svc.SaveDraft(ctx, as(author), clinic.ID, clinic.Version, c))
		h.must(h.svc.Transition(ctx, as(author), edited.ID, ActionSubmit, ""))
		h.must(h.svc.Transition(ctx, as(editor), edited.ID, ActionApprove, ""))
		h.must(h.svc.PublishItem(ctx, as(publisher), edited.ID, time.Time{}, time.Time{}, ""))
		top := parseFeed(t, h.mustFeed(FeedFilter{Ministry: moh}).Atom).Entries[0]
		if top.ID != uuidURN("item|"+clinic.ID+"|ar") || top.Title != arTr.Title || top.Updated != atomTime(h.clk.Now()) {
			t.Errorf("republished entry = %+v; want the same id, the new title, updated now", top)
		}
	})
}

func (h *harness) mustFeed(f FeedFilter) Feed {
	h.t.Helper()
	feed, err := h.svc.PublicFeed(context.Background(), f)
	if err != nil {
		h.t.Fatal(err)
	}
	return feed
}

func TestPublicFeedRefuses(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	_, err := h.svc.PublicFeed(ctx, FeedFilter{Ministry: "mot"})
	wantErr(t, err, rpcerr.ErrNotFound)
	for field, f := range map[string]FeedFilter{
		"ministry": {Ministry: "Ministry of Health"},
		"lang":     {Ministry: moh, Lang: "fr"},
		"type":     {Ministry: moh, Type: "blog"},
		"tag":      {Ministry: moh, Tag: "<script>"},
	} {
		_, err := h.svc.PublicFeed(ctx, f)
		wantField(t, err, field)
	}
	_, err = h.svc.PublicFeed(ctx, FeedFilter{Ministry: moh, Tag: "a\u202eb"})
	wantField(t, err, "tag")
}

// TestPublicFeedIsBounded: a feed holds the latest FeedSize items only.
func TestPublicFeedIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes FeedSize+2 items")
	}
	h := newHarness(t, storetest.SQLite(t), nil)
	var last Item
	for i := range FeedSize + 2 {
		h.clk.Advance(time.Second)
		last = h.publishContent(TypeNews, news(fmt.Sprintf("n%d", i), fmt.Sprintf("خبر %d", i), ""), time.Time{})
	}
	feed := h.mustFeed(FeedFilter{Ministry: moh})
	f := parseFeed(t, feed.Atom)
	if feed.Entries != FeedSize || len(f.Entries) != FeedSize || f.Entries[0].ID != uuidURN("item|"+last.ID+"|ar") ||
		f.Entries[FeedSize-1].Title != "خبر 2" {
		t.Errorf("feed of %d items = %d entries, first %s, last %q; want the newest %d", FeedSize+2, len(f.Entries), f.Entries[0].ID, f.Entries[FeedSize-1].Title, FeedSize)
	}
}

// TestRenderFeedGolden pins the document's exact shape (testdata/feed.golden.xml).
func TestRenderFeedGolden(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	items := []PublicContent{
		{ID: "itm_ar", Type: "news", Ministry: moh, Tags: []string{"clinics"}, Lang: "ar", PublishTime: at.Add(time.Hour),
			Translation: PublicTranslation{Translation: Translation{Slug: "افتتاح-عيادة", Title: "افتتاح عيادة في نابلس", Summary: "عيادة جديدة & مفتوحة."},
				BodyHTML: "<p>نص <strong>الخبر</strong>.</p>"}},
		{ID: "itm_faq", Type: "faq", Ministry: moh, Lang: "ar", PublishTime: at,
			Translation: PublicTranslation{Translation: Translation{Slug: "faq", Title: "أسئلة", Questions: []QA{{Question: "متى <الدوام>؟"}}},
				AnswersHTML: []string{"<p>من 8 إلى 2.</p>"}}},
	}
	doc, err := renderFeed(testIssuer+"/", FeedFilter{Ministry: moh, Type: "news", Tag: "clinics", Lang: "ar"}, items)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "feed.golden.xml")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestRenderFeedGolden -update writes it)", err)
	}
	if string(doc) != string(want) {
		t.Errorf("feed document differs from %s:\n%s", path, doc)
	}
}

func TestUUIDURN(t *testing.T) {
	a, b := uuidURN("item|x|ar"), uuidURN("item|x|en")
	if a == b || a != uuidURN("item|x|ar") {
		t.Fatalf("uuidURN not stable or not distinct: %s %s", a, b)
	}
	// urn:uuid:xxxxxxxx-xxxx-5xxx-[89ab]xxx-xxxxxxxxxxxx
	u := strings.TrimPrefix(a, "urn:uuid:")
	if len(u) != 36 || u[14] != '5' || !strings.ContainsRune("89ab", rune(u[19])) {
		t.Errorf("uuidURN = %s; want a version 5, RFC 9562 variant UUID", a)
	}
}

// TestPublicFeedGRPC: anyone reads a feed over gRPC, with the ETag and
// Cache-Control as response headers; an unknown ministry is NOT_FOUND and
// a bad filter INVALID_ARGUMENT.
func TestPublicFeedGRPC(t *testing.T) {
	h, _, c := grpcHarness(t)
	h.publishContent(TypeNews, news("clinic-opens", "افتتاح عيادة", "A clinic opens"), time.Time{})
	var md metadata.MD
	feed, err := c.GetPublicFeed(context.Background(), &contentv1.GetPublicFeedRequest{Ministry: moh}, grpc.Header(&md))
	if err != nil {
		t.Fatal(err)
	}
	if feed.GetEntries() != 1 || feed.GetEtag() == "" || !strings.Contains(string(feed.GetAtom()), "افتتاح عيادة") {
		t.Errorf("feed = %d entries, etag %q; want the Arabic entry", feed.GetEntries(), feed.GetEtag())
	}
	if got := md.Get(HeaderETag); len(got) != 1 || got[0] != feed.GetEtag() {
		t.Errorf("etag header = %v; want %s", got, feed.GetEtag())
	}
	if got := md.Get(HeaderCacheControl); len(got) != 1 || got[0] != "public, max-age=60" {
		t.Errorf("cache-control header = %v", got)
	}
	for _, tc := range []struct {
		req  *contentv1.GetPublicFeedRequest
		want codes.Code
	}{
		{&contentv1.GetPublicFeedRequest{Ministry: "mot"}, codes.NotFound},
		{&contentv1.GetPublicFeedRequest{Ministry: moh, Lang: "fr"}, codes.InvalidArgument},
		{&contentv1.GetPublicFeedRequest{Ministry: moh, Type: "blog"}, codes.InvalidArgument},
	} {
		if _, err := c.GetPublicFeed(context.Background(), tc.req); status.Code(err) != tc.want {
			t.Errorf("GetPublicFeed(%v) = %v; want %v", tc.req, err, tc.want)
		}
	}
}

// TestFeedItemsSelectWhatThePublicListDoes: feedItems, the feed's
// index-walking query, returns the same rows in the same order as the
// public list's query (listPublic) for every filter and language, over a
// corpus with Arabic-only, English-only and expired items, on both
// engines.
func TestFeedItemsSelectWhatThePublicListDoes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		at := h.clk.Now().Add(-time.Hour)
		err := h.db.InTx(ctx, func(tx *sql.Tx) error {
			for i := range 160 {
				typ, c := fixtureItem(i)
				if i%3 == 0 {
					typ = TypeNews
				}
				it := Item{ID: fmt.Sprintf("cnt_feed%04d", i), Type: typ, Ministry: []string{moh, mol}[i%2], Version: 1, Content: c}
				if i%11 == 0 {
					it.ExpireAt = h.clk.Now().Add(-time.Minute)
				}
				if err := h.svc.putPublic(ctx, tx, it, at.Add(time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		key := func(items []PublicContent) []string {
			var out []string
			for _, pc := range items {
				out = append(out, pc.ID+"/"+pc.Lang)
			}
			return out
		}
		for _, f := range []FeedFilter{
			{Ministry: moh, Lang: "ar"}, {Ministry: moh, Lang: "en"}, {Ministry: mol, Lang: "ar"},
			{Ministry: mol, Lang: "en", Tag: "group-1"}, {Ministry: mol, Lang: "ar", Type: "news"},
			{Ministry: moh, Lang: "en", Type: "page", Tag: "group-2"}, {Ministry: moh, Lang: "ar", Tag: "none"},
		} {
			other := map[string]string{"ar": "en", "en": "ar"}[f.Lang]
			got, err := feedItems(ctx, h.db, f.Lang, other, f, h.clk.Now(), FeedSize)
			if err != nil {
				t.Fatal(err)
			}
			want, err := listPublic(ctx, h.db, f.Lang, PublicFilter{Ministry: f.Ministry, Type: f.Type, Tag: f.Tag}, h.clk.Now(), FeedSize, 0)
			if err != nil {
				t.Fatal(err)
			}
			if g, w := key(got), key(want); fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("%+v:\nfeedItems  %v\nlistPublic %v", f, g, w)
			}
			if f.Tag != "none" && len(got) == 0 {
				t.Errorf("%+v: nothing selected; the corpus should have matches", f)
			}
		}
	})
}
