// Package phone reads the mobile numbers people give Tamkeen and returns
// them in E.164, with one rule for every enabler.
//
// A number is written the international way (+970 59…, 00970 59…, +972
// 5…, or any other country's number for citizens abroad) or the local way
// that every Palestinian and Israeli writes a mobile: ten digits starting
// 05. Locally, 059… (Jawwal) and 056… (Ooredoo) are Palestinian and read
// as +970; every other 05x is Israeli and read as +972. Spaces, hyphens,
// dots, parentheses and no-break spaces are ignored and Arabic-Indic
// digits accepted.
//
// The two home countries take mobiles only: +970 followed by 56 or 59 and
// 7 digits, or +972 followed by 5 and 8 digits (the +972 prefix also
// reaches Palestinian mobiles). A landline, a short code or a number of
// the wrong length is refused, as the enablers refused it before this
// package. Other countries' numbers are taken when they have E.164's
// shape (a country code not starting with 0, 8 to 15 digits in all):
// their numbering plans change faster than a library's metadata, and an
// SMS that cannot be delivered is reported by the operator.
//
// github.com/nyaruka/phonenumbers (Google's libphonenumber data) turns a
// local number into its international form, with the national prefix of
// the country it belongs to, and splits the country calling code off an
// international one.
package phone

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/tamkeen/tamkeen/libs/i18n"
)

// Home country calling codes: Palestine and Israel.
const (
	Palestine = "970"
	Israel    = "972"
)

// Reasons of a refusal, as they read after the field's name. Enablers
// show them in their field violations.
const (
	ReasonInternational = "must be in international format, e.g. +970599123456"
	ReasonDigits        = "must contain only digits after the +"
	ReasonE164          = "is not a valid E.164 number (country code, then 8 to 15 digits in all)"
	ReasonPalestinian   = "is not a Palestinian mobile number (+970 56… or +970 59…, 9 digits after +970)"
	ReasonIsraeli       = "is not a mobile number (+972 5…, 9 digits after +972)"
	ReasonLocal         = "is not a mobile number: a local number is a mobile of 10 digits starting 05 (e.g. 0599123456); give any other in international format, e.g. +970599123456"
)

// Error is why a number was refused.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// NotMobile is true when the number has a valid shape but is not a
	// home country's mobile (a landline, a short code, a wrong length);
	// false when it is not a phone number at all.
	NotMobile bool
}

// Code is the last part of the refusal's machine code
// ("<field>.<Code>", see rpcerr.FieldCode): "not_mobile" for a number
// of the right shape that is not a home mobile, "international_format",
// "digits" or "e164" for one that is not a phone number as written.
func (e *Error) Code() string {
	switch {
	case e.NotMobile:
		return "not_mobile"
	case e.Reason == ReasonInternational:
		return "international_format"
	case e.Reason == ReasonDigits:
		return "digits"
	}
	return "e164"
}

// Error reads "phone number " and the reason.
func (e *Error) Error() string { return "phone number " + e.Reason }

// Normalize checks a mobile number written either way and returns it in
// E.164 ("0599 123 456" → "+970599123456"). Its error is an *Error.
func Normalize(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if d, ok := i18n.ASCIIDigit(r); ok {
			return d
		}
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return local(s)
	}
	digits := s[1:]
	if digits != "" && !allDigits(digits) {
		return "", &Error{Reason: ReasonDigits}
	}
	if len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", &Error{Reason: ReasonE164}
	}
	e164 := "+" + digits
	if err := homeMobile(e164); err != nil {
		return "", err
	}
	return e164, nil
}

// local reads a number written without a country code: only a home
// mobile (05…) may be.
func local(s string) (string, error) {
	if !allDigits(s) || !strings.HasPrefix(s, "0") {
		return "", &Error{Reason: ReasonInternational}
	}
	if !strings.HasPrefix(s, "05") || len(s) < 3 {
		return "", &Error{Reason: ReasonLocal, NotMobile: true}
	}
	region, cc, reason := "IL", Israel, ReasonIsraeli
	if s[2] == '9' || s[2] == '6' {
		region, cc, reason = "PS", Palestine, ReasonPalestinian
	}
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		return "", &Error{Reason: reason, NotMobile: true}
	}
	e164 := phonenumbers.Format(n, phonenumbers.E164)
	if CallingCode(e164) != cc {
		return "", &Error{Reason: reason, NotMobile: true}
	}
	if err := homeMobile(e164); err != nil {
		return "", err
	}
	return e164, nil
}

// homeMobile refuses an E.164 number of a home country that is not one of
// its mobiles; every other number passes.
func homeMobile(e164 string) error {
	cc := CallingCode(e164)
	rest := e164[1+len(cc):]
	switch cc {
	case Palestine:
		if len(rest) != 9 || !(strings.HasPrefix(rest, "56") || strings.HasPrefix(rest, "59")) {
			return &Error{Reason: ReasonPalestinian, NotMobile: true}
		}
	case Israel:
		if len(rest) != 9 || rest[0] != '5' {
			return &Error{Reason: ReasonIsraeli, NotMobile: true}
		}
	}
	return nil
}

// IsE164 reports whether s is already a phone number in E.164 form: "+",
// a country code not starting with 0, and 8 to 15 digits in all, with
// nothing else. It says nothing of mobiles; Normalize does.
func IsE164(s string) bool {
	return len(s) >= 9 && len(s) <= 16 && s[0] == '+' && s[1] != '0' && allDigits(s[1:])
}

// CallingCode returns the country calling code of an E.164 number
// ("+970599…" → "970", "+1202…" → "1"), or "" when s is not E.164. The
// codes are prefix-free (ITU-T E.164), so the shortest prefix that is an
// assigned code is the code; a number under no assigned code gives its
// first three digits.
func CallingCode(s string) string {
	if !IsE164(s) {
		return ""
	}
	d := s[1:]
	for i := 1; i <= 3; i++ {
		cc, _ := strconv.Atoi(d[:i])
		if phonenumbers.GetRegionCodeForCountryCode(cc) != phonenumbers.UNKNOWN_REGION {
			return d[:i]
		}
	}
	return d[:3]
}

// ValidCallingCode reports whether s can be a country calling code: 1 to 3
// ASCII digits, the first not 0 ("970", "1"). It checks the form, not
// that the code is assigned.
func ValidCallingCode(s string) bool {
	return len(s) >= 1 && len(s) <= 3 && s[0] != '0' && allDigits(s)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
