package textcheck

import (
	"strings"
	"unicode"
	"unicode/utf8"
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
	switch {
	case s == "":
		return "is empty"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(s) > maxOrganizationRunes:
		return "is longer than 64 characters"
	case s != strings.TrimSpace(s) || strings.Contains(s, "  "):
		return "must not start or end with a space or hold two in a row"
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
			return "must not contain bidi controls or zero-width characters"
		case unicode.IsControl(r):
			return "must not contain control characters"
		case unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) && r != ' ':
			return "must not contain format characters or spaces other than U+0020"
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
				return "mixes Latin with Cyrillic or Greek letters in one word (a look-alike)"
			}
			word |= other
		default:
			word |= other
		}
		if word&other != 0 {
			return "may contain only Arabic or Latin letters, digits, spaces and . , - & ' ’ ( ) / : ، ؛"
		}
		if word&latin != 0 && word&arabic != 0 {
			return "mixes scripts in one word"
		}
	}
	if letters == 0 {
		return "must contain a letter"
	}
	return ""
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
