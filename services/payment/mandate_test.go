package payment

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	eventsv1 "github.com/tamkeen/tamkeen/proto/tamkeen/events/v1"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

// The sandbox bank's test IBANs (sandbox/bank.go).
const (
	ibanSettles      = "PS50PALS000000000000012340001"
	ibanInsufficient = "PS58PALS000000000000012340051"
)

// citizenAt mints a citizen token of sub at acr, authenticated age ago.
func (tk *tokens) citizenAt(t testing.TB, sub, acr string, age time.Duration) string {
	return tk.sign(t, jwt.MapClaims{"sub": sub, "acr": acr, "auth_time": tk.clk.Now().Add(-age).Unix()})
}

// debitRig is a payment service on db served over gRPC with real tokens:
// ministry moh's client, ministry mof's client and three citizens.
type debitRig struct {
	h                 *harness
	c                 paymentv1.PaymentServiceClient
	moh, mof          context.Context
	layla, omar, sami context.Context // loa2, fresh
	laylaLoa1         context.Context
	tk                *tokens
}

// refresh mints the rig's tokens afresh at the clock's time.
func (r *debitRig) refresh(t *testing.T) {
	tk := r.tk
	r.moh = withToken(tk.clientOf(t, "moh-app", "moh", scope.PaymentsWrite, scope.PaymentsRead))
	r.mof = withToken(tk.clientOf(t, "mof-app", "mof", scope.PaymentsWrite, scope.PaymentsRead))
	r.layla = withToken(tk.citizenAt(t, "cit_layla", "loa2", time.Minute))
	r.omar = withToken(tk.citizenAt(t, "cit_omar", "loa2", time.Minute))
	r.sami = withToken(tk.citizenAt(t, "cit_sami", "loa2", time.Minute))
	r.laylaLoa1 = withToken(tk.citizenAt(t, "cit_layla", "loa1", time.Minute))
}

func newDebitRig(t *testing.T, db *store.DB) *debitRig {
	clk := newClock()
	tk := newTokens(t, clk)
	h := newHarness(t, db, func(_ *Config, d *Deps) { d.Verifier = tk.verifier(t); d.Now = clk.Now })
	h.clk = clk
	r := &debitRig{h: h, c: grpcClient(t, h), tk: tk}
	r.refresh(t)
	return r
}

func mandateReq(iban string) *paymentv1.CreateMandateRequest {
	return &paymentv1.CreateMandateRequest{DebtorName: "Layla Haddad", DebtorIban: iban, MaxAmount: 50000, Currency: "ILS",
		Frequency: "monthly", StartDate: "2026-03-01", EndDate: "2026-12-31", Reference: "WATER-7731",
		Description: "Water bill instalments", Notify: &paymentv1.Receipt{PhoneNumber: "+970599123456", Language: "ar"}}
}

// mandate creates a mandate as moh and authorises it as citizen.
func (r *debitRig) mandate(t *testing.T, iban string, citizen context.Context) *paymentv1.Mandate {
	t.Helper()
	m, err := r.c.CreateMandate(r.moh, mandateReq(iban))
	if err != nil {
		t.Fatalf("CreateMandate: %v", err)
	}
	if m.GetState() != "pending" || m.GetCreditor() != "moh" || m.GetCreditorAccount() != "dept:moh" {
		t.Fatalf("created mandate %v", m)
	}
	m, err = r.c.AuthorizeMandate(citizen, &paymentv1.AuthorizeMandateRequest{Id: m.GetId()})
	if err != nil || m.GetState() != "active" {
		t.Fatalf("AuthorizeMandate = %v, %v; want active", m, err)
	}
	return m
}

func (r *debitRig) collect(t *testing.T, id string, amount int64, due string) *paymentv1.Collection {
	t.Helper()
	c, err := r.c.CreateCollection(r.moh, &paymentv1.CreateCollectionRequest{MandateId: id, Amount: amount, DueDate: due})
	if err != nil {
		t.Fatalf("CreateCollection %s %s: %v", id, due, err)
	}
	return c
}

// sweepAt moves the clock to day (09:00 UTC) and sweeps.
func (r *debitRig) sweepAt(t *testing.T, day string) SweepReport {
	t.Helper()
	d, _ := time.Parse(time.DateOnly, day)
	r.h.clk.Set(d.Add(9 * time.Hour))
	r.refresh(t)
	rep, err := r.h.svc.Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep on %s: %v", day, err)
	}
	return rep
}

func (r *debitRig) states(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	m, err := r.c.GetMandate(ctx, &paymentv1.GetMandateRequest{Id: id})
	if err != nil {
		t.Fatalf("GetMandate %s: %v", id, err)
	}
	var s []string
	for _, c := range m.GetCollections() {
		s = append(s, c.GetDueDate()+":"+c.GetState()+c.GetReasonCode())
	}
	return strings.Join(s, " ")
}

// TestDirectDebit is issue 18.3's must-show, on SQLite and PostgreSQL: a
// mandate is authorised at loa2 (a loa1 token gets the step-up challenge
// and the mandate stays pending); two collections are announced (the
// events the notification enabler texts) and settle from the sandbox
// bank's camt.054 into the ledger; one on an account without funds fails
// AM04 and is reported; the revoked mandate collects nothing more.
func TestDirectDebit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newDebitRig(t, db)
		ctx := context.Background()
		if err := r.h.bus.EnsureStream(ctx, r.h.svc.cfg.ServiceStream(Name)); err != nil {
			t.Fatal(err)
		}

		// Step-up: loa1 is refused with the RFC 9470 challenge.
		pending, err := r.c.CreateMandate(r.moh, mandateReq(ibanSettles))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.c.AuthorizeMandate(r.laylaLoa1, &paymentv1.AuthorizeMandateRequest{Id: pending.GetId()})
		if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), `acr_values="loa2"`) {
			t.Fatalf("loa1 authorisation = %v; want Unauthenticated with the loa2 challenge", err)
		}
		if m, _ := r.c.GetMandate(r.moh, &paymentv1.GetMandateRequest{Id: pending.GetId()}); m.GetState() != "pending" {
			t.Fatalf("after a loa1 attempt the mandate is %q; want pending", m.GetState())
		}
		if _, err := r.c.CreateCollection(r.moh, &paymentv1.CreateCollectionRequest{MandateId: pending.GetId(), Amount: 100, DueDate: "2026-03-10"}); rpcerr.Reason(err) != ReasonMandateNotActive {
			t.Fatalf("collection on a pending mandate = %v; want %s", err, ReasonMandateNotActive)
		}

		good := r.mandate(t, ibanSettles, r.layla)
		if good.GetDebtorIban() != ibanSettles || good.GetCitizenId() != "cit_layla" {
			t.Fatalf("the debtor sees %q bound to %q; want the IBAN in full, cit_layla", good.GetDebtorIban(), good.GetCitizenId())
		}
		poor := r.mandate(t, ibanInsufficient, r.omar)
		r.collect(t, good.GetId(), 12000, "2026-03-10")
		r.collect(t, good.GetId(), 12500, "2026-04-10")
		r.collect(t, good.GetId(), 12500, "2026-05-10")
		r.collect(t, poor.GetId(), 9000, "2026-03-10")

		if rep := r.sweepAt(t, "2026-03-06"); rep.Announced != 0 {
			t.Fatalf("6 March announced %d; want 0 (notice is 3 days)", rep.Announced)
		}
		if rep := r.sweepAt(t, "2026-03-07"); rep.Announced != 2 || rep.Submitted != 0 {
			t.Fatalf("7 March: %+v; want 2 announced, 0 submitted", rep)
		}
		if rep := r.sweepAt(t, "2026-03-10"); rep.Submitted != 2 || rep.Collected != 2 {
			t.Fatalf("10 March: %+v; want 2 submitted and collected", rep)
		}
		r.sweepAt(t, "2026-04-07")
		// A restart between submission and result loses nothing.
		r.h = newHarnessOn(t, db, r.h.bus, r.h.clk, func(_ *Config, d *Deps) { d.Verifier = r.h.svc.verifier })
		r.c = grpcClient(t, r.h)
		r.sweepAt(t, "2026-04-10")
		if got, want := r.states(t, r.layla, good.GetId()), "2026-03-10:settled 2026-04-10:settled 2026-05-10:scheduled"; got != want {
			t.Fatalf("good mandate: %s; want %s", got, want)
		}
		if got, want := r.states(t, r.omar, poor.GetId()), "2026-03-10:failedAM04"; got != want {
			t.Fatalf("poor mandate: %s; want %s", got, want)
		}

		// Revoked: May's collection is cancelled and never submitted.
		if m, err := r.c.RevokeMandate(r.layla, &paymentv1.RevokeMandateRequest{Id: good.GetId()}); err != nil || m.GetState() != "revoked" {
			t.Fatalf("RevokeMandate = %v, %v", m, err)
		}
		if _, err := r.c.CreateCollection(r.moh, &paymentv1.CreateCollectionRequest{MandateId: good.GetId(), Amount: 100, DueDate: "2026-06-10"}); rpcerr.Reason(err) != ReasonMandateNotActive {
			t.Fatalf("collection on a revoked mandate = %v; want %s", err, ReasonMandateNotActive)
		}
		for _, d := range []string{"2026-05-07", "2026-05-10", "2026-06-10"} {
			if rep := r.sweepAt(t, d); rep.Announced+rep.Submitted+rep.Collected != 0 {
				t.Fatalf("after the revocation, %s: %+v; want nothing", d, rep)
			}
		}
		if got, want := r.states(t, r.moh, good.GetId()), "2026-03-10:settled 2026-04-10:settled 2026-05-10:cancelledMD01"; got != want {
			t.Fatalf("revoked mandate: %s; want %s", got, want)
		}
		if n := r.h.count(`SELECT COUNT(*) FROM sandbox_bank_messages WHERE pain008 LIKE '%' || $1 || '%'`, "2026-05-10"); n != 0 {
			t.Fatalf("%d bank messages hold the cancelled collection", n)
		}

		// The ledger: 245.00 ILS from the bank's clearing to moh's revenue.
		if got := r.h.balanceOf("dept:moh", "ILS"); got != -24500 {
			t.Errorf("dept:moh balance %d; want -24500", got)
		}
		if got := r.h.balanceOf("clearing:sandbox-bank", "ILS"); got != 24500 {
			t.Errorf("clearing:sandbox-bank balance %d; want 24500", got)
		}
		r.h.checkLedger()

		// The events: three announcements (with where to text them), two
		// settlements, one failure with its reason; none carries the IBAN.
		if _, err := r.h.svc.Relay.PublishPending(ctx); err != nil {
			t.Fatal(err)
		}
		got := map[string][]string{}
		seen := make(chan events.Event, 16)
		stop, err := r.h.bus.Consume(ctx, events.ConsumerConfig{Stream: "PAYMENT", Durable: "test-debit",
			FilterSubjects: []string{"tamkeen.payment.collection_announced", "tamkeen.payment.collection_settled", "tamkeen.payment.collection_failed"}},
			func(_ context.Context, ev events.Event) error { seen <- ev; return nil })
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		deadline := time.After(10 * time.Second)
		for n := 0; n < 6; n++ {
			select {
			case ev := <-seen:
				var m eventsv1.DirectDebitCollection
				if err := ev.UnmarshalData(&m); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(ev.Data), "PALS") {
					t.Errorf("event %s carries the IBAN", ev.Type)
				}
				if m.GetPhoneNumber() != "+970599123456" || m.GetLanguage() != "ar" || m.GetCreditor() != "moh" {
					t.Errorf("event %s: %+v", ev.Type, &m)
				}
				got[ev.Type] = append(got[ev.Type], m.GetDueDate()+m.GetReasonCode())
			case <-deadline:
				t.Fatalf("only %v on the stream; want 3 announced, 2 settled, 1 failed", got)
			}
		}
		for typ, want := range map[string]string{
			"tamkeen.payment.collection_announced.v1": "2026-03-10 2026-03-10 2026-04-10",
			"tamkeen.payment.collection_settled.v1":   "2026-03-10 2026-04-10",
			"tamkeen.payment.collection_failed.v1":    "2026-03-10AM04",
		} {
			g := got[typ]
			slicesSort(g)
			if strings.Join(g, " ") != want {
				t.Errorf("%s: %v; want %s", typ, g, want)
			}
		}
	})
}

func slicesSort(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestMandateOwnership is the matrix of who may do what with a mandate:
// the ministry that created it reads it (IBAN masked) and schedules on it;
// the citizen bound to it reads it (IBAN in full) and revokes it; another
// ministry and another citizen get NotFound for everything.
func TestMandateOwnership(t *testing.T) {
	r := newDebitRig(t, storetest.SQLite(t))
	m := r.mandate(t, ibanSettles, r.layla)
	id := m.GetId()
	masked := provider.MaskIBAN(ibanSettles)
	type call func(ctx context.Context) (string, error)
	get := func(ctx context.Context) (string, error) {
		m, err := r.c.GetMandate(ctx, &paymentv1.GetMandateRequest{Id: id})
		return m.GetDebtorIban(), err
	}
	schedule := func(ctx context.Context) (string, error) {
		_, err := r.c.CreateCollection(ctx, &paymentv1.CreateCollectionRequest{MandateId: id, Amount: 100, DueDate: "2026-03-20"})
		return "", err
	}
	authorize := func(ctx context.Context) (string, error) {
		_, err := r.c.AuthorizeMandate(ctx, &paymentv1.AuthorizeMandateRequest{Id: id})
		return "", err
	}
	revoke := func(ctx context.Context) (string, error) {
		_, err := r.c.RevokeMandate(ctx, &paymentv1.RevokeMandateRequest{Id: id})
		return "", err
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		call call
		code codes.Code
		iban string
	}{
		{"creator reads, masked", r.moh, get, codes.OK, masked},
		{"debtor reads, in full", r.layla, get, codes.OK, ibanSettles},
		{"other ministry reads", r.mof, get, codes.NotFound, ""},
		{"other citizen reads", r.omar, get, codes.NotFound, ""},
		{"other ministry schedules", r.mof, schedule, codes.NotFound, ""},
		{"debtor schedules", r.layla, schedule, codes.PermissionDenied, ""},
		{"other citizen authorizes", r.omar, authorize, codes.NotFound, ""},
		{"ministry authorizes", r.moh, authorize, codes.PermissionDenied, ""},
		{"other citizen revokes", r.sami, revoke, codes.NotFound, ""},
		{"ministry revokes", r.mof, revoke, codes.PermissionDenied, ""},
		{"creator schedules", r.moh, schedule, codes.OK, ""},
		{"debtor revokes", r.layla, revoke, codes.OK, ""},
	} {
		iban, err := tc.call(tc.ctx)
		if got := status.Code(err); got != tc.code {
			t.Errorf("%s: %v; want %s", tc.name, err, tc.code)
		}
		if iban != tc.iban {
			t.Errorf("%s: IBAN %q; want %q", tc.name, iban, tc.iban)
		}
	}
	// A mandate the ministry named a citizen for: only that citizen sees
	// or authorises it.
	req := mandateReq(ibanSettles)
	req.CitizenId = "cit_omar"
	named, err := r.c.CreateMandate(r.moh, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.c.AuthorizeMandate(r.layla, &paymentv1.AuthorizeMandateRequest{Id: named.GetId()}); status.Code(err) != codes.NotFound {
		t.Errorf("another citizen authorises a named mandate: %v; want NotFound", err)
	}
	if m, err := r.c.AuthorizeMandate(r.omar, &paymentv1.AuthorizeMandateRequest{Id: named.GetId()}); err != nil || m.GetState() != "active" {
		t.Errorf("the named citizen authorises: %v, %v", m, err)
	}
}

// TestMandateBadInput: each bad request gets InvalidArgument naming the
// field with its stable code, and nothing is stored.
func TestMandateBadInput(t *testing.T) {
	r := newDebitRig(t, storetest.SQLite(t))
	m := r.mandate(t, ibanSettles, r.layla)
	for _, tc := range []struct {
		name string
		edit func(*paymentv1.CreateMandateRequest)
		code string
	}{
		{"iban check digit", func(q *paymentv1.CreateMandateRequest) { q.DebtorIban = "PS51PALS000000000000012340001" }, "debtor_iban.check_digit"},
		{"iban length", func(q *paymentv1.CreateMandateRequest) { q.DebtorIban = "PS50PALS00000000000001234000" }, "debtor_iban.length"},
		{"iban country", func(q *paymentv1.CreateMandateRequest) { q.DebtorIban = "XX50PALS000000000000012340001" }, "debtor_iban.country"},
		{"iban format", func(q *paymentv1.CreateMandateRequest) { q.DebtorIban = "PS50-PALS" }, "debtor_iban.format"},
		{"max amount", func(q *paymentv1.CreateMandateRequest) { q.MaxAmount = 0 }, "max_amount.range"},
		{"frequency", func(q *paymentv1.CreateMandateRequest) { q.Frequency = "daily" }, "frequency.unsupported"},
		{"end before start", func(q *paymentv1.CreateMandateRequest) { q.EndDate = "2026-02-01"; q.StartDate = "2026-03-02" }, "end_date.before_start"},
		{"start in the past", func(q *paymentv1.CreateMandateRequest) { q.StartDate = "2026-02-01" }, "start_date.past"},
		{"date format", func(q *paymentv1.CreateMandateRequest) { q.EndDate = "31/12/2026" }, "end_date.format"},
		{"notify phone", func(q *paymentv1.CreateMandateRequest) { q.Notify.PhoneNumber = "0599123456" }, "notify.phone_number.invalid"},
		{"reference too long", func(q *paymentv1.CreateMandateRequest) { q.Reference = strings.Repeat("R", 36) }, "reference.too_many_bytes"},
	} {
		req := mandateReq(ibanSettles)
		tc.edit(req)
		_, err := r.c.CreateMandate(r.moh, req)
		assertField(t, tc.name, err, tc.code)
		if strings.Contains(status.Convert(err).Message(), "PALS") {
			t.Errorf("%s: the error repeats the IBAN: %v", tc.name, err)
		}
	}
	for _, tc := range []struct {
		name   string
		amount int64
		due    string
		code   string
	}{
		{"over max", 50001, "2026-03-20", "amount.exceeds_max"},
		{"zero", 0, "2026-03-20", "amount.range"},
		{"too soon", 100, "2026-03-03", "due_date.too_soon"},
		{"after end", 100, "2027-01-10", "due_date.outside_mandate"},
		{"bad date", 100, "2026-3-20", "due_date.format"},
	} {
		_, err := r.c.CreateCollection(r.moh, &paymentv1.CreateCollectionRequest{MandateId: m.GetId(), Amount: tc.amount, DueDate: tc.due})
		assertField(t, tc.name, err, tc.code)
	}
	r.collect(t, m.GetId(), 100, "2026-03-20")
	_, err := r.c.CreateCollection(r.moh, &paymentv1.CreateCollectionRequest{MandateId: m.GetId(), Amount: 100, DueDate: "2026-03-28"})
	assertField(t, "second in the month", err, "due_date.period_taken")
	if n := r.h.count(`SELECT COUNT(*) FROM mandates`); n != 1 {
		t.Errorf("%d mandates stored; want 1", n)
	}
	if n := r.h.count(`SELECT COUNT(*) FROM mandate_collections`); n != 1 {
		t.Errorf("%d collections stored; want 1", n)
	}
	// A client registered without a ministry has no one to collect for.
	orphan := withToken(r.tk.clientOf(t, "orphan-app", "", scope.PaymentsWrite))
	if _, err := r.c.CreateMandate(orphan, mandateReq(ibanSettles)); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a client without a ministry creates a mandate: %v; want PermissionDenied", err)
	}
}

func assertField(t *testing.T, name string, err error, code string) {
	t.Helper()
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("%s: %v; want InvalidArgument", name, err)
		return
	}
	var codes []string
	for _, fe := range rpcerr.FieldViolations(err) {
		codes = append(codes, rpcerr.CodeOf(fe))
	}
	if len(codes) != 1 || codes[0] != code {
		t.Errorf("%s: field codes %v; want [%s]", name, codes, code)
	}
}

// TestListMandates: each caller lists only what it may read — moh its
// own mandates (IBANs masked), mof none of them, a citizen those bound to
// them or pending and naming them (IBAN in full), never another's or one
// open to any citizen — newest first, a page at a time, by state; a bad
// state or page token is InvalidArgument naming the field.
func TestListMandates(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newDebitRig(t, db)
		layla1 := r.mandate(t, ibanSettles, r.layla)
		r.h.clk.Advance(time.Second)
		layla2 := r.mandate(t, ibanInsufficient, r.layla)
		r.h.clk.Advance(time.Second)
		omar1 := r.mandate(t, ibanSettles, r.omar)
		r.h.clk.Advance(time.Second)
		forSami := mandateReq(ibanSettles)
		forSami.CitizenId = "cit_sami"
		samiPending, err := r.c.CreateMandate(r.moh, forSami)
		if err != nil {
			t.Fatal(err)
		}
		// Newest first is by creation time, then by id, which is random.
		r.h.clk.Advance(time.Second)
		open, err := r.c.CreateMandate(r.moh, mandateReq(ibanSettles)) // any citizen may authorise it
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.c.RevokeMandate(r.laylaLoa1, &paymentv1.RevokeMandateRequest{Id: layla1.GetId()}); err != nil {
			t.Fatal(err)
		}
		r.refresh(t)

		list := func(ctx context.Context, state string, size int32, token string) ([]string, string, []*paymentv1.Mandate) {
			t.Helper()
			resp, err := r.c.ListMandates(ctx, &paymentv1.ListMandatesRequest{State: state, PageSize: size, PageToken: token})
			if err != nil {
				t.Fatalf("ListMandates(%q, %d): %v", state, size, err)
			}
			var ids []string
			for _, m := range resp.GetMandates() {
				ids = append(ids, m.GetId())
			}
			return ids, resp.GetNextPageToken(), resp.GetMandates()
		}
		ids := func(ms ...*paymentv1.Mandate) string {
			var s []string
			for _, m := range ms {
				s = append(s, m.GetId())
			}
			return strings.Join(s, ",")
		}
		for _, tc := range []struct {
			name  string
			ctx   context.Context
			state string
			want  string
		}{
			{"moh, all", r.moh, "", ids(open, samiPending, omar1, layla2, layla1)},
			{"moh, active", r.moh, "active", ids(omar1, layla2)},
			{"moh, revoked", r.moh, "revoked", ids(layla1)},
			{"mof", r.mof, "", ""},
			{"layla", r.layla, "", ids(layla2, layla1)},
			{"layla at loa1", r.laylaLoa1, "", ids(layla2, layla1)},
			{"omar", r.omar, "", ids(omar1)},
			{"sami, pending and naming him", r.sami, "", ids(samiPending)},
		} {
			got, _, ms := list(tc.ctx, tc.state, 0, "")
			if strings.Join(got, ",") != tc.want {
				t.Errorf("%s: ListMandates = %v; want %s", tc.name, got, tc.want)
			}
			for _, m := range ms {
				citizen := tc.ctx != r.moh && tc.ctx != r.mof && m.GetCitizenId() != ""
				if full := m.GetDebtorIban() == ibanSettles || m.GetDebtorIban() == ibanInsufficient; full != citizen {
					t.Errorf("%s: %s shows IBAN %s; want it in full only to its citizen", tc.name, m.GetId(), m.GetDebtorIban())
				}
				if len(m.GetCollections()) != 0 {
					t.Errorf("%s: %s lists collections; want them on GetMandate only", tc.name, m.GetId())
				}
			}
		}

		// Pages of two: newest first, each once.
		var all []string
		token := ""
		for range 4 {
			page, next, _ := list(r.moh, "", 2, token)
			all = append(all, page...)
			if token = next; token == "" {
				break
			}
		}
		if strings.Join(all, ",") != ids(open, samiPending, omar1, layla2, layla1) {
			t.Errorf("moh's pages of 2 = %v; want every mandate once, newest first", all)
		}

		for _, tc := range []struct {
			req   *paymentv1.ListMandatesRequest
			field string
		}{
			{&paymentv1.ListMandatesRequest{State: "settled"}, "state"},
			{&paymentv1.ListMandatesRequest{PageSize: MaxPageSize + 1}, "page_size"},
			{&paymentv1.ListMandatesRequest{PageToken: "not-a-token"}, "page_token"},
		} {
			_, err := r.c.ListMandates(r.moh, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("ListMandates(%v) = %v; want InvalidArgument naming %s", tc.req, err, tc.field)
			}
		}
		noScope := withToken(r.tk.clientOf(t, "moh-app", "moh", scope.PaymentsWrite))
		if _, err := r.c.ListMandates(noScope, &paymentv1.ListMandatesRequest{}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("ListMandates without payments:read = %v; want PermissionDenied", err)
		}
	})
}

// TestCreateMandateIdempotencyKey: the same Idempotency-Key and request
// give the same mandate, also when sixteen arrive at once; the key with
// another request is refused (IDEMPOTENCY_KEY_REUSED) and creates
// nothing; another client's same key is its own.
func TestCreateMandateIdempotencyKey(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		r := newDebitRig(t, db)
		req := mandateReq(ibanSettles)
		req.IdempotencyKey = "mandate-7731"
		var wg sync.WaitGroup
		ids := make([]string, 16)
		errs := make([]error, 16)
		for i := range ids {
			wg.Go(func() {
				m, err := r.c.CreateMandate(r.moh, req)
				ids[i], errs[i] = m.GetId(), err
			})
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("concurrent create %d = %s, %v; want %s for all", i, ids[i], errs[i], ids[0])
			}
		}
		other := mandateReq(ibanInsufficient)
		other.IdempotencyKey = req.IdempotencyKey
		_, err := r.c.CreateMandate(r.moh, other)
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "Idempotency-Key was already used") {
			t.Errorf("the key with another request = %v; want InvalidArgument: already used", err)
		}
		mof, err := r.c.CreateMandate(r.mof, req)
		if err != nil || mof.GetId() == ids[0] {
			t.Errorf("mof's create with moh's key = %v, %v; want a mandate of its own", mof.GetId(), err)
		}
		list, err := r.c.ListMandates(r.moh, &paymentv1.ListMandatesRequest{})
		if err != nil || len(list.GetMandates()) != 1 {
			t.Errorf("moh's mandates = %d, %v; want the one", len(list.GetMandates()), err)
		}
		bad := mandateReq(ibanSettles)
		bad.IdempotencyKey = "with space"
		if _, err := r.c.CreateMandate(r.moh, bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "idempotency_key") {
			t.Errorf("a key with a space = %v; want InvalidArgument naming idempotency_key", err)
		}
	})
}
