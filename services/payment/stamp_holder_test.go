package payment

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
	paymentv1 "github.com/tamkeen/tamkeen/proto/tamkeen/payment/v1"
	"github.com/tamkeen/tamkeen/services/payment/stamppdf/stamppdftest"
)

// citizenOf mints a citizen token for subject at loa1.
func (tk *tokens) citizenOf(t testing.TB, subject string) string {
	return tk.sign(t, jwt.MapClaims{"sub": subject, "acr": "loa1"})
}

// TestCitizenStamps (issue 18.2): a ministry registers a fee type; a
// citizen buys stamps of it naming only the fee type — the department,
// value, currency and ministry come from the registration, the buyer from
// the token, and a body naming any of them is refused and changes
// nothing; the citizen lists and prints its stamps. The matrix: citizen
// A (the buyer), citizen B, the issuing ministry's client, another
// ministry's client and no token, on list and print; only A and the
// issuing ministry get the PDF, and B's list stays empty. A fee type id
// belongs to the ministry that registered it first. On SQLite and
// PostgreSQL.
func TestCitizenStamps(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		tk := newTokens(t, clk)
		h := newHarness(t, db, func(_ *Config, d *Deps) { d.Verifier = tk.verifier(t); d.Now = clk.Now })
		h.clk = clk
		c := grpcClient(t, h)
		issuer := withToken(tk.clientOf(t, "moj-portal", ministryA, scope.PaymentsWrite, scope.PaymentsRead))
		other := withToken(tk.clientOf(t, "mof-app", ministryB, scope.PaymentsWrite, scope.PaymentsRead))
		citizenA := withToken(tk.citizenOf(t, "cit_A1"))
		citizenB := withToken(tk.citizenOf(t, "cit_B2"))
		anonymous := context.Background()

		reg := &paymentv1.RegisterStampFeeTypeRequest{FeeType: "court-filing", Department: "dept:courts", Value: 5000,
			Currency: "JOD", NameAr: "رسم قيد دعوى", NameEn: "Court filing fee"}
		// Before the registration a citizen cannot buy the fee type.
		if _, err := c.CreateStamps(citizenA, &paymentv1.CreateStampsRequest{FeeType: "court-filing", ReturnUrl: "https://citizen.example/done"}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "fee_type") {
			t.Errorf("a citizen's order of an unregistered fee type = %v; want InvalidArgument naming fee_type", err)
		}
		ft, err := c.RegisterStampFeeType(issuer, reg)
		if err != nil || ft.GetMinistry() != ministryA || ft.GetNameAr() != "رسم قيد دعوى" {
			t.Fatalf("RegisterStampFeeType = %v, %v; want it registered for %s", ft, err, ministryA)
		}
		// The same id by another ministry is refused and changes nothing;
		// the owner updates it.
		taken := proto.Clone(reg).(*paymentv1.RegisterStampFeeTypeRequest)
		taken.Department = "dept:finance"
		if _, err := c.RegisterStampFeeType(other, taken); status.Code(err) != codes.AlreadyExists {
			t.Errorf("another ministry registering court-filing = %v; want AlreadyExists", err)
		}
		if _, err := c.RegisterStampFeeType(citizenA, reg); status.Code(err) != codes.PermissionDenied {
			t.Errorf("a citizen registering a fee type = %v; want PermissionDenied", err)
		}
		for _, bad := range []struct {
			name  string
			edit  func(r *paymentv1.RegisterStampFeeTypeRequest)
			field string
		}{
			{"bad id", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.FeeType = "Court Filing" }, "fee_type"},
			{"bad department", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.Department = "courts" }, "department"},
			{"no value", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.Value = 0 }, "value"},
			{"bad currency", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.Currency = "EUR" }, "currency"},
			{"no Arabic name", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.NameAr = " " }, "name_ar"},
			{"bidi control in the name", func(r *paymentv1.RegisterStampFeeTypeRequest) { r.NameEn = "Court\u202efee" }, "name_en"},
		} {
			r := proto.Clone(reg).(*paymentv1.RegisterStampFeeTypeRequest)
			bad.edit(r)
			if _, err := c.RegisterStampFeeType(issuer, r); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), bad.field) {
				t.Errorf("%s: RegisterStampFeeType = %v; want InvalidArgument naming %s", bad.name, err, bad.field)
			}
		}
		list, err := c.ListStampFeeTypes(anonymous, &paymentv1.ListStampFeeTypesRequest{})
		if err != nil || len(list.GetFeeTypes()) != 1 || list.GetFeeTypes()[0].GetDepartment() != "dept:courts" {
			t.Fatalf("public ListStampFeeTypes = %v, %v; want court-filing of dept:courts only", list, err)
		}

		// A citizen naming the department, value or currency is refused,
		// naming each, and no order is made.
		for _, req := range []*paymentv1.CreateStampsRequest{
			{FeeType: "court-filing", Department: "dept:finance", ReturnUrl: "https://citizen.example/done"},
			{FeeType: "court-filing", Value: 1, ReturnUrl: "https://citizen.example/done"},
			{FeeType: "court-filing", Currency: "ILS", ReturnUrl: "https://citizen.example/done"},
		} {
			if _, err := c.CreateStamps(citizenA, req); status.Code(err) != codes.InvalidArgument {
				t.Errorf("citizen order %v = %v; want InvalidArgument", req, err)
			}
		}
		if n := h.count(`SELECT COUNT(*) FROM stamps`); n != 0 {
			t.Fatalf("stamps after refused orders = %d; want 0", n)
		}

		o, err := c.CreateStamps(citizenA, &paymentv1.CreateStampsRequest{FeeType: "court-filing", Quantity: 2, ReturnUrl: "https://citizen.example/done"})
		if err != nil {
			t.Fatal(err)
		}
		if p := o.GetPayment(); p.GetAmount() != 10000 || p.GetCurrency() != "JOD" || p.GetCitizenId() != "cit_A1" ||
			len(p.GetSplits()) != 1 || p.GetSplits()[0].GetAccount() != "dept:courts" {
			t.Errorf("citizen's payment = %v; want 10.000 JOD to dept:courts for cit_A1", p)
		}
		var ministry string
		if err := db.QueryRowContext(context.Background(), `SELECT ministry FROM payments WHERE id = $1`, o.GetPayment().GetId()).Scan(&ministry); err != nil || ministry != ministryA {
			t.Errorf("the order's ministry = %q, %v; want %s (the fee type's)", ministry, err, ministryA)
		}
		for _, st := range o.GetStamps() {
			if st.GetBuyer() != "cit_A1" || st.GetDepartment() != "dept:courts" || st.GetValue() != 5000 || st.GetStatus() != "unpaid" {
				t.Errorf("citizen's stamp = %v; want unpaid, 5.000 JOD of dept:courts bought by cit_A1", st)
			}
		}
		serial := o.GetStamps()[0].GetSerial()
		// Unpaid: nobody prints it yet.
		if _, err := c.PrintStamp(citizenA, &paymentv1.PrintStampRequest{Serial: serial}); status.Code(err) != codes.NotFound {
			t.Errorf("printing an unpaid stamp = %v; want NotFound", err)
		}
		h.pay2(o.GetPayment().GetId(), o.GetPayment().GetNextUrl())
		// Issued but not sealed yet: the holder is told to retry.
		if _, err := c.PrintStamp(citizenA, &paymentv1.PrintStampRequest{Serial: serial}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("printing an unsealed stamp = %v; want FailedPrecondition", err)
		}
		// The signature enabler's seal (stored as its stamp_sealed event
		// would).
		jws := "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJUYW1rZWVuIn0.c2ln"
		if err := setStampSeal(context.Background(), db, serial, jws); err != nil {
			t.Fatal(err)
		}

		lower := strings.ToLower(serial) // as typed from paper
		for _, cell := range []struct {
			who        string
			ctx        context.Context
			print      codes.Code
			listsStamp bool
		}{
			{"citizen A (buyer)", citizenA, codes.OK, true},
			{"citizen B", citizenB, codes.NotFound, false},
			{"issuing ministry", issuer, codes.OK, false},
			{"another ministry", other, codes.NotFound, false},
			{"no token", anonymous, codes.Unauthenticated, false},
		} {
			t.Run(cell.who, func(t *testing.T) {
				got, err := c.PrintStamp(cell.ctx, &paymentv1.PrintStampRequest{Serial: lower})
				if status.Code(err) != cell.print {
					t.Fatalf("PrintStamp = %v; want %v", err, cell.print)
				}
				if cell.print == codes.OK && !bytes.HasPrefix(got.GetPdf(), []byte("%PDF-")) {
					t.Errorf("PrintStamp = %.20q…; want a PDF", got.GetPdf())
				}
				l, err := c.ListStamps(cell.ctx, &paymentv1.ListStampsRequest{})
				if cell.ctx == anonymous {
					if status.Code(err) != codes.Unauthenticated {
						t.Errorf("ListStamps without a token = %v; want Unauthenticated", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				listed := false
				for _, st := range l.GetStamps() {
					listed = listed || st.GetSerial() == serial
				}
				if listed != cell.listsStamp {
					t.Errorf("ListStamps names A's stamp: %v; want %v (%v)", listed, cell.listsStamp, l)
				}
			})
		}
		// Pages: the buyer's two stamps one at a time, newest order first.
		p1, err := c.ListStamps(citizenA, &paymentv1.ListStampsRequest{PageSize: 1})
		if err != nil || len(p1.GetStamps()) != 1 || p1.GetNextPageToken() == "" || p1.GetStamps()[0].GetStatus() != "valid" {
			t.Fatalf("first page = %v, %v; want one valid stamp and a next token", p1, err)
		}
		p2, err := c.ListStamps(citizenA, &paymentv1.ListStampsRequest{PageSize: 1, PageToken: p1.GetNextPageToken()})
		if err != nil || len(p2.GetStamps()) != 1 || p2.GetNextPageToken() != "" || p2.GetStamps()[0].GetSerial() == p1.GetStamps()[0].GetSerial() {
			t.Errorf("second page = %v, %v; want the other stamp and no next token", p2, err)
		}
		if _, err := c.ListStamps(citizenA, &paymentv1.ListStampsRequest{PageToken: "nonsense"}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ListStamps with a forged token = %v; want InvalidArgument", err)
		}

		// A client of another ministry may not buy the fee type; the
		// issuing ministry's client buys it naming only the fee type.
		if _, err := c.CreateStamps(other, &paymentv1.CreateStampsRequest{FeeType: "court-filing", Value: 100, Currency: "ILS",
			Department: "dept:finance", ReturnUrl: "https://mof.example/done"}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("another ministry buying court-filing = %v; want InvalidArgument", err)
		}
		mo, err := c.CreateStamps(issuer, &paymentv1.CreateStampsRequest{FeeType: "court-filing", ReturnUrl: "https://moj.example/done"})
		if err != nil || mo.GetStamps()[0].GetValue() != 5000 || mo.GetStamps()[0].GetBuyer() != "moj-portal" {
			t.Errorf("the ministry's order by fee type = %v, %v; want 5.000 JOD bought by moj-portal", mo, err)
		}
		h.checkLedger()
	})
}

// TestPrintStampPDF: the printed stamp shows the registered names (the
// Arabic one too) and the seal's issuer, from the service's own data.
func TestPrintStampPDF(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t), nil)
	ctx := context.Background()
	if _, err := h.svc.RegisterFeeType(ctx, "moj-portal", ministryA, FeeType{ID: "court-filing", Department: "dept:courts",
		Value: 500, Currency: "ILS", NameAR: "رسم قيد دعوى", NameEN: "Court filing fee"}); err != nil {
		t.Fatal(err)
	}
	o, err := h.svc.CreateStamps(ctx, "cit_A1", StampInput{FeeType: "court-filing", ReturnURL: "https://c.example/", Citizen: true})
	if err != nil {
		t.Fatal(err)
	}
	h.pay2(o.Payment.ID, o.Payment.NextURL)
	serial := o.Stamps[0].Serial
	if err := setStampSeal(ctx, h.db, serial, "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJTdGF0ZSBvZiBQYWxlc3RpbmUifQ.c2ln"); err != nil {
		t.Fatal(err)
	}
	pdf, err := h.svc.PrintStamp(ctx, Party{CitizenID: "cit_A1"}, serial)
	if err != nil {
		t.Fatal(err)
	}
	text := stamppdftest.Text(t, stamppdftest.Save(t, pdf))
	for _, want := range []string{serial, "رسم قيد دعوى", "Court filing fee (court-filing)", "State of Palestine", "cit_A1", "5.00 ILS"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext lacks %q:\n%s", want, text)
		}
	}
	if _, err := h.svc.PrintStamp(ctx, Party{CitizenID: "cit_B2"}, serial); !errors.Is(err, ErrStampNotFound) {
		t.Errorf("another citizen's print = %v; want not found", err)
	}
	if _, err := h.svc.PrintStamp(ctx, Party{CitizenID: "cit_A1"}, "PS-1"); err == nil || !strings.Contains(err.Error(), "serial") {
		t.Errorf("a malformed serial = %v; want invalid", err)
	}
}
