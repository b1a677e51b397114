package textcheck

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// maxOrganizationRunes is X.509's upper bound for a common name
// (RFC 5280 ub-common-name).
const maxOrganizationRunes = 64

// OrganizationProblem says what makes s unfit as an organisation's name in
// a certificate subject (a seal), or "" when it is fit. The auth enabler
// checks it when the operator registers a client's organisation and the
// signature enabler again where it names it in a certificate, in case a
// token carries a name registered before the rule. Allowed: Arabic and
// Latin words,
// digits, single spaces and . , - & ' ’ ( ) / : ، ؛. Refused: bidi
// controls, zero-width and other format characters, control characters,
// other scripts (Cyrillic and Greek letters look like Latin ones), and a
// word mixing scripts.
func OrganizationProblem(s string) string {
	_, reason := organizationProblem(s)
	return reason
}

// CheckOrganization is OrganizationProblem as a field error of field, or
// nil: its code is "<field>.<what>" with one what per rule (required,
// invalid_utf8, too_long, spacing, invisible_character,
// control_character, format_character, look_alike, script, mixed_script,
// letter_required).
func CheckOrganization(field, s string) *rpcerr.FieldError {
	what, reason := organizationProblem(s)
	switch what {
	case "":
		return nil
	case "invalid_utf8":
		return &rpcerr.FieldError{Field: field, Reason: reason, Code: rpcerr.FieldCode(field, what), Args: rpcerr.ArgList(strconv.Itoa(InvalidByte(s)))}
	case "too_long":
		return &rpcerr.FieldError{Field: field, Reason: reason, Code: rpcerr.FieldCode(field, what), Args: rpcerr.ArgList(strconv.Itoa(maxOrganizationRunes))}
	}
	return &rpcerr.FieldError{Field: field, Reason: reason, Code: rpcerr.FieldCode(field, what)}
}

// organizationProblem is the rule s breaks (the last part of its code)
// and the reason, or two empty strings.
func organizationProblem(s string) (what, reason string) {
	switch {
	case s == "":
		return "required", "is empty"
	case !utf8.ValidString(s):
		return "invalid_utf8", "is not valid UTF-8"
	case utf8.RuneCountInString(s) > maxOrganizationRunes:
		return "too_long", "is longer than 64 characters"
	case s != strings.TrimSpace(s) || strings.Contains(s, "  "):
		return "spacing", "must not start or end with a space or hold two in a row"
	}
	const (
		latin = 1 << iota
		arabic
		other
	)
	word, letters := 0, 0
	for _, r := range s {
		switch {
		case isBidiControl(r) || isZeroWidth(r) || r == '\u200e' || r == '\u200f' || r == '\u061c':
			return "invisible_character", "must not contain bidi controls or zero-width characters"
		case unicode.IsControl(r):
			return "control_character", "must not contain control characters"
		case unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) && r != ' ':
			return "format_character", "must not contain format characters or spaces other than U+0020"
		case r == ' ' || strings.ContainsRune(".,-&'’()/:،؛", r):
			word = 0
			continue
		case r >= '0' && r <= '9' || r >= '\u0660' && r <= '\u0669' || r >= '\u06f0' && r <= '\u06f9':
			continue
		case r == '\u0640' || arabicMark(r):
			// Tatweel and harakat belong to Arabic words.
			word |= arabic
		case latinLetter(r):
			word |= latin
			letters++
		case arabicLetter(r):
			word |= arabic
			letters++
		case unicode.Is(unicode.Cyrillic, r) || unicode.Is(unicode.Greek, r):
			if word&latin != 0 {
				return "look_alike", "mixes Latin with Cyrillic or Greek letters in one word (a look-alike)"
			}
			word |= other
		default:
			word |= other
		}
		if word&other != 0 {
			return "script", "may contain only Arabic or Latin letters, digits, spaces and . , - & ' ’ ( ) / : ، ؛"
		}
		if word&latin != 0 && word&arabic != 0 {
			return "mixed_script", "mixes scripts in one word"
		}
	}
	if letters == 0 {
		return "letter_required", "must contain a letter"
	}
	return "", ""
}

// latinLetter: Basic Latin, Latin-1 Supplement and Latin Extended-A/B
// letters (not the fullwidth or mathematical look-alikes).
func latinLetter(r rune) bool {
	return r < 0x250 && unicode.IsLetter(r) && unicode.Is(unicode.Latin, r)
}

// arabicLetter: letters of the Arabic, Arabic Supplement and Arabic
// Extended-A blocks (not the presentation forms).
func arabicLetter(r rune) bool {
	in := r >= 0x600 && r <= 0x6ff || r >= 0x750 && r <= 0x77f || r >= 0x8a0 && r <= 0x8ff
	return in && unicode.IsLetter(r)
}

// arabicMark: harakat and the other combining marks of the Arabic block
// (their script is Inherited, so unicode.Arabic does not hold them).
func arabicMark(r rune) bool {
	in := r >= 0x610 && r <= 0x61a || r >= 0x64b && r <= 0x65f || r == 0x670 || r >= 0x6d6 && r <= 0x6ed
	return in && unicode.Is(unicode.Mn, r)
}
