package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/services/payment/stamppdf/stamppdftest"
)

// TestCitizenStampPrintEndToEnd (issue 18.2, "a ministry or a citizen
// buys a stamp", "printable as a QR code on a PDF"): through the gateway
// of `tamkeen dev`, the demo ministry registers a fee type; citizen A buys
// a stamp of it naming only the fee type (a body naming the department is
// refused), pays on the sandbox checkout, and the signature enabler seals
// it; the printed PDF parses with poppler and shows the serial and the fee
// type's Arabic name; its QR code, decoded by gozxing from the image
// pdfimages extracts, is the sealed stamp, which openssl verifies against
// GET /v1/signing/ca. The matrix on print and list: citizen A and the
// issuing ministry get the PDF, citizen B and another ministry's client
// 404, no token 401; only A's list has the stamp.
func TestCitizenStampPrintEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole dev stack")
	}
	// The clock starts in the past: openssl checks the seal certificate
	// against the real time, and signing in moves the clock forward.
	clock := clocktest.New(time.Now().UTC().Add(-10 * time.Minute))
	const secret = "stamp-print-e2e-client-secret-1"
	dir := t.TempDir()
	base, _ := startDevIn(t, dir, clock, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	ministry := clientToken(t, base, secret) // demo-ministry, ministry "demo", every scope
	call := func(method, path, token string, body any) apiCall {
		return apiCall{t: t, base: base, method: method, path: path, token: token, body: body}
	}
	mof := createMatrixClient(t, dir, "mof-app", "mof", []string{scope.PaymentsRead, scope.PaymentsWrite})
	other := mof.token(t, base, []string{scope.PaymentsRead})
	citizenA := citizenAtLoa2(t, base, clock, secret, "40777111", "+970599777111", "olive-oil-press-77")
	citizenB := citizenAtLoa2(t, base, clock, secret, "40777222", "+970599777222", "olive-oil-press-78")
	clock.Advance(3 * time.Second) // the gateway reloads mof-app's access rights

	if resp, raw := call("PUT", "/v1/stamp-fee-types/court-filing", ministry, map[string]any{"department": "dept:courts",
		"value": "500", "currency": "ILS", "name_ar": "رسم قيد دعوى", "name_en": "Court filing fee"}).do(nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("register the fee type = %d %s", resp.StatusCode, raw)
	}
	if resp, raw := call("POST", "/v1/stamps", citizenA, map[string]any{"fee_type": "court-filing", "department": "dept:other",
		"return_url": "https://portal.example.ps/done"}).do(nil); resp.StatusCode != http.StatusBadRequest || !bytes.Contains(raw, []byte(`"department"`)) {
		t.Errorf("a citizen naming the department = %d %s; want 400 naming department", resp.StatusCode, raw)
	}
	var order struct {
		Payment struct {
			NextURL string `json:"next_url"`
		} `json:"payment"`
		Stamps []struct {
			Serial, Buyer, Department string
		} `json:"stamps"`
	}
	if resp, raw := call("POST", "/v1/stamps", citizenA, map[string]any{"fee_type": "court-filing",
		"return_url": "https://portal.example.ps/done"}).do(&order); resp.StatusCode >= 300 || len(order.Stamps) != 1 {
		t.Fatalf("citizen's order = %d %s; want one stamp", resp.StatusCode, raw)
	}
	st := order.Stamps[0]
	if !strings.HasPrefix(st.Buyer, "cit_") || st.Department != "dept:courts" {
		t.Fatalf("citizen's stamp = %+v; want bought by the citizen (cit_…), of dept:courts", st)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noRedirect.PostForm(order.Payment.NextURL, url.Values{"card_number": {"4242424242424242"}, "expiry": {"12/30"}, "cvc": {"123"}}); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("checkout: %v %v", resp, err)
	}

	print := func(token string) (int, []byte) {
		req, _ := http.NewRequest("GET", base+"/v1/stamps/"+st.Serial+":print", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") != "application/pdf" {
			t.Errorf("print answered Content-Type %q; want application/pdf", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, b
	}
	var pdf []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, b := print(citizenA)
		if code == http.StatusOK {
			pdf = b
			break
		}
		if code != http.StatusConflict || time.Now().After(deadline) {
			t.Fatalf("citizen A's print = %d %s; want the PDF once sealed (409 before)", code, b)
		}
	}
	path := stamppdftest.Save(t, pdf)
	text := stamppdftest.Text(t, path)
	for _, want := range []string{st.Serial, "رسم قيد دعوى", "Court filing fee", "5.00 ILS", st.Buyer} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext of the printed stamp lacks %q:\n%s", want, text)
		}
	}
	var verified struct {
		SignedStamp string `json:"signed_stamp"`
	}
	call("GET", "/v1/stamps/"+st.Serial, "", nil).do(&verified)
	jws := stamppdftest.QR(t, path)
	if jws != verified.SignedStamp {
		t.Fatalf("the QR code holds %.60q…; want the stamp's signed_stamp %.60q…", jws, verified.SignedStamp)
	}
	claims := verifySealedStamp(t, base, jws)
	if claims["serial"] != st.Serial || claims["buyer"] != st.Buyer || claims["department"] != "dept:courts" {
		t.Errorf("the QR code's seal says %v; want the stamp's serial, the citizen and dept:courts", claims)
	}

	for _, cell := range []struct {
		who    string
		token  string
		status int
		lists  bool
	}{
		{"citizen A (buyer)", citizenA, http.StatusOK, true},
		{"citizen B", citizenB, http.StatusNotFound, false},
		{"issuing ministry", ministry, http.StatusOK, false},
		{"another ministry", other, http.StatusNotFound, false},
		{"no token", "", http.StatusUnauthorized, false},
	} {
		t.Run(cell.who, func(t *testing.T) {
			if code, b := print(cell.token); code != cell.status || (code == http.StatusOK && !bytes.HasPrefix(b, []byte("%PDF-"))) {
				t.Errorf("print = %d %.80q; want %d", code, b, cell.status)
			}
			resp, raw := call("GET", "/v1/stamps", cell.token, nil).do(nil)
			if cell.token == "" {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("GET /v1/stamps without a token = %d; want 401", resp.StatusCode)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(st.Serial)) != cell.lists {
				t.Errorf("GET /v1/stamps = %d %s; want 200, listing %s: %v", resp.StatusCode, raw, st.Serial, cell.lists)
			}
		})
	}
}
