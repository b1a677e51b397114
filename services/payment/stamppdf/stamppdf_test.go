package stamppdf

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/tamkeen/tamkeen/services/payment/stamppdf/stamppdftest"
)

// TestRender: the stamp parses with poppler, shows its serial, value and
// the fee type's Arabic and English names as text (shaped Arabic maps back
// to the letters under NFKC), has exactly one image, and that image is a
// QR code of the sealed stamp, byte for byte, even at the size of a real
// seal (two certificates in x5c).
func TestRender(t *testing.T) {
	sealed := "eyJhbGciOiJFUzI1NiJ9." + strings.Repeat("QUJDRA", 430) + ".c2lnbmF0dXJl" // ~2.6 kB, a real seal's size
	issued := time.Date(2026, 12, 6, 9, 31, 12, 0, time.UTC)
	st := Stamp{Serial: "PS-7K2QD-M9X4T-0B8ZN-W3RJF", Amount: "5.000", Currency: "JOD", FeeType: "court-filing",
		FeeNameEN: "Court filing fee", FeeNameAR: "رسم قيد دعوى", Department: "dept:courts", Buyer: "cit_7Q2", Issuer: "Tamkeen",
		IssuedAt: issued, ExpireAt: issued.AddDate(1, 0, 0), Sealed: sealed}
	pdf, err := Render(st)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Render(st)
	if err != nil || string(again) != string(pdf) {
		t.Errorf("a second rendering differs (%v); want the same bytes", err)
	}
	path := stamppdftest.Save(t, pdf)
	if info := strings.Join(strings.Fields(stamppdftest.Poppler(t, "pdfinfo", path)), " "); !strings.Contains(info, "Pages: 1 ") || !strings.Contains(info, "419.53 x 595.28 pts") {
		t.Errorf("pdfinfo:\n%s\nwant one A5 page (419.53 x 595.28 pts)", info)
	}
	text := stamppdftest.Text(t, path)
	for _, want := range []string{st.Serial, "5.000 JOD", "Court filing fee", "رسم قيد دعوى", "طابع إيرادات إلكتروني", "dept:courts", "cit_7Q2", "2027-12-06"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext lacks %q:\n%s", want, text)
		}
	}
	if fonts := stamppdftest.Poppler(t, "pdffonts", path); !strings.Contains(fonts, "yes") || !strings.Contains(fonts, "CID TrueType") {
		t.Errorf("pdffonts:\n%s\nwant the embedded TrueType font", fonts)
	}
	list := stamppdftest.Poppler(t, "pdfimages", "-list", path)
	if lines := strings.Split(strings.TrimSpace(list), "\n"); len(lines) != 3 || !strings.Contains(lines[2], "image") {
		t.Errorf("pdfimages -list:\n%s\nwant exactly one image", list)
	}
	if got := stamppdftest.QR(t, path); got != sealed {
		t.Errorf("the QR code holds %d bytes %.40q…; want the sealed stamp (%d bytes)", len(got), got, len(sealed))
	}
}

// TestRenderNeedsASeal: a stamp not sealed yet cannot be printed.
func TestRenderNeedsASeal(t *testing.T) {
	if _, err := Render(Stamp{Serial: "PS-7K2QD-M9X4T-0B8ZN-W3RJF"}); !errors.Is(err, ErrNotSealed) {
		t.Errorf("Render without a seal = %v; want ErrNotSealed", err)
	}
}

// TestVisual: Arabic is shaped (initial, medial, final and isolated forms,
// lam-alef ligature) and laid out right to left, digits and Latin keeping
// their own order.
func TestVisual(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// "بيت": beh initial, yeh medial, teh final, drawn reversed.
		{"بيت", "\uFE96\uFEF4\uFE91"},
		// "لا": the isolated lam-alef ligature.
		{"لا", "\uFEFB"},
		// "سلام": seen initial, lam-alef final, meem isolated.
		{"سلام", "\uFEE1\uFEFC\uFEB3"},
		// "دار": dal joins no letter after it, so alef stands isolated,
		// and so does reh after alef.
		{"دار", "\uFEAD\uFE8D\uFEA9"},
		// Digits keep their order inside the right-to-left line.
		{"رقم 2026", "2026 \uFEE2\uFED7\uFEAD"},
		{"abc", "abc"},
	} {
		if got := visual(tc.in); got != tc.want {
			t.Errorf("visual(%q) = %q (% x); want %q", tc.in, got, []rune(got), tc.want)
		}
	}
	// Whatever the layout, NFKC of the reversed glyphs gives the letters back.
	for _, s := range []string{"طابع إيرادات إلكتروني", "رسم قيد دعوى", "الجهة المصدرة"} {
		v := []rune(visual(s))
		for i, j := 0, len(v)-1; i < j; i, j = i+1, j-1 {
			v[i], v[j] = v[j], v[i]
		}
		if got := norm.NFKC.String(string(v)); got != s {
			t.Errorf("NFKC of visual(%q) reversed = %q; want it back", s, got)
		}
	}
}
