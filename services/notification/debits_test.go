package notification

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	notificationv1 "github.com/tamkeen/tamkeen/proto/tamkeen/notification/v1"
)

// TestDirectDebitMessages: a collection's announcement and its failure
// go by SMS to the number the citizen verified with auth (the newest
// verification, whatever order they arrive in), never to the number in
// the ministry's request; a redelivered event sends nothing more; a
// citizen with no verified number gets nothing, and the event is still
// consumed. The ministry's endpoint gets collection.failed and
// collection.settled, once each, and no announcement.
func TestDirectDebitMessages(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := startWebhooks(t, db)
		ctx := context.Background()
		r := newReceiver(t)
		ep, err := a.api.CreateWebhookEndpoint(a.iss.as(t, "moh", scope.WebhooksManage), &notificationv1.CreateWebhookEndpointRequest{
			Url: r.srv.URL + "/hook", Events: []string{WebhookCollectionFailed, WebhookCollectionSettled}})
		if err != nil {
			t.Fatal(err)
		}
		event := func(typ string, m proto.Message) events.Event {
			t.Helper()
			ev, err := events.NewEvent("tamkeen/test", typ, m)
			if err != nil {
				t.Fatal(err)
			}
			return ev
		}
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		for _, v := range []struct {
			phone string
			at    time.Time
		}{{"+970599111222", t0.Add(time.Hour)}, {"+970599333444", t0}} { // the older one arrives last
			m := &eventsv1.CitizenPhoneVerified{CitizenId: "cit_1", PhoneNumber: v.phone, Time: timestamppb.New(v.at)}
			if err := a.svc.handlePhoneVerified(ctx, event("tamkeen.auth.citizen_phone_verified.v1", m), m); err != nil {
				t.Fatal(err)
			}
		}
		collection := func(id, citizen, state, lang, code, reason string) events.Event {
			return event("tamkeen.payment.collection_"+state+".v1", &eventsv1.DirectDebitCollection{
				CollectionId: id, MandateId: "mdt_1", ClientId: "moh", Creditor: "moh", Reference: "WATER-7",
				Description: "Water bill", Amount: 4550, Currency: "ILS", DueDate: "2026-03-10", CitizenId: citizen,
				PhoneNumber: "+970599000999", Language: lang, State: state, ReasonCode: code, Reason: reason,
				Time: timestamppb.New(t0)})
		}
		announced := collection("col_1", "cit_1", "announced", "", "", "")
		for range 2 { // a JetStream redelivery
			if err := a.svc.handleCollection(ctx, announced); err != nil {
				t.Fatal(err)
			}
		}
		failed := collection("col_2", "cit_1", "failed", "en", "AM04", "insufficient funds")
		for _, ev := range []events.Event{
			failed, failed,
			collection("col_3", "cit_2", "announced", "", "", ""), // no verified number
			collection("col_4", "cit_1", "settled", "", "", ""),   // nothing to say to the citizen
		} {
			if err := a.svc.handleCollection(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}

		for _, tc := range []struct {
			ref   string
			count int
			want  []string
		}{
			{"col_1", 1, []string{"45.50 شيكل", "moh", "Water bill", "2026-03-10", "mdt_1", "ألغِ التفويض"}},
			{"col_2", 1, []string{"45.50 ILS", "moh", "2026-03-10", "insufficient funds", "col_2"}},
			{"col_3", 0, nil},
			{"col_4", 0, nil},
		} {
			list, err := listNotifications(ctx, db, "moh", tc.ref, "", time.Now().Add(time.Hour), "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != tc.count {
				t.Errorf("%s: %d notifications; want %d", tc.ref, len(list), tc.count)
				continue
			}
			if tc.count == 0 {
				continue
			}
			n := list[0]
			if n.Recipient != "+970599111222" {
				t.Errorf("%s: sent to %s; want the newest verified number +970599111222, never the request's", tc.ref, n.Recipient)
			}
			for _, w := range tc.want {
				if !strings.Contains(n.Body, w) {
					t.Errorf("%s: body %q; want it to hold %q", tc.ref, n.Body, w)
				}
			}
			a.waitNotification(t, a.iss.as(t, "moh"), n.ID, StatusDelivered)
		}
		waitFor(t, 10*time.Second, "two webhook posts", func() bool { return len(r.posts()) >= 2 })
		time.Sleep(100 * time.Millisecond) // room for a wrong third
		byType := map[string][]string{}
		for _, p := range r.posts() {
			if err := VerifyCallback(ep.GetSecret(), p.sig, p.body, time.Now(), 0); err != nil {
				t.Errorf("post %s does not verify: %v", p.body, err)
			}
			var b WebhookBody
			if err := json.Unmarshal(p.body, &b); err != nil {
				t.Fatal(err)
			}
			byType[b.Type] = append(byType[b.Type], string(b.Data))
		}
		if f := byType[WebhookCollectionFailed]; len(f) != 1 || !strings.Contains(f[0], `"reason_code":"AM04"`) ||
			!strings.Contains(f[0], `"collection_id":"col_2"`) || !strings.Contains(f[0], `"amount":"4550"`) || strings.Contains(f[0], "+970") {
			t.Errorf("collection.failed posts = %q; want col_2 once, AM04, 4550, no phone number", f)
		}
		if st := byType[WebhookCollectionSettled]; len(st) != 1 || !strings.Contains(st[0], `"collection_id":"col_4"`) {
			t.Errorf("collection.settled posts = %q; want col_4 once", st)
		}
		if len(byType) != 2 {
			t.Errorf("webhook types posted = %v; want only the failure and the settlement", byType)
		}
		for _, s := range a.center.got() {
			if s.Dest != "+970599111222" && s.Dest != "970599111222" {
				t.Errorf("the SMSC got a message for %s; want only the verified number", s.Dest)
			}
		}
	})
}

func TestDebitTemplatesRender(t *testing.T) {
	values := map[string]string{"amount": "1,250.000 دينار أردني", "ministry": "moh", "description": "فاتورة المياه لشهر آذار",
		"due_date": "2026-03-10", "mandate": "mdt_0123456789abcdefghijk", "reference": "col_0123456789abcdefghijk", "reason": "رصيد غير كافٍ"}
	for key, tmpl := range debitTemplates() {
		r, err := renderTemplate(tmpl, values)
		if err != nil {
			t.Errorf("%v: %v", key, err)
			continue
		}
		if r.Length.Segments > 3 {
			t.Errorf("%v: %d segments; want at most 3", key, r.Length.Segments)
		}
	}
}
