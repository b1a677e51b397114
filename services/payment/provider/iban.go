package provider

import (
	"strings"
)

// IBANs (ISO 13616): two letters of country, two check digits and the
// country's basic bank account number (BBAN) of a fixed length, upper-case
// letters and digits. The check: move the first four characters to the
// end, write each letter as two digits (A = 10 … Z = 35) and the number
// mod 97 is 1.

// ibanLengths are the IBAN lengths of the countries whose accounts the
// platform's banks debit or that citizens commonly hold (the SWIFT IBAN
// registry). A country not listed is refused: its length cannot be
// checked.
var ibanLengths = map[string]int{
	"PS": 29, "JO": 30, "IL": 23, "EG": 29, "SA": 24, "AE": 23, "QA": 29, "KW": 30, "BH": 22, "LB": 28,
	"IQ": 23, "OM": 23, "TN": 24, "TR": 26, "LY": 25, "SD": 18, "MR": 27, "DE": 22, "FR": 27, "GB": 22,
	"NL": 18, "ES": 24, "IT": 27, "CH": 21, "AT": 20, "BE": 16, "SE": 24, "NO": 15, "DK": 18, "FI": 18,
	"IE": 22, "PT": 25, "GR": 27, "PL": 28, "CY": 28, "MT": 31, "LU": 20, "RO": 24, "BG": 22, "CZ": 24,
}

// IBANError says why a string is no IBAN; Code is the last part of the
// field code ("check_digit", "length", "country", "format").
type IBANError struct {
	Code   string
	Reason string
}

func (e *IBANError) Error() string { return "iban: " + e.Reason }

// ParseIBAN checks s as an IBAN and returns it in electronic form (upper
// case, no spaces). Spaces (as in the printed form, groups of four) are
// allowed; nothing else is. The error never repeats s.
func ParseIBAN(s string) (string, error) {
	if len(s) > 64 {
		return "", &IBANError{"length", "is too long for an IBAN"}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return "", &IBANError{"format", "may hold only letters, digits and spaces"}
		}
		b.WriteByte(c)
	}
	iban := b.String()
	if len(iban) < 4 || !isLetter(iban[0]) || !isLetter(iban[1]) || !isDigit(iban[2]) || !isDigit(iban[3]) {
		return "", &IBANError{"format", "must start with a two-letter country code and two check digits"}
	}
	want, ok := ibanLengths[iban[:2]]
	if !ok {
		return "", &IBANError{"country", "is of a country whose IBANs are not accepted"}
	}
	if len(iban) != want {
		return "", &IBANError{"length", "has the wrong length for its country"}
	}
	if ibanMod97(iban) != 1 {
		return "", &IBANError{"check_digit", "check digits do not match: please re-check the account number"}
	}
	return iban, nil
}

// ibanMod97 is the ISO 7064 MOD 97-10 remainder of iban (upper-case
// letters and digits), computed digit by digit so that no big integer is
// needed.
func ibanMod97(iban string) int {
	r := 0
	for _, c := range []byte(iban[4:] + iban[:4]) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	return r
}

// IBANCheckDigits returns the two check digits of an IBAN of country and
// bban (upper-case letters and digits): what a test or a sandbox needs to
// build a valid IBAN.
func IBANCheckDigits(country, bban string) string {
	d := 98 - ibanMod97(country+"00"+bban)
	return string([]byte{byte('0' + d/10), byte('0' + d%10)})
}

// MaskIBAN shows an IBAN's country, check digits and last four
// characters, and stars for the rest: enough to recognise one's account,
// not to use it.
func MaskIBAN(iban string) string {
	if len(iban) <= 8 {
		return strings.Repeat("*", len(iban))
	}
	return iban[:4] + strings.Repeat("*", len(iban)-8) + iban[len(iban)-4:]
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
