package sandbox

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/services/payment/money"
	"github.com/tamkeen/tamkeen/services/payment/provider"
)

//go:embed templates/*.html templates/texts.json
var templateFS embed.FS

// Outcome is what a test card makes the sandbox do.
type Outcome string

// Test card outcomes.
const (
	Succeed          Outcome = "succeed"
	Decline          Outcome = "decline"
	InsufficientFund Outcome = "insufficient_funds"
	ThreeDS          Outcome = "3ds"
	Timeout          Outcome = "timeout"
)

// ThreeDSCode is the code the sandbox's 3-D Secure step accepts.
const ThreeDSCode = "123456"

// TestCard is a card number the sandbox knows.
type TestCard struct {
	Number  string
	Outcome Outcome
	// Text explains the card in English and Arabic.
	Text map[string]string
}

// TestCards are the sandbox's card numbers; any expiry in the future and
// any three digits as CVC go with them. Other numbers are refused.
var TestCards = []TestCard{
	{"4242 4242 4242 4242", Succeed, map[string]string{"en": "Paid at once", "ar": "يُدفع فورًا"}},
	{"4000 0000 0000 0002", Decline, map[string]string{"en": "Declined by the bank", "ar": "يرفضه البنك"}},
	{"4000 0000 0000 9995", InsufficientFund, map[string]string{"en": "Declined: insufficient funds", "ar": "مرفوض: الرصيد غير كافٍ"}},
	{"4000 0000 0000 3220", ThreeDS, map[string]string{"en": "Asks for a 3-D Secure code (" + ThreeDSCode + ")", "ar": "يطلب رمز تحقق 3-D Secure (" + ThreeDSCode + ")"}},
	{"4000 0000 0000 0119", Timeout, map[string]string{"en": "The bank never answers (stays pending)", "ar": "لا يرد البنك (يبقى قيد المعالجة)"}},
}

func cardOutcome(number string) (Outcome, bool) {
	for _, c := range TestCards {
		if strings.ReplaceAll(c.Number, " ", "") == number {
			return c.Outcome, true
		}
	}
	return "", false
}

// texts are the page's words per language.
type texts struct {
	Title, Brand, OtherLang, SandboxBanner, Pay, Reference, FixErrors, CardNumber, Expiry, CVC, Cardholder,
	PayButton, TestCards, ThreeDSTitle, ThreeDSHelp, Code, Confirm, Back, IndexHelp,
	ErrCardNumber, ErrUnknownCard, ErrExpiry, ErrCVC, ErrCode,
	Paid, Declined, NoFunds, Processing, AuthFailed, NotPayable, ExpiredMsg, FailedMsg string
}

// messages are the texts by language: templates/texts.json, which a
// translator edits without touching Go (TestTextsComplete checks both
// languages have every text and name ThreeDSCode).
var messages = i18n.Load[texts](templateFS, "templates/texts.json")

// currencyNames are the currencies' Arabic names.
var currencyNames = map[string]string{"ILS": "شيكل", "JOD": "دينار أردني", "USD": "دولار أمريكي"}

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// fieldError is one form problem.
type fieldError struct{ Field, Message string }

// formValues are what the payer typed (never the CVC) to show again.
type formValues struct{ CardNumber, Expiry, Cardholder string }

// pageData is what the templates render.
type pageData struct {
	Lang, Dir, OtherLang, OtherLangURL string
	T                                  texts
	Charge                             charge
	Amount                             string
	FormAction                         string
	Form                               formValues
	Errors                             []fieldError
	Cards                              []cardRow
	Good                               bool
	Message                            string
	ReturnURL                          string
}

type cardRow struct{ Number, Text string }

// FieldError returns the message for field, or "".
func (p pageData) FieldError(field string) string {
	for _, e := range p.Errors {
		if e.Field == field {
			return e.Message
		}
	}
	return ""
}

// Handler serves the sandbox under PathPrefix:
//
//	GET  /sandbox/                        the test cards
//	GET  /sandbox/checkout/{charge}       the hosted checkout page (?lang=ar|en)
//	POST /sandbox/checkout/{charge}       pay with a test card
//	GET  /sandbox/checkout/{charge}/3ds   the 3-D Secure step
//	POST /sandbox/checkout/{charge}/3ds   its code
//	GET  /sandbox/settlements/{date}      the day's settlement report (CSV)
func (a *Acquirer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sandbox/{$}", a.index)
	mux.HandleFunc("GET /sandbox/checkout/{charge}", a.checkoutPage)
	mux.HandleFunc("POST /sandbox/checkout/{charge}", a.pay)
	mux.HandleFunc("GET /sandbox/checkout/{charge}/3ds", a.threeDSPage)
	mux.HandleFunc("POST /sandbox/checkout/{charge}/3ds", a.threeDS)
	mux.HandleFunc("GET /sandbox/settlements/{date}", a.settlementCSV)
	return mux
}

// lang picks Arabic unless the request asks for English (query, form or
// the first Accept-Language).
func lang(r *http.Request) string {
	if l := r.FormValue("lang"); l == "en" || l == "ar" {
		return l
	}
	if al := strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language"))); strings.HasPrefix(al, "en") {
		return "en"
	}
	return "ar"
}

func (a *Acquirer) newPage(r *http.Request, c charge) pageData {
	l := lang(r)
	p := pageData{Lang: l, Dir: "rtl", OtherLang: "en", T: messages[l], Charge: c}
	if l == "en" {
		p.Dir, p.OtherLang = "ltr", "ar"
	}
	q := url.Values{"lang": {p.OtherLang}}
	p.OtherLangURL = r.URL.Path + "?" + q.Encode()
	p.FormAction = r.URL.Path + "?" + url.Values{"lang": {l}}.Encode()
	for _, tc := range TestCards {
		p.Cards = append(p.Cards, cardRow{tc.Number, tc.Text[l]})
	}
	if c.ID != "" {
		if cur, err := money.ParseCurrency(c.Currency); err == nil {
			p.Amount = money.FormatDecimal(c.Amount, cur.Scale()) + " " + c.Currency
			if l == "ar" {
				p.Amount = money.FormatDecimal(c.Amount, cur.Scale()) + " " + currencyNames[c.Currency]
			}
		}
	}
	return p
}

// render writes a page with headers that keep it self-contained: nothing
// may load from elsewhere, forms post only here (and the redirect to the
// return URL), and no one may frame it.
func (a *Acquirer) render(w http.ResponseWriter, status int, name string, p pageData) {
	t, err := pages.Clone()
	if err == nil {
		_, err = t.New("body").Parse(`{{template "` + name + `" .}}`)
	}
	var buf bytes.Buffer
	if err == nil {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		a.fail(w, "sandbox: render", err, "page", name)
		return
	}
	// The return URL's origin, rebuilt from its checked parts (never the
	// stored string), so that a host such as "a.example;script-src'*'"
	// cannot add a directive: a URL that does not pass is left out.
	formAction := "'self'"
	if o := provider.ReturnOrigin(p.Charge.ReturnURL); o != "" {
		formAction += " " + o
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (a *Acquirer) index(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "index", a.newPage(r, charge{}))
}

// returnURL is the charge's return URL with payment_id added, or "" when
// the URL does not pass provider.ParseReturnURL (then the payer stays on
// the result page: the CSP would not let the form go there anyway).
func returnURL(c charge) string {
	r, reason := provider.ParseReturnURL(c.ReturnURL)
	if reason != "" {
		return ""
	}
	u := *r.URL
	q := u.Query()
	q.Set("payment_id", c.PaymentID)
	u.RawQuery = q.Encode()
	return u.String()
}

// chargeFor loads the charge of the path, answering 404 itself.
func (a *Acquirer) chargeFor(w http.ResponseWriter, r *http.Request) (charge, bool) {
	c, err := a.loadCharge(r.Context(), a.db, r.PathValue("charge"))
	if errors.Is(err, provider.ErrUnknownCharge) {
		http.Error(w, "no such checkout", http.StatusNotFound)
		return c, false
	}
	if err != nil {
		a.fail(w, "sandbox: load charge", err)
		return c, false
	}
	return c, true
}

// postedCharge reads a posted form of at most limit bytes and loads the
// charge of the path, answering any failure itself.
func (a *Acquirer) postedCharge(w http.ResponseWriter, r *http.Request, limit int64) (charge, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return charge{}, false
	}
	return a.chargeFor(w, r)
}

// fail logs err under msg (with attrs) and answers 500 without details:
// the payer can do nothing about it, and the log has what an operator
// needs.
func (a *Acquirer) fail(w http.ResponseWriter, msg string, err error, attrs ...any) {
	a.log.Error(msg, append(attrs, "err", err)...)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// settled renders the page of a charge that is no longer open.
func (a *Acquirer) settled(w http.ResponseWriter, r *http.Request, c charge) {
	p := a.newPage(r, c)
	p.ReturnURL = returnURL(c)
	switch provider.ChargeStatus(c.Status) {
	case provider.StatusSucceeded:
		p.Good, p.Message = true, p.T.Paid
	case provider.StatusPending:
		if c.Reason == string(ThreeDS) {
			http.Redirect(w, r, r.URL.Path+"/3ds?lang="+p.Lang, http.StatusSeeOther)
			return
		}
		p.Message = p.T.Processing
	case provider.StatusFailed:
		p.Message = p.T.FailedMsg
		switch c.Reason {
		case "card_declined":
			p.Message = p.T.Declined
		case "insufficient_funds":
			p.Message = p.T.NoFunds
		case "authentication_failed":
			p.Message = p.T.AuthFailed
		}
	default:
		p.Message = p.T.NotPayable
	}
	a.render(w, http.StatusOK, "result", p)
}

func (a *Acquirer) checkoutPage(w http.ResponseWriter, r *http.Request) {
	c, ok := a.chargeFor(w, r)
	if !ok {
		return
	}
	if c.Status != string(provider.StatusOpen) {
		a.settled(w, r, c)
		return
	}
	if !a.cfg.Now().Before(c.ExpireAt) {
		p := a.newPage(r, c)
		p.Message, p.ReturnURL = p.T.ExpiredMsg, returnURL(c)
		a.render(w, http.StatusOK, "result", p)
		return
	}
	a.render(w, http.StatusOK, "checkout", a.newPage(r, c))
}

// validateCard checks the form and returns the card's outcome.
func (a *Acquirer) validateCard(t texts, f formValues, cvc string) (Outcome, []fieldError) {
	var errs []fieldError
	num := strings.NewReplacer(" ", "", "-", "").Replace(f.CardNumber)
	out, known := cardOutcome(num)
	switch {
	case len(num) < 12 || len(num) > 19 || !digits(num) || !luhn(num):
		errs = append(errs, fieldError{"card_number", t.ErrCardNumber})
	case !known:
		errs = append(errs, fieldError{"card_number", t.ErrUnknownCard})
	}
	if !a.validExpiry(f.Expiry) {
		errs = append(errs, fieldError{"expiry", t.ErrExpiry})
	}
	if len(cvc) < 3 || len(cvc) > 4 || !digits(cvc) {
		errs = append(errs, fieldError{"cvc", t.ErrCVC})
	}
	return out, errs
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// luhn reports whether the digit string passes the Luhn check.
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// validExpiry accepts MM/YY (or MM/YYYY) not before this month.
func (a *Acquirer) validExpiry(s string) bool {
	mm, yy, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "/")
	if !ok || !digits(mm) || !digits(yy) || len(mm) > 2 || (len(yy) != 2 && len(yy) != 4) {
		return false
	}
	m, _ := strconv.Atoi(mm)
	y, _ := strconv.Atoi(yy)
	if len(yy) == 2 {
		y += 2000
	}
	if m < 1 || m > 12 {
		return false
	}
	now := a.cfg.Now().UTC()
	return y > now.Year() || (y == now.Year() && m >= int(now.Month()))
}

func (a *Acquirer) pay(w http.ResponseWriter, r *http.Request) {
	c, ok := a.postedCharge(w, r, 16<<10)
	if !ok {
		return
	}
	if c.Status != string(provider.StatusOpen) || !a.cfg.Now().Before(c.ExpireAt) {
		a.settled(w, r, c)
		return
	}
	p := a.newPage(r, c)
	p.Form = formValues{CardNumber: r.PostFormValue("card_number"), Expiry: r.PostFormValue("expiry"), Cardholder: r.PostFormValue("cardholder")}
	outcome, errs := a.validateCard(p.T, p.Form, r.PostFormValue("cvc"))
	if len(errs) > 0 {
		p.Errors = errs
		a.render(w, http.StatusUnprocessableEntity, "checkout", p)
		return
	}
	num := strings.NewReplacer(" ", "", "-", "").Replace(p.Form.CardNumber)
	var status provider.ChargeStatus
	var event provider.EventType
	reason := ""
	switch outcome {
	case Succeed:
		status, event = provider.StatusSucceeded, provider.ChargeSucceeded
	case Decline:
		status, event, reason = provider.StatusFailed, provider.ChargeFailed, "card_declined"
	case InsufficientFund:
		status, event, reason = provider.StatusFailed, provider.ChargeFailed, "insufficient_funds"
	case ThreeDS:
		status, event, reason = provider.StatusPending, provider.ChargePending, string(ThreeDS)
	case Timeout:
		status, event, reason = provider.StatusPending, provider.ChargePending, string(Timeout)
	}
	c, err := a.settle(r.Context(), c.ID, provider.StatusOpen, status, event, reason, num[len(num)-4:])
	if err != nil {
		a.fail(w, "sandbox: pay", err)
		return
	}
	a.afterChange(w, r, c)
}

// afterChange sends the webhook at once, so that the enabler knows before
// the payer is back, then sends the payer on.
func (a *Acquirer) afterChange(w http.ResponseWriter, r *http.Request, c charge) {
	if _, err := a.DeliverFor(r.Context(), c.ID); err != nil {
		a.log.Warn("sandbox: deliver webhook; Run retries", "charge", c.ID, "err", err)
	}
	if back := returnURL(c); c.Status == string(provider.StatusSucceeded) && back != "" {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	if awaitsThreeDS(c) {
		http.Redirect(w, r, "/sandbox/checkout/"+c.ID+"/3ds?lang="+lang(r), http.StatusSeeOther)
		return
	}
	a.settled(w, r, c)
}

// settle moves the charge from one status to another and records the
// webhook that announces it, in one transaction.
func (a *Acquirer) settle(ctx context.Context, id string, from, to provider.ChargeStatus, event provider.EventType, reason, last4 string) (charge, error) {
	var c charge
	err := a.db.InTx(ctx, func(tx *sql.Tx) error {
		var paidAt any
		if to == provider.StatusSucceeded {
			paidAt = a.now()
		}
		moved, err := moveCharge(ctx, tx, id, from, to, reason, last4, paidAt)
		if err != nil {
			return err
		}
		c, err = a.loadCharge(ctx, tx, id)
		if err != nil {
			return err
		}
		if !moved {
			return nil // someone else moved it; show where it is
		}
		_, err = a.enqueueWebhook(ctx, tx, c, event, publicReason(reason))
		return err
	})
	return c, err
}

// publicReason is what a webhook says about a reason; the 3-D Secure and
// timeout markers are the sandbox's own bookkeeping.
func publicReason(r string) string {
	switch r {
	case string(ThreeDS):
		return "authentication_required"
	case string(Timeout):
		return "processing"
	}
	return r
}

// awaitsThreeDS reports whether c waits for its 3-D Secure code; any
// other charge gets the page of where it stands instead.
func awaitsThreeDS(c charge) bool {
	return c.Status == string(provider.StatusPending) && c.Reason == string(ThreeDS)
}

func (a *Acquirer) threeDSPage(w http.ResponseWriter, r *http.Request) {
	c, ok := a.chargeFor(w, r)
	if !ok {
		return
	}
	if !awaitsThreeDS(c) {
		a.settled(w, r, c)
		return
	}
	a.render(w, http.StatusOK, "threeds", a.newPage(r, c))
}

func (a *Acquirer) threeDS(w http.ResponseWriter, r *http.Request) {
	c, ok := a.postedCharge(w, r, 4<<10)
	if !ok {
		return
	}
	if !awaitsThreeDS(c) {
		a.settled(w, r, c)
		return
	}
	to, event, reason := provider.StatusSucceeded, provider.ChargeSucceeded, ""
	if strings.TrimSpace(r.PostFormValue("code")) != ThreeDSCode {
		to, event, reason = provider.StatusFailed, provider.ChargeFailed, "authentication_failed"
	}
	c, err := a.settle(r.Context(), c.ID, provider.StatusPending, to, event, reason, "")
	if err != nil {
		a.fail(w, "sandbox: 3-D Secure", err)
		return
	}
	a.afterChange(w, r, c)
}

func (a *Acquirer) settlementCSV(w http.ResponseWriter, r *http.Request) {
	day, err := time.Parse(time.DateOnly, strings.TrimSuffix(r.PathValue("date"), ".csv"))
	if err != nil {
		http.Error(w, "date must be YYYY-MM-DD", http.StatusBadRequest)
		return
	}
	lines, err := a.SettlementReport(r.Context(), day)
	if err != nil {
		a.fail(w, "sandbox: settlement report", err)
		return
	}
	var buf bytes.Buffer
	if err := provider.WriteSettlementCSV(&buf, lines); err != nil {
		a.fail(w, "sandbox: settlement report", err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="settlement-%s.csv"`, day.Format(time.DateOnly)))
	_, _ = w.Write(buf.Bytes())
}
