package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// feedResponse is one GET of a feed: status, headers and body.
type feedResponse struct {
	status int
	header http.Header
	body   []byte
}

// getFeed GETs path from base with the request headers given in pairs.
func getFeed(t *testing.T, base, path string, headers ...string) feedResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return feedResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// parsedFeeds is a feed document as two parsers of gofeed read it: the
// universal one (which also detects the format) and the Atom one (which
// keeps hreflang and the feed's xml:lang). entryLangs are the entries'
// xml:lang attributes, which gofeed does not expose, read with
// encoding/xml.
type parsedFeeds struct {
	feed       *gofeed.Feed
	atom       *atom.Feed
	entryLangs []string
}

// parseAtom parses a 200 feed response, failing unless it is Atom served
// as application/atom+xml.
func parseAtom(t *testing.T, r feedResponse) parsedFeeds {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("feed = %d %s; want 200", r.status, r.body)
	}
	if mt, _, err := mime.ParseMediaType(r.header.Get("Content-Type")); err != nil || mt != "application/atom+xml" {
		t.Fatalf("Content-Type = %q; want application/atom+xml", r.header.Get("Content-Type"))
	}
	f, err := gofeed.NewParser().Parse(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("gofeed: %v\n%s", err, r.body)
	}
	if f.FeedType != "atom" || f.FeedVersion != "1.0" {
		t.Fatalf("gofeed detects %s %s; want atom 1.0", f.FeedType, f.FeedVersion)
	}
	a, err := (&atom.Parser{}).Parse(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("gofeed/atom: %v", err)
	}
	var langs struct {
		Entries []struct {
			Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(r.body, &langs); err != nil {
		t.Fatal(err)
	}
	p := parsedFeeds{feed: f, atom: a}
	for _, e := range langs.Entries {
		p.entryLangs = append(p.entryLangs, e.Lang)
	}
	return p
}

func (p parsedFeeds) titles() []string {
	var out []string
	for _, it := range p.feed.Items {
		out = append(out, it.Title)
	}
	return out
}

func (p parsedFeeds) ids() []string {
	var out []string
	for _, it := range p.feed.Items {
		out = append(out, it.GUID)
	}
	return out
}

// TestContentFeedsThroughGateway is issue 18 item 4 end to end: a ministry
// app publishes news and an e-service in Arabic and English with types
// and tags; anyone reads the ministry's Atom feeds through the gateway of
// `tamkeen dev`, and an independent parser (gofeed) reads titles,
// languages, links, ids and order; the type, tag and ministry filters
// hold; a draft and an expired item never appear; a revalidation is a
// 304; an unknown ministry is a 404 problem.
func TestContentFeedsThroughGateway(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	clock := clocktest.New(time.Now().UTC().Truncate(time.Second))
	base, _ := startDevWithClock(t, clock, map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret,
		// One app authors, approves and publishes here: the editorial
		// workflow is TestContentThroughGateway's subject, not this one's.
		"TAMKEEN_CONTENT_FOUR_EYES_OFF": "moh,mol",
	})
	app := clientToken(t, base, secret)
	call := func(method, path string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: app, body: body}
	}
	for _, ministry := range []string{"moh", "mol"} {
		for _, role := range []string{"author", "editor", "publisher"} {
			if resp, raw := call("POST", "/v1/content/ministries/"+ministry+"/roles",
				map[string]string{"subject": demo.ClientID, "role": role}).do(nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("grant %s in %s = %d %s", role, ministry, resp.StatusCode, raw)
			}
		}
	}
	// create makes an item; publish takes it through review to the public.
	create := func(typ, ministry string, tags []string, translations map[string]any) string {
		t.Helper()
		var it contentItem
		if resp, raw := call("POST", "/v1/content/items", map[string]any{
			"type": typ, "ministry": ministry, "tags": tags, "translations": translations,
		}).do(&it); resp.StatusCode != http.StatusCreated {
			t.Fatalf("create = %d %s", resp.StatusCode, raw)
		}
		return it.ID
	}
	publish := func(id string, body map[string]string) {
		t.Helper()
		for _, step := range []string{":submit", ":approve"} {
			if resp, raw := call("POST", "/v1/content/items/"+id+step, map[string]string{}).do(nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s = %d %s", step, resp.StatusCode, raw)
			}
		}
		if resp, raw := call("POST", "/v1/content/items/"+id+":publish", body).do(nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("publish = %d %s", resp.StatusCode, raw)
		}
		clock.Advance(time.Second) // distinct publish times, so a known order
	}
	newsIn := func(slug, ar, en string) map[string]any {
		tr := map[string]any{"ar": map[string]any{"slug": slug + "-ar", "title": ar, "summary": "ملخص: " + ar, "body": "تفاصيل **" + ar + "**."}}
		if en != "" {
			tr["en"] = map[string]any{"slug": slug, "title": en, "summary": "Summary: " + en, "body": "Details of **" + en + "**."}
		}
		return tr
	}

	clinic := create("news", "moh", []string{"clinics"}, newsIn("clinic-opens", "افتتاح عيادة في نابلس", "A clinic opens in Nablus"))
	publish(clinic, map[string]string{})
	passport := create("service", "moh", []string{"civil-affairs"}, map[string]any{
		"ar": map[string]any{"slug": "تجديد-جواز", "title": "تجديد جواز السفر", "summary": "جدّد جوازك.", "eligibility": "كل **مواطن**.", "steps": []string{"قدّم الطلب"}},
		"en": map[string]any{"slug": "passport-renewal", "title": "Renew a passport", "summary": "Renew it online.", "eligibility": "Every **citizen**.", "steps": []string{"Apply"}},
	})
	publish(passport, map[string]string{})
	vaccines := create("news", "moh", []string{"vaccines", "clinics"}, newsIn("vaccines", "حملة تطعيم وطنية", ""))
	publish(vaccines, map[string]string{})
	heat := create("news", "moh", nil, newsIn("heat-wave", "تحذير من موجة حر", "Heat wave warning"))
	publish(heat, map[string]string{"expire_time": clock.Now().Add(time.Hour).Format(time.RFC3339)})
	jobs := create("news", "mol", []string{"jobs"}, newsIn("job-fair", "معرض التوظيف", "Job fair"))
	publish(jobs, map[string]string{})
	create("news", "moh", []string{"clinics"}, newsIn("draft-news", "خبر لم يُنشر بعد", "Unpublished news"))

	const feedPath = "/v1/public/ministries/moh/feed.atom"
	first := getFeed(t, base, feedPath)
	ar := parseAtom(t, first)

	t.Run("Arabic first, newest first", func(t *testing.T) {
		want := []string{"تحذير من موجة حر", "حملة تطعيم وطنية", "تجديد جواز السفر", "افتتاح عيادة في نابلس"}
		if got := ar.titles(); !slices.Equal(got, want) {
			t.Fatalf("titles = %q; want %q (the draft and mol's news absent)", got, want)
		}
		if ar.atom.Language != "ar" || !slices.Equal(ar.entryLangs, []string{"ar", "ar", "ar", "ar"}) {
			t.Errorf("languages = feed %q, entries %q; want ar throughout", ar.atom.Language, ar.entryLangs)
		}
		for i, it := range ar.feed.Items {
			if it.UpdatedParsed == nil || (i > 0 && !it.UpdatedParsed.Before(*ar.feed.Items[i-1].UpdatedParsed)) {
				t.Errorf("entry %d updated %v; want strictly older than the one before", i, it.UpdatedParsed)
			}
		}
		if ar.feed.UpdatedParsed == nil || !ar.feed.UpdatedParsed.Equal(*ar.feed.Items[0].UpdatedParsed) {
			t.Errorf("feed updated %v; want the newest entry's", ar.feed.UpdatedParsed)
		}
		seen := map[string]bool{}
		for _, id := range ar.ids() {
			if !strings.HasPrefix(id, "urn:uuid:") || seen[id] {
				t.Errorf("entry id %q: want a distinct urn:uuid", id)
			}
			seen[id] = true
		}
		var terms []string
		for _, c := range ar.atom.Entries[2].Categories {
			terms = append(terms, c.Scheme+" "+c.Term)
		}
		if want := []string{"urn:tamkeen:content:type service", "urn:tamkeen:content:tag civil-affairs"}; !slices.Equal(terms, want) {
			t.Errorf("the e-service's categories = %q; want its type and tag %q", terms, want)
		}
		if got := ar.feed.Items[2].Categories; !slices.Contains(got, "الخدمات الإلكترونية") {
			t.Errorf("the e-service's category labels = %q; want the type's Arabic name", got)
		}
		if c := ar.feed.Items[3].Content; !strings.Contains(c, `dir="rtl"`) || !strings.Contains(c, "<strong>افتتاح عيادة في نابلس</strong>") {
			t.Errorf("Arabic content = %q; want right-to-left HTML", c)
		}
	})

	t.Run("links lead to the public item", func(t *testing.T) {
		link := ar.atom.Entries[0].Links[0]
		if link.Rel != "alternate" || link.Hreflang != "ar" || !strings.HasPrefix(link.Href, base+"/v1/public/content/") {
			t.Fatalf("entry link = %+v; want the public content URL in Arabic", link)
		}
		u, err := url.Parse(link.Href)
		if err != nil {
			t.Fatal(err)
		}
		var pc publicContent
		if resp, raw := (apiCall{t: t, base: base, method: "GET", path: u.RequestURI()}).do(&pc); resp.StatusCode != http.StatusOK ||
			pc.ID != heat || pc.Lang != "ar" || pc.Translation.Title != "تحذير من موجة حر" {
			t.Errorf("following the entry's link = %d %s; want the Arabic item", resp.StatusCode, raw)
		}
		self := ""
		for _, l := range ar.atom.Links {
			if l.Rel == "self" {
				self = l.Href
			}
		}
		if self != base+feedPath+"?lang=ar" {
			t.Errorf("self link = %q; want %q", self, base+feedPath+"?lang=ar")
		}
	})

	t.Run("English, with the Arabic-only item in Arabic", func(t *testing.T) {
		en := parseAtom(t, getFeed(t, base, feedPath+"?lang=en"))
		want := []string{"Heat wave warning", "حملة تطعيم وطنية", "Renew a passport", "A clinic opens in Nablus"}
		if got := en.titles(); !slices.Equal(got, want) {
			t.Fatalf("English titles = %q; want %q", got, want)
		}
		if en.atom.Language != "en" || !slices.Equal(en.entryLangs, []string{"en", "ar", "en", "en"}) ||
			en.atom.Entries[1].Links[0].Hreflang != "ar" || en.atom.Entries[0].Links[0].Hreflang != "en" {
			t.Errorf("English feed languages = feed %q, entries %q", en.atom.Language, en.entryLangs)
		}
		if en.ids()[1] != ar.ids()[1] || en.ids()[0] == ar.ids()[0] {
			t.Errorf("ids: the Arabic-only entry must keep its id in both feeds and translations have their own: %q vs %q", en.ids(), ar.ids())
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"?type=news", []string{"تحذير من موجة حر", "حملة تطعيم وطنية", "افتتاح عيادة في نابلس"}},
			{"?type=service", []string{"تجديد جواز السفر"}},
			{"?tag=clinics", []string{"حملة تطعيم وطنية", "افتتاح عيادة في نابلس"}},
			{"?type=news&tag=vaccines&lang=en", []string{"حملة تطعيم وطنية"}},
			{"?tag=jobs", nil},
		} {
			if got := parseAtom(t, getFeed(t, base, feedPath+c.query)).titles(); !slices.Equal(got, c.want) {
				t.Errorf("moh%s = %q; want %q", c.query, got, c.want)
			}
		}
		if got := parseAtom(t, getFeed(t, base, "/v1/public/ministries/mol/feed.atom?lang=en")).titles(); !slices.Equal(got, []string{"Job fair"}) {
			t.Errorf("mol's feed = %q; want its own news only", got)
		}
	})

	t.Run("ETag and 304", func(t *testing.T) {
		etag := first.header.Get("ETag")
		if etag == "" || first.header.Get("Cache-Control") != "public, max-age=60" {
			t.Fatalf("ETag %q, Cache-Control %q; want both", etag, first.header.Get("Cache-Control"))
		}
		again := getFeed(t, base, feedPath)
		if again.header.Get("ETag") != etag || !slices.Equal(parseAtom(t, again).ids(), ar.ids()) {
			t.Errorf("the same feed again: ETag %q, ids %q; want %q and the same ids", again.header.Get("ETag"), parseAtom(t, again).ids(), etag)
		}
		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag} {
			r := getFeed(t, base, feedPath, "If-None-Match", inm)
			if r.status != http.StatusNotModified || len(r.body) != 0 || r.header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s = %d, %d bytes, ETag %q; want 304, no body, the ETag", inm, r.status, len(r.body), r.header.Get("ETag"))
			}
		}
		head, err := http.Head(base + feedPath)
		if err != nil {
			t.Fatal(err)
		}
		head.Body.Close()
		if head.StatusCode != http.StatusOK || head.Header.Get("ETag") != etag || head.ContentLength != int64(len(first.body)) {
			t.Errorf("HEAD = %d, ETag %q, Content-Length %d; want 200, %s, %d", head.StatusCode, head.Header.Get("ETag"), head.ContentLength, etag, len(first.body))
		}
		if r := getFeed(t, base, feedPath+"?lang=en", "If-None-Match", etag); r.status != http.StatusOK {
			t.Errorf("the Arabic ETag on the English feed = %d; want 200", r.status)
		}
	})

	t.Run("an expired item leaves the feed", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		r := getFeed(t, base, feedPath, "If-None-Match", first.header.Get("ETag"))
		got := parseAtom(t, r).titles()
		if want := []string{"حملة تطعيم وطنية", "تجديد جواز السفر", "افتتاح عيادة في نابلس"}; !slices.Equal(got, want) {
			t.Errorf("after the expiry: titles %q; want %q", got, want)
		}
		if r.header.Get("ETag") == first.header.Get("ETag") {
			t.Error("the ETag did not change when an entry expired")
		}
	})

	t.Run("refusals are problems", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			status int
			detail string
		}{
			{"/v1/public/ministries/mot/feed.atom", http.StatusNotFound, "mot"},
			{feedPath + "?lang=fr", http.StatusBadRequest, `"lang"`},
			{feedPath + "?type=blog", http.StatusBadRequest, `"type"`},
		} {
			r := getFeed(t, base, c.path)
			if r.status != c.status || r.header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(r.body), c.detail) {
				t.Errorf("GET %s = %d %s %s; want %d problem+json naming %s", c.path, r.status, r.header.Get("Content-Type"), r.body, c.status, c.detail)
			}
		}
	})
}
