package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// TestUsageCountsExactlyWhatWasSent is the must-show: after a scripted
// mix of calls by two ministries' clients and a citizen, the usage of
// the month is exactly the counts and amounts sent, and the price list
// turns it into one invoice per ministry.
func TestUsageCountsExactlyWhatWasSent(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		s := newStack(t, stackOpts{noNATS: true, db: db, cfg: gateway.Config{Metering: true}})
		moh, mof := clientToken(t, s, "moh-portal"), clientToken(t, s, "mof-portal")
		citizen := bearer(s.key.sign(t, citizenClaims(s.clock.Now(), "cit_9", "loa1", s.clock.Now()), nil)) // azp citizen-app
		json := map[string]string{"Content-Type": "application/json"}
		call := func(tok, method, path, body string, want int, times int) {
			t.Helper()
			for range times {
				hdr := map[string]string{"Authorization": tok}
				for k, v := range json {
					hdr[k] = v
				}
				if resp, b := s.do(t, method, path, strings.NewReader(body), hdr); resp.StatusCode != want {
					t.Fatalf("%s %s = %d; want %d (body %s)", method, path, resp.StatusCode, want, b)
				}
			}
		}
		call(moh, "POST", "/v1/notifications/sms", fmt.Sprintf(smsBody, "tpl_1"), 201, 3)
		call(moh, "POST", "/v1/notifications/email", `{"email_address":"a@moh.ps","template_id":"tpl_2"}`, 201, 2)
		call(moh, "POST", "/v1/payments", `{"amount":"1500","currency":"ILS"}`, 201, 4)
		call(mof, "POST", "/v1/payments", `{"amount":"2500","currency":"JOD"}`, 201, 1)
		call(mof, "GET", "/v1/content/items/cnt_1", "", 200, 2)
		call(mof, "GET", "/v1/content/items/code-5", "", 404, 1) // reached the service: a call, no units
		call(citizen, "POST", "/v1/signatures", `{"credential_id":"crd_1","sad":"x"}`, 200, 2)
		call("", "POST", "/v1/payments", `{"amount":"1","currency":"ILS"}`, 401, 3) // refused: not metered
		call("", "GET", "/v1/signing/ca", "", 200, 1)

		month := s.clock.Now().UTC().Format("2006-01")
		got, err := gateway.Usage(context.Background(), db, month, "")
		if err != nil {
			t.Fatal(err)
		}
		want := []gateway.UsageLine{
			{ClientID: "citizen-app", Item: "call:signature/SignDocument", Quantity: 2},
			{ClientID: "citizen-app", Item: "signatures", Quantity: 2},
			{ClientID: "mof-portal", Item: "call:content/GetItem", Quantity: 3},
			{ClientID: "mof-portal", Item: "call:payment/CreatePayment", Quantity: 1},
			{ClientID: "mof-portal", Item: "payments", Currency: "JOD", Quantity: 1, Amount: 2500},
			{ClientID: "moh-portal", Item: "call:notification/SendEmail", Quantity: 2},
			{ClientID: "moh-portal", Item: "call:notification/SendSms", Quantity: 3},
			{ClientID: "moh-portal", Item: "call:payment/CreatePayment", Quantity: 4},
			{ClientID: "moh-portal", Item: "emails", Quantity: 2},
			{ClientID: "moh-portal", Item: "payments", Currency: "ILS", Quantity: 4, Amount: 6000},
			{ClientID: "moh-portal", Item: "sms_segments", Quantity: 6},
			{ClientID: "public", Item: "call:signature/GetCaCertificates", Quantity: 1},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("usage of %s:\n got %v\nwant %v", month, got, want)
		}
		one, err := gateway.Usage(context.Background(), db, month, "mof-portal")
		if err != nil || len(one) != 3 {
			t.Errorf("usage of mof-portal = %v, %v; want its 3 lines", one, err)
		}
		if _, err := gateway.Usage(context.Background(), db, "2026-13", ""); err == nil {
			t.Error("month 2026-13 accepted")
		}

		prices, err := gateway.ReadPriceList(strings.NewReader(`{"currency":"ILS",
 "prices":{"sms_segments":8,"emails":2,"signatures":100,"call:*":1,"call:content/GetItem":0},
 "amount_fee_basis_points":{"payments":100},
 "ministries":{"moh-portal":"Ministry of Health","citizen-app":"Ministry of Health"}}`))
		if err != nil {
			t.Fatal(err)
		}
		invoices := prices.Invoices(got)
		totals := map[string]int64{}
		for _, inv := range invoices {
			totals[inv.Ministry] = inv.Total
		}
		// Health: 2 sign calls + 200 signatures + 3+2+4 calls + 4 e-mails +
		// 48 segments + 60 (1 % of 6000 agorot). Finance's payment is in
		// JOD: its call is billed, no fee in ILS.
		wantTotals := map[string]int64{"Ministry of Health": 2 + 200 + 9 + 4 + 48 + 60, "mof-portal": 1, "public": 1}
		if fmt.Sprint(totals) != fmt.Sprint(wantTotals) {
			t.Errorf("invoice totals = %v; want %v", totals, wantTotals)
		}
	})
}
