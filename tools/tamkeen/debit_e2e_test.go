package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// inboxSMS is one message of the dev inbox.
type inboxSMS struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// smsTo returns the dev inbox's messages to phone, newest first.
func smsTo(t *testing.T, base, phone string) []inboxSMS {
	t.Helper()
	resp, err := http.Get(base + "/dev/inbox?to=" + url.QueryEscape(phone))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var inbox struct {
		Messages []inboxSMS `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&inbox); err != nil {
		t.Fatal(err)
	}
	return inbox.Messages
}

// TestDirectDebitEndToEnd is issue 18.3's must-show, through the gateway
// of `tamkeen dev`: a ministry asks for two mandates (one on the sandbox
// bank's insufficient-funds IBAN), naming a phone number of its own; a
// citizen signs both off at loa2 (an SMS step-up); the ministry schedules
// collections, which are announced by SMS in Arabic to the number the
// citizen verified with auth, never to the ministry's; on the due date
// the sweep submits them and the sandbox bank's camt.054 settles one and
// fails the other (AM04), which the citizen is told of by SMS and the
// ministry's webhook endpoint by a signed collection.failed (and the
// settlement by collection.settled); a second collection is announced and
// settled a month later; the citizen revokes, and the collection already
// scheduled is cancelled and never collected, nor can another be
// scheduled. `tamkeen ledger check` passes throughout, and the ledger
// holds exactly the two settled amounts.
func TestDirectDebitEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole dev stack")
	}
	const (
		secret         = "direct-debit-e2e-client-secret"
		citizenPhone   = "+970599111222"
		ministryPhone  = "+970599000999"
		password       = "olive-oil-press-77"
		first8         = "40111222"
		settleIBAN     = "PS50 PALS 0000 0000 0000 0123 4000 1"
		insufficientIB = "PS58PALS000000000000012340051"
	)
	dir := t.TempDir()
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(9 * time.Hour)
	clock := clocktest.New(start)
	base, _ := startDevHooks(t, dir, devHooks{now: clock.Now}, map[string]string{
		"TAMKEEN_DEV_CLIENT_SECRET": secret, "TAMKEEN_SWEEP_INTERVAL": "100ms"})
	ministry := func() string { return clientToken(t, base, secret) } // tokens expire as the clock moves days
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	ledgerCheck := func(when string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"ledger", "check", "--data-dir=" + dir}, ledgerNoEnv, &out, &errOut); code != 0 {
			t.Fatalf("tamkeen ledger check %s: exit %d\n%s\n%s", when, code, out.String(), errOut.String())
		}
	}
	day := func(days int) string { return start.AddDate(0, 0, days).Format(time.DateOnly) }

	citizen := citizenAtLoa2(t, base, clock, secret, first8, citizenPhone, password)

	type collection struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		ReasonCode string `json:"reason_code"`
		DueDate    string `json:"due_date"`
	}
	type mandate struct {
		ID          string       `json:"id"`
		State       string       `json:"state"`
		CitizenID   string       `json:"citizen_id"`
		Collections []collection `json:"collections"`
	}
	create := func(iban string) mandate {
		t.Helper()
		var m mandate
		if resp, raw := call("POST", "/v1/mandates", ministry(), map[string]any{
			"debtor_name": "Layla Haddad", "debtor_iban": iban, "max_amount": "50000", "currency": "ILS",
			"frequency": "monthly", "start_date": day(0), "end_date": day(365), "reference": "WATER-7731",
			"description": "Water bill", "notify": map[string]string{"phone_number": ministryPhone, "language": "ar"},
		}).do(&m); resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK || m.State != "pending" {
			t.Fatalf("POST /v1/mandates = %d %s; want a pending mandate", resp.StatusCode, raw)
		}
		return m
	}
	good, poor := create(settleIBAN), create(insufficientIB)
	for _, m := range []mandate{good, poor} {
		var got mandate
		if resp, raw := call("POST", "/v1/mandates/"+m.ID+":authorize", citizen, map[string]any{}).do(&got); resp.StatusCode != http.StatusOK || got.State != "active" {
			t.Fatalf("authorize %s at loa2 = %d %s; want active", m.ID, resp.StatusCode, raw)
		}
	}
	schedule := func(m mandate, amount string, due string) collection {
		t.Helper()
		var c collection
		if resp, raw := call("POST", "/v1/mandates/"+m.ID+"/collections", ministry(), map[string]any{"amount": amount, "due_date": due}).do(&c); resp.StatusCode >= 300 || c.State != "scheduled" {
			t.Fatalf("schedule %s on %s = %d %s; want scheduled", amount, m.ID, resp.StatusCode, raw)
		}
		return c
	}
	read := func(m mandate) mandate {
		t.Helper()
		var got mandate
		if resp, raw := call("GET", "/v1/mandates/"+m.ID, ministry(), nil).do(&got); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/mandates/%s = %d %s", m.ID, resp.StatusCode, raw)
		}
		return got
	}
	stateOf := func(m mandate, id string) collection {
		for _, c := range read(m).Collections {
			if c.ID == id {
				return c
			}
		}
		t.Fatalf("collection %s is not on mandate %s", id, m.ID)
		return collection{}
	}
	waitState := func(m mandate, id, want string) collection {
		t.Helper()
		var c collection
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if c = stateOf(m, id); c.State == want {
				return c
			}
		}
		t.Fatalf("collection %s is %s after 20 s; want %s", id, c.State, want)
		return c
	}
	// waitSMS waits for an SMS to the citizen that holds every want.
	waitSMS := func(what string, want ...string) inboxSMS {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		next:
			for _, m := range smsTo(t, base, citizenPhone) {
				for _, w := range want {
					if !strings.Contains(m.Body, w) {
						continue next
					}
				}
				return m
			}
		}
		t.Fatalf("no SMS %s to the citizen's verified number within 20 s holding %q; inbox: %+v", what, want, smsTo(t, base, citizenPhone))
		return inboxSMS{}
	}

	// The ministry's endpoint for how collections end.
	hooks, received := hookSink(t, 0)
	var ep struct {
		Secret string `json:"secret"`
	}
	if resp, raw := call("POST", "/v1/webhook-endpoints", ministry(), map[string]any{"url": hooks.URL + "/debits",
		"events": []string{"collection.settled", "collection.failed"}}).do(&ep); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create webhook endpoint = %d %s", resp.StatusCode, raw)
	}
	// hook waits for the delivery of event type typ about collection id,
	// checks its signature and returns its data.
	hook := func(typ, id string) map[string]string {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, p := range received() {
				var b struct {
					Type string            `json:"type"`
					Data map[string]string `json:"data"`
				}
				if json.Unmarshal(p.body, &b) != nil || b.Type != typ || b.Data["collection_id"] != id {
					continue
				}
				if err := verifyTamkeenSignature(ep.Secret, p.header, p.body, clock.Now()); err != nil {
					t.Errorf("%s delivery does not verify: %v", typ, err)
				}
				return b.Data
			}
		}
		t.Fatalf("no %s webhook for %s within 20 s", typ, id)
		return nil
	}

	ledgerCheck("before any collection")
	first := schedule(good, "12000", day(3))
	failing := schedule(poor, "30000", day(3))
	second := schedule(good, "12500", day(35)) // a later month

	// Announced at once (due within the three days' notice), in Arabic,
	// to the verified number: amount, ministry, due date, how to revoke.
	waitState(good, first.ID, "announced")
	waitState(poor, failing.ID, "announced")
	waitSMS("announcing "+first.ID, "120.00 شيكل", demo.Ministry, day(3), good.ID, "ألغِ التفويض")
	waitSMS("announcing "+failing.ID, "300.00 شيكل", demo.Ministry, day(3), poor.ID)
	if c := stateOf(good, second.ID); c.State != "scheduled" {
		t.Errorf("collection due %s = %s before its notice; want scheduled", second.DueDate, c.State)
	}

	// The due date: submitted in a pain.008, settled or failed by the
	// sandbox bank's camt.054.
	clock.Advance(3 * 24 * time.Hour)
	waitState(good, first.ID, "settled")
	if c := waitState(poor, failing.ID, "failed"); c.ReasonCode != "AM04" {
		t.Errorf("the insufficient-funds collection failed with %q; want AM04", c.ReasonCode)
	}
	waitSMS("reporting the failure of "+failing.ID, "300.00 شيكل", "رصيد غير كافٍ", failing.ID)
	if d := hook("collection.failed", failing.ID); d["reason_code"] != "AM04" || d["amount"] != "30000" || d["mandate_id"] != poor.ID {
		t.Errorf("collection.failed data = %v; want AM04, 30000, mandate %s", d, poor.ID)
	}
	if d := hook("collection.settled", first.ID); d["state"] != "settled" || d["amount"] != "12000" {
		t.Errorf("collection.settled data = %v; want settled, 12000", d)
	}
	ledgerCheck("after the first settlement")

	// A month on: the second collection is announced, then settled.
	clock.Advance(29 * 24 * time.Hour) // day 32: the notice of day 35 starts
	waitState(good, second.ID, "announced")
	waitSMS("announcing "+second.ID, "125.00 شيكل", day(35))
	clock.Advance(3 * 24 * time.Hour)
	waitState(good, second.ID, "settled")

	// The citizen revokes (a fresh password login: any level may); the
	// collection scheduled meanwhile is cancelled and never collected.
	third := schedule(good, "13000", day(70))
	var login tokenResponse
	if resp, raw := call("POST", "/v1/auth/login", ministry(), map[string]string{"national_id": nationalID(first8), "password": password}).do(&login); resp.StatusCode != http.StatusOK {
		t.Fatalf("login = %d %s", resp.StatusCode, raw)
	}
	var revoked mandate
	if resp, raw := call("POST", "/v1/mandates/"+good.ID+":revoke", login.AccessToken, map[string]any{}).do(&revoked); resp.StatusCode != http.StatusOK || revoked.State != "revoked" {
		t.Fatalf("revoke = %d %s; want revoked", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/mandates/"+good.ID+"/collections", ministry(), map[string]any{"amount": "100", "due_date": day(100)}).do(nil); resp.StatusCode != http.StatusConflict {
		t.Errorf("collection on the revoked mandate = %d %s; want 409", resp.StatusCode, raw)
	}
	clock.Advance(40 * 24 * time.Hour) // past the third collection's due date
	time.Sleep(500 * time.Millisecond) // several sweeps
	if c := stateOf(good, third.ID); c.State != "cancelled" || c.ReasonCode != "MD01" {
		t.Errorf("collection of the revoked mandate = %+v; want cancelled (MD01)", c)
	}
	for _, m := range smsTo(t, base, citizenPhone) {
		if strings.Contains(m.Body, "130.00") {
			t.Errorf("the citizen was told of the cancelled collection: %q", m.Body)
		}
	}
	if got := smsTo(t, base, ministryPhone); len(got) != 0 {
		t.Errorf("the ministry's number got %d messages; want none (announcements go to the verified number)", len(got))
	}
	ledgerCheck("after the revocation")

	// The ledger: the two settled collections, and nothing of the failed
	// or the cancelled one.
	var ledger struct {
		Accounts []struct {
			Account string `json:"account"`
			Balance string `json:"balance"`
		} `json:"accounts"`
	}
	if resp, raw := call("GET", "/v1/ledger/accounts?currency=ILS", ministry(), nil).do(&ledger); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/ledger/accounts = %d %s", resp.StatusCode, raw)
	}
	got := map[string]string{}
	for _, a := range ledger.Accounts {
		got[a.Account] = a.Balance
	}
	// A balance is debits less credits: the ministry's revenue is a
	// credit, the money the bank holds for it a debit.
	if got["dept:"+demo.Ministry] != "-24500" || got["clearing:sandbox-bank"] != "24500" {
		t.Errorf("ledger balances = %v; want dept:%s credited 24500 (12000 + 12500 collected) and clearing:sandbox-bank debited as much",
			got, demo.Ministry)
	}
}
