package notification

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func TestDevInbox(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		set, err := DevInboxMigrations()
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, set); err != nil {
			t.Fatal(err)
		}
		clock := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		in := NewDevInbox(db, func() time.Time { clock = clock.Add(time.Second); return clock })
		for _, m := range []InboxMessage{
			{Channel: "sms", To: "+970599000001", Body: "رمز التحقق: 123456"},
			{Channel: "sms", To: "+970599000002", Body: "Your code: 654321"},
			{Channel: "email", To: "a@example.ps", Subject: "إيصال", Body: "شكراً", HTML: "<p dir=\"rtl\">شكراً</p>"},
		} {
			if _, err := in.Deliver(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		all, err := in.List(ctx, "", 0)
		if err != nil || len(all) != 3 {
			t.Fatalf("List all = %d messages, %v; want 3", len(all), err)
		}
		if all[0].Channel != "email" || all[2].Body != "رمز التحقق: 123456" {
			t.Errorf("List order/content = %+v; want newest first with Arabic intact", all)
		}

		srv := httptest.NewServer(in)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "?to=%2B970599000002")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Messages []InboxMessage }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || len(body.Messages) != 1 || body.Messages[0].Body != "Your code: 654321" {
			t.Errorf("GET ?to= = %d %+v; want the one message to +970599000002", resp.StatusCode, body.Messages)
		}
		bad, err := http.Get(srv.URL + "?limit=abc")
		if err != nil {
			t.Fatal(err)
		}
		bad.Body.Close()
		if bad.StatusCode != 400 || bad.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET ?limit=abc = %d %s; want 400 problem+json", bad.StatusCode, bad.Header.Get("Content-Type"))
		}
	})
}

// A browser gets the inbox as a page: newest first, each message laid out
// by its own direction (an Arabic SMS right to left), each one-time code
// in its own element; JSON stays the default.
func TestDevInboxPage(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	set, err := DevInboxMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, set); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	in := NewDevInbox(db, func() time.Time { clock = clock.Add(time.Minute); return clock })
	for _, m := range []InboxMessage{
		{Channel: "sms", To: "+970599000001", Body: "رمز التحقق في تمكين: 482913. صالح 5 دقائق. لا تشاركه مع أحد."},
		{Channel: "sms", To: "+970599000002", Body: "Your Tamkeen code: 654321. Valid until 2026-11-23, call 0599123456 <b>now</b>"},
		{Channel: "email", To: "layla@example.ps", Subject: "إيصال الدفع", Body: "شكراً لدفعكم 150.00 ILS."},
	} {
		if _, err := in.Deliver(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(in)
	defer srv.Close()
	get := func(t *testing.T, query, accept string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, tc := range []struct{ name, query, accept string }{
		{"a browser's Accept", "", browser},
		{"?format=html", "?format=html", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := get(t, tc.query, tc.accept)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET %s = %d %s; want 200 text/html", tc.query, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			for _, want := range []string{
				// The Arabic SMS, laid out right to left by its own text,
				// with its code in its own element.
				`<p class="body" dir="auto">رمز التحقق في تمكين: <code class="otp" title="one-time code">482913</code>. صالح 5 دقائق. لا تشاركه مع أحد.</p>`,
				`<bdi class="to" dir="ltr">&#43;970599000001</bdi>`,
				`<time datetime="2026-11-23T08:01:00Z">2026-11-23 08:01:00 UTC</time>`,
				`<span class="channel">sms</span>`,
				// The English one: its code marked, the phone number and
				// the date not, its markup escaped.
				`Your Tamkeen code: <code class="otp" title="one-time code">654321</code>. Valid until 2026-11-23, call 0599123456 &lt;b&gt;now&lt;/b&gt;</p>`,
				`<p class="subject" dir="auto">إيصال الدفع</p>`,
				`<p class="body" dir="auto">شكراً لدفعكم 150.00 ILS.</p>`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("page lacks %s\n%s", want, page)
				}
			}
			if n := strings.Count(page, `<code class="otp"`); n != 2 {
				t.Errorf("page marks %d codes; want 2", n)
			}
			email, arabic, english := strings.Index(page, "إيصال الدفع"), strings.Index(page, "482913"), strings.Index(page, "654321")
			if !(email < english && english < arabic) {
				t.Errorf("messages at %d (e-mail), %d (English SMS), %d (Arabic SMS); want newest first", email, english, arabic)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("page headers CSP %q, Cache-Control %q; want default-src 'none' and no-store", csp, resp.Header.Get("Cache-Control"))
			}
		})
	}

	t.Run("filtered by recipient", func(t *testing.T) {
		_, page := get(t, "?format=html&to=%2B970599000001", "")
		if !strings.Contains(page, "482913") || strings.Contains(page, "654321") || !strings.Contains(page, `value="&#43;970599000001"`) {
			t.Errorf("page for +970599000001 =\n%s", page)
		}
		_, page = get(t, "?format=html&to=%2B970599999999", "")
		if !strings.Contains(page, "No messages to") {
			t.Errorf("page for a recipient without messages =\n%s", page)
		}
	})

	t.Run("JSON stays the default", func(t *testing.T) {
		for _, tc := range []struct{ query, accept string }{
			{"", ""}, {"", "application/json"}, {"", "*/*"}, {"?format=json", browser},
		} {
			resp, body := get(t, tc.query, tc.accept)
			var got struct{ Messages []InboxMessage }
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || len(got.Messages) != 3 {
				t.Errorf("GET %q Accept %q = %s, %d messages, %v; want the JSON listing", tc.query, tc.accept, resp.Header.Get("Content-Type"), len(got.Messages), err)
			}
		}
	})
}

func TestSplitCodes(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		"رمز التحقق: 123456":            "رمز التحقق: [123456]",
		"123456":                        "[123456]",
		"code 123456, again 654321.":    "code [123456], again [654321].",
		"call 0599123456 on 2026-11-23": "call 0599123456 on 2026-11-23",
		"12345 or 1234567":              "12345 or 1234567",
		"":                              "",
		"رمزك ٤٨٢٩١٣ (Arabic-Indic digits)": "رمزك ٤٨٢٩١٣ (Arabic-Indic digits)",
	} {
		var b strings.Builder
		for _, p := range splitCodes(body) {
			if p.Code {
				b.WriteString("[" + p.Text + "]")
			} else {
				b.WriteString(p.Text)
			}
		}
		if b.String() != want {
			t.Errorf("splitCodes(%q) = %q; want %q", body, b.String(), want)
		}
	}
}
