// Package stamppdf prints an electronic revenue stamp: a one-page A5 PDF
// in Arabic and English with the stamp's particulars and a QR code that
// holds the sealed stamp (the compact JWS), so that a clerk's app verifies
// the paper offline against the platform's root certificate.
//
// The font is DejaVu Sans (from github.com/go-fonts/dejavu, compiled in),
// which has the Arabic letters' presentation forms; the PDF embeds the
// subset it uses. Arabic is shaped and ordered here (arabic.go), because
// PDF draws glyphs as given.
package stamppdf

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-fonts/dejavu/dejavusans"
	"github.com/go-fonts/dejavu/dejavusansbold"
	qrcode "github.com/skip2/go-qrcode"
)

// Stamp is what the printed stamp shows.
type Stamp struct {
	Serial string
	// Amount is the value as a decimal in the currency's major unit
	// ("5.00"), Currency its ISO 4217 code.
	Amount   string
	Currency string
	// FeeType is the fee type's id; FeeNameEN and FeeNameAR its names
	// where the issuing ministry registered them.
	FeeType   string
	FeeNameEN string
	FeeNameAR string
	// Department is the issuing department's account ("dept:courts").
	Department string
	// Buyer is the client or citizen who bought the stamp.
	Buyer string
	// Issuer is the platform's organisation, whose seal the QR carries.
	Issuer   string
	IssuedAt time.Time
	ExpireAt time.Time
	// Sealed is the compact JWS the QR code holds.
	Sealed string
}

// ErrNotSealed: the stamp has no seal yet, so there is nothing to put in
// its QR code.
var ErrNotSealed = errors.New("the stamp is not sealed yet")

// page geometry, in millimetres (A5 portrait).
const (
	pageW, pageH = 148.0, 210.0
	margin       = 10.0
	qrSize       = 88.0
)

// Render returns the stamp's one-page PDF. The same stamp renders to the
// same bytes (the document dates are the stamp's issue time).
func Render(st Stamp) ([]byte, error) {
	if st.Sealed == "" {
		return nil, ErrNotSealed
	}
	qr, err := qrcode.New(st.Sealed, qrcode.Low)
	if err != nil {
		return nil, fmt.Errorf("stamp %s: QR code: %w", st.Serial, err)
	}
	png, err := qr.PNG(-4) // 4 pixels a module, with the quiet zone
	if err != nil {
		return nil, fmt.Errorf("stamp %s: QR code: %w", st.Serial, err)
	}

	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", Size: fpdf.SizeType{Wd: pageW, Ht: pageH}})
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(st.IssuedAt)
	pdf.SetModificationDate(st.IssuedAt)
	pdf.SetTitle("Revenue stamp "+st.Serial, true)
	pdf.SetCreator("Tamkeen", true)
	pdf.SetProducer("Tamkeen", true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddUTF8FontFromBytes("dejavu", "", dejavusans.TTF)
	pdf.AddUTF8FontFromBytes("dejavu", "B", dejavusansbold.TTF)
	pdf.AddPage()

	right := pageW - margin
	// en draws English from the left margin; ar draws Arabic (or mixed)
	// text ending at the right margin.
	en := func(y float64, style string, size float64, s string) {
		pdf.SetFont("dejavu", style, size)
		pdf.Text(margin, y, s)
	}
	ar := func(y float64, style string, size float64, s string) {
		pdf.SetFont("dejavu", style, size)
		v := visual(s)
		pdf.Text(right-pdf.GetStringWidth(v), y, v)
	}

	pdf.SetDrawColor(20, 90, 60)
	pdf.SetLineWidth(0.8)
	pdf.Rect(margin/2, margin/2, pageW-margin, pageH-margin, "D")

	y := margin + 6
	en(y, "B", 13, "Electronic revenue stamp")
	ar(y, "B", 13, "طابع إيرادات إلكتروني")
	y += 6
	if st.Issuer != "" {
		pdf.SetFont("dejavu", "", 8)
		pdf.Text((pageW-pdf.GetStringWidth(st.Issuer))/2, y, st.Issuer)
	}
	y += 3
	pdf.SetLineWidth(0.3)
	pdf.Line(margin, y, right, y)
	y += 6

	feeEN := st.FeeType
	if st.FeeNameEN != "" {
		feeEN = st.FeeNameEN + " (" + st.FeeType + ")"
	}
	feeAR := st.FeeNameAR
	if feeAR == "" {
		feeAR = st.FeeType
	}
	rows := []struct{ en, ar, value string }{
		{"Serial", "الرقم التسلسلي", st.Serial},
		{"Value", "القيمة", st.Amount + " " + st.Currency},
		{"Fee type", "نوع الرسم", feeEN},
		{"", "", ""}, // the fee type's Arabic name, on its own line
		{"Department", "الجهة المصدرة", st.Department},
		{"Buyer", "المشتري", st.Buyer},
		{"Valid from", "صالح من", st.IssuedAt.UTC().Format("2006-01-02 15:04 UTC")},
		{"Valid until", "صالح حتى", st.ExpireAt.UTC().Format("2006-01-02 15:04 UTC")},
	}
	for i, r := range rows {
		if i == 3 {
			ar(y, "", 11, feeAR)
			y += 7
			continue
		}
		en(y, "", 8, r.en)
		ar(y, "", 8, r.ar)
		pdf.SetFont("dejavu", "B", 10)
		pdf.Text((pageW-pdf.GetStringWidth(r.value))/2, y, r.value)
		y += 7
	}

	y += 1
	opt := fpdf.ImageOptions{ImageType: "PNG"}
	pdf.RegisterImageOptionsReader("qr", opt, bytes.NewReader(png))
	pdf.ImageOptions("qr", (pageW-qrSize)/2, y, qrSize, qrSize, false, opt, 0, "")
	y += qrSize + 5

	pdf.SetFont("dejavu", "", 7)
	note := "Scan to verify offline: the code holds the stamp sealed by the platform (compact JWS)."
	pdf.Text((pageW-pdf.GetStringWidth(note))/2, y, note)
	y += 4
	note2 := "Online: GET /v1/stamps/" + st.Serial
	pdf.Text((pageW-pdf.GetStringWidth(note2))/2, y, note2)
	y += 5
	ar(y, "", 8, "امسح الرمز للتحقق من الطابع دون اتصال؛ يستخدم الطابع مرة واحدة فقط.")

	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("stamp %s: pdf: %w", st.Serial, err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("stamp %s: pdf: %w", st.Serial, err)
	}
	return buf.Bytes(), nil
}
