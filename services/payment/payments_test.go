package payment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

func TestCreateAndPay(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		p := h.create(fee("PT-2026-0001"))
		if p.State != Created || !strings.HasPrefix(p.ID, "pay_") || !strings.HasPrefix(p.NextURL, testPublicURL+"/sandbox/checkout/ch_") {
			t.Fatalf("created %+v; want state created, a pay_ id and a sandbox next_url", p)
		}
		if !p.ExpireAt.Equal(p.CreatedAt.Add(30 * time.Minute)) {
			t.Errorf("expire_at %s; want created_at + 30m", p.ExpireAt)
		}
		resp := h.checkout(p, "4242 4242 4242 4242")
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://ministry.example/return?payment_id="+p.ID {
			t.Fatalf("checkout: %d to %q; want 303 to the return URL", resp.StatusCode, resp.Header.Get("Location"))
		}
		p = h.get(p.ID)
		if p.State != Succeeded {
			t.Fatalf("state %s; want succeeded", p.State)
		}
		var path []string
		for _, tr := range p.Transitions {
			path = append(path, string(tr.From)+">"+string(tr.To))
			if tr.At.IsZero() || tr.Cause == "" {
				t.Errorf("transition %+v lacks a time or cause", tr)
			}
		}
		if got := strings.Join(path, " "); got != ">created created>pending pending>succeeded" {
			t.Errorf("transitions %s", got)
		}
		// The 100.000 JOD fee posts one transaction: three credits that
		// add up exactly to the clearing debit.
		bals, err := h.svc.Balances(ctx, PlatformLedger, "JOD")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"clearing:sandbox": 100000, "dept:land-registry": -50000, "dept:municipality": -30000, "dept:treasury": -20000}
		for _, b := range bals {
			if want[b.Account] != b.Net() {
				t.Errorf("%s balance %d; want %d", b.Account, b.Net(), want[b.Account])
			}
			delete(want, b.Account)
		}
		if len(want) != 0 {
			t.Errorf("accounts missing from the ledger: %v", want)
		}
		if n := h.count(`SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'capture'`); n != 1 {
			t.Errorf("%d captures; want 1", n)
		}
		if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.succeeded'`); n != 1 {
			t.Errorf("%d payment.succeeded events in the outbox; want 1", n)
		}
		h.checkLedger()
		// Another ministry cannot see it.
		if _, err := h.svc.GetPayment(ctx, ministryB, p.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("ministry B GetPayment = %v; want not found", err)
		}
	})
}

func TestCreateRejectsBadInput(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	for _, tc := range []struct {
		name   string
		edit   func(*CreateInput)
		fields string
		reason string
		code   string
	}{
		{"split short by one fils", func(in *CreateInput) { in.Splits[2].Amount = 19999 }, "splits", "0.001 JOD less than amount 100.000 JOD", "splits.sum_mismatch"},
		{"no reference", func(in *CreateInput) { in.Reference = "" }, "reference", "required", "reference.required"},
		{"http return url", func(in *CreateInput) { in.ReturnURL = "http://ministry.example/r" }, "return_url", "https", "return_url.invalid"},
		{"relative return url", func(in *CreateInput) { in.ReturnURL = "/r" }, "return_url", "https", "return_url.invalid"},
		{"bad citizen", func(in *CreateInput) { in.CitizenID = "a b" }, "citizen_id", "", "citizen_id.format"},
		{"unknown provider", func(in *CreateInput) { in.Provider = "visa" }, "provider", "visa", "provider.unknown"},
		{"floaty currency", func(in *CreateInput) { in.Currency = "EUR" }, "currency", "EUR", "currency.unsupported"},
		{"control chars", func(in *CreateInput) { in.Description = "a\x00b" }, "description", "control", "description.forbidden_character"},
		{"bad key", func(in *CreateInput) { in.IdempotencyKey = "a b" }, "idempotency_key", "", "idempotency_key.format"},
		{"local receipt phone", func(in *CreateInput) { in.Receipt.PhoneNumber = "0599123456" }, "receipt.phone_number", "international", "receipt.phone_number.international_format"},
		{"bad receipt e-mail", func(in *CreateInput) { in.Receipt.EmailAddress = "not-an-address" }, "receipt.email_address", "", "receipt.email_address.invalid"},
		{"receipt in French", func(in *CreateInput) { in.Receipt.Language = "fr" }, "receipt.language", "", "receipt.language.unsupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := fee("R")
			in.Splits = append([]Split(nil), in.Splits...)
			tc.edit(&in)
			_, err := h.svc.CreatePayment(context.Background(), ministryA, in)
			st := rpcerr.FromDomain(err, nil, context.Background())
			vs := rpcerr.FieldViolations(st)
			if len(vs) != 1 || vs[0].Field != tc.fields || !strings.Contains(vs[0].Reason, tc.reason) {
				t.Fatalf("violations %+v; want one on %s containing %q", vs, tc.fields, tc.reason)
			}
			if vs[0].Code != tc.code {
				t.Errorf("code = %q; want %q", vs[0].Code, tc.code)
			}
		})
	}
	if n := h.count(`SELECT COUNT(*) FROM payments`); n != 0 {
		t.Errorf("%d payments stored from bad input; want 0", n)
	}
	// Plain http is fine for a return URL on this machine (development).
	in := fee("R")
	in.ReturnURL = "http://127.0.0.1:3000/done"
	h.create(in)
}

// TestIdempotencyConcurrent is the 50 concurrent identical
// creates with one Idempotency-Key: exactly one payment and 50 identical
// answers; a different body with the key is refused.
func TestIdempotencyConcurrent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		in := fee("PT-IDEM")
		in.IdempotencyKey = "idem-7f3a"
		const n = 50
		answers := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				p, err := h.svc.CreatePayment(context.Background(), ministryA, in)
				errs[i] = err
				if err == nil {
					answers[i], err = proto.MarshalOptions{Deterministic: true}.Marshal(toProto(p))
					errs[i] = err
				}
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			if string(answers[i]) != string(answers[0]) {
				t.Fatalf("answer %d differs from answer 0", i)
			}
		}
		if got := h.count(`SELECT COUNT(*) FROM payments`); got != 1 {
			t.Fatalf("%d payments; want exactly 1", got)
		}
		if got := h.count(`SELECT COUNT(*) FROM sandbox_charges`); got != 1 {
			t.Errorf("%d charges at the acquirer; want 1", got)
		}
		other := in
		other.Amount, other.Splits = 100001, []Split{{"dept:land-registry", 100001}}
		_, err := h.svc.CreatePayment(context.Background(), ministryA, other)
		if !errors.Is(err, ErrIdempotencyMismatch) {
			t.Fatalf("different body with the key: %v; want ErrIdempotencyMismatch", err)
		}
		// The same key is another ministry's own.
		if _, err := h.svc.CreatePayment(context.Background(), ministryB, other); err != nil {
			t.Fatalf("ministry B with the same key: %v", err)
		}
		// After 24 h the key is forgotten.
		h.clk.Advance(24*time.Hour + time.Second)
		if _, err := h.svc.CreatePayment(context.Background(), ministryA, other); err != nil {
			t.Fatalf("reuse after 24h: %v", err)
		}
	})
}

func TestListAndCancel(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		var ids []string
		for i := range 5 {
			p := h.create(fee(fmt.Sprintf("REF-%d", i%2)))
			ids = append(ids, p.ID)
			h.clk.Advance(time.Second)
		}
		if _, err := h.svc.CreatePayment(ctx, ministryB, fee("REF-0")); err != nil {
			t.Fatal(err)
		}
		var got []string
		token := ""
		for {
			page, next, err := h.svc.ListPayments(ctx, ministryA, ListFilter{PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page {
				got = append(got, p.ID)
			}
			if next == "" {
				break
			}
			token = next
		}
		if len(got) != 5 || got[0] != ids[4] || got[4] != ids[0] {
			t.Fatalf("listed %v; want ministry A's 5, newest first", got)
		}
		page, _, err := h.svc.ListPayments(ctx, ministryA, ListFilter{Reference: "REF-0"})
		if err != nil || len(page) != 3 {
			t.Fatalf("by reference: %d, %v; want 3", len(page), err)
		}
		p, err := h.svc.CancelPayment(ctx, ministryA, ids[0])
		if err != nil || p.State != Cancelled {
			t.Fatalf("cancel: %v, %s", err, p.State)
		}
		page, _, err = h.svc.ListPayments(ctx, ministryA, ListFilter{State: "cancelled"})
		if err != nil || len(page) != 1 || page[0].ID != ids[0] {
			t.Fatalf("by state: %v, %v", page, err)
		}
		page, _, err = h.svc.ListPayments(ctx, ministryA, ListFilter{CreatedAfter: p.CreatedAt.Add(time.Second), CreatedBefore: p.CreatedAt.Add(3 * time.Second)})
		if err != nil || len(page) != 2 {
			t.Fatalf("by date: %d, %v; want 2", len(page), err)
		}
		// A cancelled charge cannot be paid at the acquirer any more.
		if resp := h.checkout(p, "4242424242424242"); resp.StatusCode != http.StatusOK {
			t.Errorf("paying a cancelled payment answered %d; want the 200 'no longer payable' page", resp.StatusCode)
		}
		if p := h.get(ids[0]); p.State != Cancelled {
			t.Errorf("state %s after paying a cancelled payment", p.State)
		}
		// Cancelling twice, or after payment, is a 409 with the reason.
		_, err = h.svc.CancelPayment(ctx, ministryA, ids[0])
		if !errors.Is(err, ErrIllegalTransition) || !strings.Contains(err.Error(), "final") {
			t.Errorf("second cancel: %v; want an illegal transition naming the final state", err)
		}
		paid := h.pay(fee("PAID"))
		_, err = h.svc.CancelPayment(ctx, ministryA, paid.ID)
		if !errors.Is(err, rpcerr.ErrFailedPrecondition) || !strings.Contains(err.Error(), "only unpaid payments can be cancelled") {
			t.Errorf("cancel after payment: %v", err)
		}
		if _, err := h.svc.CancelPayment(ctx, ministryB, ids[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("ministry B cancelling A's payment: %v; want not found", err)
		}
		if _, _, err := h.svc.ListPayments(ctx, ministryA, ListFilter{State: "paid"}); err == nil {
			t.Error("listing by an unknown state succeeded")
		}
	})
}

func TestDeclinedAndThreeDS(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	declined := h.create(fee("D"))
	if resp := h.checkout(declined, "4000000000000002"); resp.StatusCode != http.StatusOK {
		t.Fatalf("decline page %d", resp.StatusCode)
	}
	if p := h.get(declined.ID); p.State != Failed {
		t.Errorf("declined payment is %s; want failed", p.State)
	}
	if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.failed'`); n != 1 {
		t.Errorf("%d payment.failed events; want 1", n)
	}
	tds := h.create(fee("3DS"))
	resp := h.checkout(tds, "4000000000003220")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasSuffix(strings.Split(resp.Header.Get("Location"), "?")[0], "/3ds") {
		t.Fatalf("3-D Secure card: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if p := h.get(tds.ID); p.State != Pending {
		t.Errorf("awaiting 3-D Secure: %s; want pending", p.State)
	}
	path := strings.TrimPrefix(tds.NextURL, testPublicURL) + "/3ds"
	resp = h.post(path, map[string][]string{"code": {"123456"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("3-D Secure code: %d", resp.StatusCode)
	}
	if p := h.get(tds.ID); p.State != Succeeded {
		t.Errorf("after 3-D Secure: %s; want succeeded", p.State)
	}
	bad := h.create(fee("3DS-BAD"))
	h.checkout(bad, "4000000000003220")
	h.post(strings.TrimPrefix(bad.NextURL, testPublicURL)+"/3ds", map[string][]string{"code": {"000000"}})
	if p := h.get(bad.ID); p.State != Failed {
		t.Errorf("wrong 3-D Secure code: %s; want failed", p.State)
	}
	h.checkLedger()
}

// TestExpiry: unpaid payments expire (voided at the acquirer); a timed-out
// charge pending at expiry expires too; one paid just before expiry
// succeeds instead.
func TestExpiry(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		unpaid := h.create(fee("U"))
		timeout := h.create(fee("T"))
		h.checkout(timeout, "4000000000000119")
		late := h.create(fee("L"))
		// The acquirer took the money, but the webhook was lost.
		h.setDeliver(func(context.Context, []byte, string) error { return errors.New("network down") })
		h.checkout(late, "4242424242424242")
		h.setDeliver(nil)
		h.clk.Advance(31 * time.Minute)
		rep, err := h.svc.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]State{unpaid.ID: Expired, timeout.ID: Expired, late.ID: Succeeded} {
			if p := h.get(id); p.State != want {
				t.Errorf("%s: %s; want %s", id, p.State, want)
			}
		}
		if rep.Expired != 2 {
			t.Errorf("sweep expired %d; want 2", rep.Expired)
		}
		// Each expiry is announced, for the ministry's webhooks.
		for _, id := range []string{unpaid.ID, timeout.ID} {
			if n := h.count(`SELECT COUNT(*) FROM outbox WHERE subject = 'tamkeen.payment.expired' AND ce_subject = $1`, id); n != 1 {
				t.Errorf("payment.expired events of %s = %d; want 1", id, n)
			}
		}
		if resp := h.checkout(unpaid, "4242424242424242"); resp.StatusCode != http.StatusOK {
			t.Errorf("paying an expired payment: %d", resp.StatusCode)
		}
		if p := h.get(unpaid.ID); p.State != Expired {
			t.Errorf("expired payment became %s", p.State)
		}
		h.checkLedger()
	})
}

// TestListedPaymentsCarryTheirDetails: a list page's payments carry the
// same splits and transitions, in order, as each one read alone (the page's
// details come from one query for all of it, not two per payment).
func TestListedPaymentsCarryTheirDetails(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, nil)
		ctx := context.Background()
		for i := range 4 {
			in := fee(fmt.Sprintf("REF-%d", i))
			in.Splits = in.Splits[:1+i%3]
			in.Amount = 0
			for _, sp := range in.Splits {
				in.Amount += sp.Amount
			}
			p := h.create(in)
			if i%2 == 1 {
				h.clk.Advance(time.Second)
				if _, err := h.svc.CancelPayment(ctx, ministryA, p.ID); err != nil {
					t.Fatal(err)
				}
			}
			h.clk.Advance(time.Second)
		}
		page, _, err := h.svc.ListPayments(ctx, ministryA, ListFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 4 {
			t.Fatalf("listed %d payments; want 4", len(page))
		}
		for _, listed := range page {
			alone, err := h.svc.GetPayment(ctx, ministryA, listed.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(alone.Splits) == 0 || len(alone.Transitions) == 0 {
				t.Fatalf("payment %s read alone has %d splits, %d transitions; want some of each", alone.ID, len(alone.Splits), len(alone.Transitions))
			}
			if !reflect.DeepEqual(listed.Splits, alone.Splits) || !reflect.DeepEqual(listed.Transitions, alone.Transitions) {
				t.Errorf("payment %s listed with splits %v, transitions %v; read alone %v, %v",
					listed.ID, listed.Splits, listed.Transitions, alone.Splits, alone.Transitions)
			}
		}
		if got := len(page[2].Transitions); got != 2 {
			t.Errorf("the cancelled payment listed with %d transitions; want 2 (created, cancelled)", got)
		}
	})
}
