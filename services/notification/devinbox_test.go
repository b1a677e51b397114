package notification

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
