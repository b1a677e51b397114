package auth

import (
	"errors"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/tamkeen/tamkeen/libs/i18n"
	"github.com/tamkeen/tamkeen/libs/phone"
	"github.com/tamkeen/tamkeen/libs/rpcerr"
	"github.com/tamkeen/tamkeen/libs/textcheck"
)

// NormalizeNationalID checks a Palestinian national ID number and returns
// it as 9 ASCII digits.
//
// The number has 9 digits, the last being a check digit computed like
// Luhn's: going left to right, digits in odd positions (1st, 3rd, …) count
// once and digits in even positions count twice, with the two digits of a
// doubled value added together (equivalently, 9 subtracted when it exceeds
// 9); the number is valid when the total is a multiple of 10. For
// 123456782: 1+4+3+8+5+(1+2)+7+(1+6)+2 = 40, valid; 123456789 totals 47,
// invalid. Arabic-Indic digits are accepted; surrounding spaces are
// ignored; the all-zero number is refused although its total is 0.
func NormalizeNationalID(s string) (string, *rpcerr.FieldError) {
	s = i18n.ASCIIDigits(strings.TrimSpace(s))
	if len(s) != 9 {
		return "", &rpcerr.FieldError{Field: "national_id", Reason: "must be exactly 9 digits", Code: "national_id.length"}
	}
	for i := 0; i < 9; i++ {
		if c := s[i]; c < '0' || c > '9' {
			return "", &rpcerr.FieldError{Field: "national_id", Reason: "must be exactly 9 digits", Code: "national_id.digits"}
		}
	}
	sum := nationalIDSum(s)
	if sum%10 != 0 || s == "000000000" {
		return "", &rpcerr.FieldError{Field: "national_id", Reason: "check digit does not match: please re-check the number", Code: "national_id.check_digit"}
	}
	return s, nil
}

// nationalIDSum is the weighted total of the ASCII digits s (the check
// of NormalizeNationalID): odd positions once, even ones doubled with 9
// taken off a doubled value above 9.
func nationalIDSum(s string) int {
	sum := 0
	for i := 0; i < len(s); i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum
}

// CompleteNationalID appends to 8 ASCII digits the check digit that makes
// a valid national ID number (for test data and load generation).
func CompleteNationalID(first8 string) string {
	return first8 + string(rune('0'+(10-nationalIDSum(first8)%10)%10))
}

// NormalizePhone checks a mobile number and returns it in E.164, by the
// platform's one rule (libs/phone): a Palestinian or Israeli mobile
// written the local way (059…/056… → +970, other 05x → +972) or the
// international way, spaces, hyphens, dots and parentheses ignored,
// Arabic-Indic digits accepted and a leading 00 read as +. The home
// countries take mobiles only (+970 56/59 and 7 digits, +972 5 and 8
// digits); other country codes are accepted for citizens abroad if they
// are valid E.164 (a country code not starting with 0, 8 to 15 digits in
// all).
func NormalizePhone(s string) (string, *rpcerr.FieldError) {
	e164, err := phone.Normalize(s)
	if err != nil {
		fe := &rpcerr.FieldError{Field: "phone_number", Reason: "is not a valid phone number", Code: "phone_number.e164"}
		var pe *phone.Error
		if errors.As(err, &pe) {
			fe.Reason, fe.Code = pe.Reason, rpcerr.FieldCode("phone_number", pe.Code())
		}
		return "", fe
	}
	return e164, nil
}

// maxNameRunes bounds a given or family name.
const maxNameRunes = 100

// NormalizeName checks a given or family name and returns it in Unicode
// NFC with runs of spaces collapsed. A name is letters of the Arabic or
// Latin script (with their combining marks, e.g. harakat), spaces, hyphens
// and apostrophes (' and ’), starts with a letter and is at most 100
// characters. field names the request field in the error. Bidi controls,
// zero-width and control characters and invalid UTF-8 are refused first by
// the platform's display-text check, whose reason names the character.
func NormalizeName(field, s string) (string, *rpcerr.FieldError) {
	s = strings.TrimSpace(s)
	if fe := textcheck.Check(field, s, textcheck.OneLine); fe != nil {
		return "", fe
	}
	s = norm.NFC.String(strings.Join(strings.Fields(s), " "))
	if s == "" {
		return "", &rpcerr.FieldError{Field: field, Reason: "is required", Code: rpcerr.FieldCode(field, "required")}
	}
	if utf8.RuneCountInString(s) > maxNameRunes {
		return "", &rpcerr.FieldError{Field: field, Reason: "must be at most 100 characters", Code: rpcerr.FieldCode(field, "too_long"), Args: rpcerr.ArgList("100")}
	}
	for i, r := range s {
		letter := unicode.IsLetter(r) && (unicode.Is(unicode.Arabic, r) || unicode.Is(unicode.Latin, r))
		if i == 0 && !letter {
			return "", &rpcerr.FieldError{Field: field, Reason: "must start with a letter", Code: rpcerr.FieldCode(field, "letter_first")}
		}
		switch {
		case letter:
		case unicode.Is(unicode.Mn, r) || r == '\u0640': // combining marks (harakat), tatweel
		case r == ' ' || r == '-' || r == '\'' || r == '\u2019':
		default:
			return "", &rpcerr.FieldError{Field: field, Reason: "may contain only Arabic or Latin letters, spaces, hyphens and apostrophes", Code: rpcerr.FieldCode(field, "characters")}
		}
	}
	return s, nil
}

// NormalizeEmail checks an optional e-mail address: empty stays empty;
// otherwise a bare address (no display name) of at most 254 characters
// whose domain has a dot. The domain is lower-cased. net/mail takes
// bidi controls and zero-width characters in the local part, so the
// platform's address check runs first.
func NormalizeEmail(s string) (string, *rpcerr.FieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if fe := textcheck.Check("email", s, textcheck.Address); fe != nil {
		return "", fe
	}
	bad := &rpcerr.FieldError{Field: "email", Reason: "is not a valid e-mail address", Code: "email.invalid"}
	if len(s) > 254 {
		return "", bad
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", bad
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:]), nil
}

// NormalizeLanguage returns "ar" (the default, for "") or "en".
func NormalizeLanguage(s string) (string, *rpcerr.FieldError) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "ar":
		return "ar", nil
	case "en":
		return "en", nil
	}
	return "", &rpcerr.FieldError{Field: "preferred_language", Reason: `must be "ar" or "en"`, Code: "preferred_language.unsupported"}
}
