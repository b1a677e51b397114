package notification

import "testing"

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		minor          int64
		currency, lang string
		want           string
	}{
		{100000, "JOD", LangArabic, "100.000 دينار أردني"},
		{15050, "ILS", LangArabic, "150.50 شيكل"},
		{5, "USD", LangEnglish, "0.05 USD"},
		{7, "JOD", LangEnglish, "0.007 JOD"},
		{0, "ILS", LangEnglish, "0.00 ILS"},
		{-250, "ILS", LangEnglish, "-2.50 ILS"},
		{123, "EUR", LangEnglish, "1.23 EUR"},
	} {
		if got := formatAmount(tc.minor, tc.currency, tc.lang); got != tc.want {
			t.Errorf("formatAmount(%d, %s, %s) = %q; want %q", tc.minor, tc.currency, tc.lang, got, tc.want)
		}
	}
}

func TestReceiptTemplatesRender(t *testing.T) {
	values := map[string]string{"amount": "150.50 شيكل", "reference": "LIC-2026-77", "description": "رسوم رخصة بناء"}
	for key, tmpl := range receiptTemplates() {
		r, err := renderTemplate(tmpl, values)
		if err != nil {
			t.Errorf("%v: %v", key, err)
			continue
		}
		if key[0] == ChannelSMS && r.Length.Segments > 3 {
			t.Errorf("%v: %d segments; want a short SMS", key, r.Length.Segments)
		}
		if key[0] == ChannelEmail && r.Subject == "" {
			t.Errorf("%v: no subject", key)
		}
	}
}
