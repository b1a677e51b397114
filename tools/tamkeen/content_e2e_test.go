package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// jwtSubject reads the sub claim of a token (already verified by the
// gateway that issued it; here only to know whom to grant roles).
func jwtSubject(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %.20s…", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Sub == "" {
		t.Fatalf("token has no sub: %v", err)
	}
	return c.Sub
}

type contentItem struct {
	ID           string                     `json:"id"`
	State        string                     `json:"state"`
	Version      int                        `json:"version"`
	Translations map[string]json.RawMessage `json:"translations"`
}

type publicContent struct {
	ID          string `json:"id"`
	Lang        string `json:"lang"`
	Fallback    bool   `json:"fallback"`
	Etag        string `json:"etag"`
	Version     int    `json:"version"`
	Translation struct {
		Slug            string `json:"slug"`
		Title           string `json:"title"`
		Eligibility     string `json:"eligibility"`
		EligibilityHTML string `json:"eligibility_html"`
	} `json:"translation"`
}

// TestContentThroughGateway is issue 7's editorial journey through the
// gateway: the ministry app grants roles, a staff member (a citizen
// account at loa1+) authors a bilingual e-service page, the app approves
// and publishes it, anyone reads and searches it without a token, a stale
// save is 409, an author cannot publish (403), another ministry's staff
// cannot touch it (403), a draft edit does not change the public page, and
// a scheduled item appears when its time comes.
func TestContentThroughGateway(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevWithClock(t, clock, map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET":          secret,
		"TAMKEEN_CONTENT_SCHEDULER_INTERVAL": "100ms",
		"TAMKEEN_CONTENT_SCHEDULER_LEASE":    "1s",
	})
	app := clientToken(t, base, secret)
	staff := citizenAtLoa2(t, base, clock, secret, "40111222", "+970599111222", "olive-press-2026")
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	grant := func(ministry, subject, role string) {
		t.Helper()
		if resp, raw := call("POST", "/v1/content/ministries/"+ministry+"/roles", app,
			map[string]string{"subject": subject, "role": role}).do(nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("grant %s %s in %s = %d %s", role, subject, ministry, resp.StatusCode, raw)
		}
	}
	grant("moh", jwtSubject(t, staff), "author")
	for _, r := range []string{"author", "editor", "publisher"} {
		grant("moh", demo.ClientID, r)
	}
	grant("mol", jwtSubject(t, staff), "editor")

	item := map[string]any{
		"type": "service", "ministry": "moh", "tags": []string{"health-insurance"},
		"translations": map[string]any{
			"ar": map[string]any{
				"slug": "تأمين-صحي", "title": "طلب التأمين الصحي الحكومي", "summary": "اشترك في التأمين الصحي.",
				"eligibility": "كل **مواطن** مقيم.", "required_documents": []string{"الهوية"}, "steps": []string{"قدّم الطلب"},
				"fees": []map[string]any{{"description": "اشتراك سنوي", "amount": 6000, "currency": "ILS"}},
			},
			"en": map[string]any{
				"slug": "health-insurance", "title": "Apply for government health insurance", "summary": "Join the health insurance scheme.",
				"eligibility": "Every resident **citizen**. <script>alert(1)</script>", "required_documents": []string{"ID card"},
				"steps": []string{"Apply"}, "fees": []map[string]any{{"description": "Yearly fee", "amount": 6000, "currency": "ILS"}},
			},
		},
	}
	var it contentItem
	if resp, raw := call("POST", "/v1/content/items", staff, item).do(&it); resp.StatusCode != http.StatusCreated || it.State != "draft" || it.Version != 1 {
		t.Fatalf("create by the staff author = %d %s; want 201 draft v1", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/content/items", "", item).do(nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("create without a token = %d %s; want 401", resp.StatusCode, raw)
	}

	// Two saves from version 1: the second is 409 and names version 2.
	// (The staff author writes version 2, so that the app, which approves
	// it below, is a second pair of eyes.)
	save := map[string]any{"base_version": 1, "tags": []string{"health-insurance", "health"}, "translations": item["translations"]}
	if resp, raw := call("PUT", "/v1/content/items/"+it.ID+"/draft", staff, save).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("first save = %d %s", resp.StatusCode, raw)
	}
	resp, raw := call("PUT", "/v1/content/items/"+it.ID+"/draft", app, save).do(nil)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(raw), "version 2") {
		t.Errorf("stale save = %d %s; want 409 naming version 2", resp.StatusCode, raw)
	}

	if resp, raw := call("POST", "/v1/content/items/"+it.ID+":submit", staff, map[string]string{}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("submit = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/content/items/"+it.ID+":approve", app, map[string]string{"comment": "ok"}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("approve = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/content/items/"+it.ID+":publish", staff, map[string]string{}).do(nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("publish by the author = %d %s; want 403", resp.StatusCode, raw)
	}
	if resp, raw := call("GET", "/v1/content/items/"+it.ID, staff, nil).do(nil); resp.StatusCode != http.StatusOK {
		t.Errorf("author reads the item = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("GET", "/v1/public/content/health-insurance?lang=en", "", nil).do(nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("public read before publishing = %d %s; want 404", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/content/items/"+it.ID+":publish", app, map[string]string{}).do(&it); resp.StatusCode != http.StatusOK || it.State != "published" {
		t.Fatalf("publish by the app = %d %s", resp.StatusCode, raw)
	}

	// Anyone reads it, without a token; rich text arrives as safe HTML.
	var pc publicContent
	resp, raw = call("GET", "/v1/public/content/health-insurance?lang=en", "", nil).do(&pc)
	if resp.StatusCode != http.StatusOK || pc.Translation.Title != "Apply for government health insurance" || pc.Etag == "" {
		t.Fatalf("public read = %d %s", resp.StatusCode, raw)
	}
	if pc.Translation.Eligibility != "" || !strings.Contains(pc.Translation.EligibilityHTML, "<strong>citizen</strong>") ||
		strings.Contains(pc.Translation.EligibilityHTML, "<script") {
		t.Errorf("public eligibility = %q / %q; want sanitised HTML only", pc.Translation.Eligibility, pc.Translation.EligibilityHTML)
	}
	arURL := "/v1/public/content/" + url.PathEscape("تأمين-صحي") + "?lang=ar"
	var ar publicContent
	if resp, raw := call("GET", arURL, "", nil).do(&ar); resp.StatusCode != http.StatusOK || ar.Lang != "ar" || ar.Fallback {
		t.Errorf("Arabic slug = %d %s", resp.StatusCode, raw)
	}

	// ETag and 304: the service puts the entity tag in the body and in the
	// gRPC "etag" header, which the gateway passes on as HTTP headers.
	t.Run("etag", func(t *testing.T) {
		if got := resp.Header.Get("ETag"); got != pc.Etag {
			t.Errorf("ETag header %q; want the body's %q", got, pc.Etag)
		}
		req, _ := http.NewRequest("GET", base+"/v1/public/content/health-insurance?lang=en", nil)
		req.Header.Set("If-None-Match", pc.Etag)
		r2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r2.Body.Close()
		if r2.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match with the current ETag = %d; want 304", r2.StatusCode)
		}
	})

	// Search: the Arabic query without hamza or ta marbuta finds it.
	var found struct {
		Total int `json:"total"`
		Hits  []struct {
			Snippet string        `json:"snippet"`
			Content publicContent `json:"content"`
		} `json:"hits"`
	}
	q := url.QueryEscape("تامين الصحي")
	if resp, raw := call("GET", "/v1/public/search?q="+q+"&lang=ar", "", nil).do(&found); resp.StatusCode != http.StatusOK || found.Total != 1 || found.Hits[0].Content.ID != it.ID {
		t.Errorf("search = %d %s; want the item", resp.StatusCode, raw)
	}
	if resp, raw := call("GET", "/v1/public/search?q=%3F%3F&lang=ar", "", nil).do(nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), `"q"`) {
		t.Errorf("wordless search = %d %s; want 400 naming q", resp.StatusCode, raw)
	}

	// A draft edit does not change the public page until republished.
	var cur contentItem
	call("GET", "/v1/content/items/"+it.ID, app, nil).do(&cur)
	edited := map[string]any{"base_version": cur.Version, "translations": map[string]any{"en": map[string]any{
		"slug": "health-insurance", "title": "CHANGED", "summary": "s", "eligibility": "e", "steps": []string{"x"},
	}}}
	if resp, raw := call("PUT", "/v1/content/items/"+it.ID+"/draft", staff, edited).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("edit after publishing = %d %s", resp.StatusCode, raw)
	}
	var again publicContent
	call("GET", "/v1/public/content/health-insurance?lang=en", "", nil).do(&again)
	if again.Translation.Title != pc.Translation.Title || again.Etag != pc.Etag {
		t.Errorf("public page after a draft edit = %q %s; want it unchanged", again.Translation.Title, again.Etag)
	}

	// Another ministry's role does not reach moh's content.
	if resp, raw := call("POST", "/v1/content/items/"+it.ID+":approve", staff, map[string]string{}).do(nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("approve with an editor role only in mol = %d %s; want 403", resp.StatusCode, raw)
	}

	// History, versions and diff.
	var hist struct {
		Transitions []struct {
			Action string `json:"action"`
			Actor  string `json:"actor"`
		} `json:"transitions"`
	}
	if resp, raw := call("GET", "/v1/content/items/"+it.ID+"/transitions", staff, nil).do(&hist); resp.StatusCode != http.StatusOK || len(hist.Transitions) != 6 {
		t.Errorf("transitions = %d %s; want create, save, submit, approve, publish, save", resp.StatusCode, raw)
	}
	var diff struct {
		Changes []struct {
			Path string `json:"path"`
		} `json:"changes"`
	}
	if resp, raw := call("GET", "/v1/content/items/"+it.ID+"/versions:diff?from_version=1&to_version=2", staff, nil).do(&diff); resp.StatusCode != http.StatusOK ||
		len(diff.Changes) != 1 || diff.Changes[0].Path != "tags" {
		t.Errorf("diff v1..v2 = %d %s; want exactly the tags", resp.StatusCode, raw)
	}

	// Scheduling: publish in a minute; it appears once the clock passes.
	var sched contentItem
	item["translations"] = map[string]any{"en": map[string]any{"slug": "clinic-hours", "title": "Clinic hours", "summary": "s", "eligibility": "e", "steps": []string{"x"}}}
	// Four-eyes: the staff member authors and submits, the app approves.
	call("POST", "/v1/content/items", staff, item).do(&sched)
	call("POST", "/v1/content/items/"+sched.ID+":submit", staff, map[string]string{}).do(nil)
	call("POST", "/v1/content/items/"+sched.ID+":approve", app, map[string]string{}).do(nil)
	at := clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	if resp, raw := call("POST", "/v1/content/items/"+sched.ID+":publish", app, map[string]string{"publish_time": at}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("schedule = %d %s", resp.StatusCode, raw)
	}
	if resp, _ := call("GET", "/v1/public/content/clinic-hours?lang=en", "", nil).do(nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("scheduled item before its time = %d; want 404", resp.StatusCode)
	}
	clock.Advance(2 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := call("GET", "/v1/public/content/clinic-hours?lang=en", "", nil).do(nil)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scheduled item not public 10 s after its time: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
