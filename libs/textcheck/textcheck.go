// Package textcheck refuses the characters that make text shown to people
// say something other than what is stored: bidirectional embeddings,
// overrides and isolates (the "Trojan Source" reordering, CVE-2021-42574),
// zero-width and other invisible format characters, NUL and the other C0
// and C1 controls, and invalid UTF-8.
//
// Every enabler checks its display text (content titles and bodies,
// notification templates, payment descriptions, citizen names) and its
// addresses (e-mail addresses, references, CSV cells) with Check, so that
// there is one definition of what is refused and one wording of why. The
// check refuses; it never strips or rewrites, so that what a caller sent
// is either stored as it is or not at all.
//
// What is refused, and why:
//
//   - Invalid UTF-8, in every kind.
//   - C0 controls (U+0000–U+001F), DEL and the C1 controls (U+0080–U+009F),
//     in every kind, except that MultiLine text may contain tab, line feed
//     and a carriage return immediately followed by a line feed (what a
//     browser's textarea sends).
//   - The line and paragraph separators U+2028 and U+2029: a line break
//     that is not a line feed breaks one-line fields and JavaScript
//     string literals alike.
//   - The bidirectional embeddings and overrides U+202A–U+202E and the
//     isolates U+2066–U+2069: they reorder the text around them, so that
//     "gpj.exe" can display as "exe.jpg" and a payment description can
//     show an amount that is not the one stored. No legitimate Arabic or
//     mixed Arabic/Latin text needs them in a single field: the
//     renderer (HTML dir="rtl", the SMS handset) sets the base direction.
//   - Zero-width characters U+200B (ZERO WIDTH SPACE), U+200C (ZWNJ),
//     U+200D (ZWJ), U+2060 (WORD JOINER), U+FEFF (BOM / ZERO WIDTH NO-BREAK
//     SPACE) and U+180E (MONGOLIAN VOWEL SEPARATOR, once a zero-width
//     space): they make two different strings look the same. ZWNJ is part
//     of correct Persian spelling and ZWJ joins emoji sequences (a family
//     emoji), so refusing them costs something: Persian text shows its
//     words joined where ZWNJ would have split them, and a ZWJ emoji
//     sequence must be sent as separate emoji. Tamkeen's languages are
//     Arabic and English, which need neither.
//   - Every other format character (Unicode category Cf), such as the
//     invisible operators U+2061–U+2064, the deprecated format characters
//     U+206A–U+206F, the interlinear annotation characters U+FFF9–U+FFFB and
//     the tag characters U+E0000–U+E007F (which smuggle invisible ASCII;
//     subdivision flag emoji, which use them, are refused too) — except the
//     ones that Arabic and ordinary text use visibly or harmlessly:
//     U+200E LEFT-TO-RIGHT MARK, U+200F RIGHT-TO-LEFT MARK and U+061C
//     ARABIC LETTER MARK (a mark only changes the direction of neutral
//     characters next to it, such as the punctuation after a Latin word in
//     Arabic text, and cannot reorder a run of letters or digits as an
//     override can), the soft hyphen U+00AD, and the Arabic number signs
//     and end-of-ayah marks (U+0600–U+0605, U+06DD, U+0890–U+0891,
//     U+08E2), which are visible.
//
// Address (e-mail addresses, references, recipients in a CSV) is stricter:
// it also refuses the direction marks, the soft hyphen and every other
// format character, and every space but U+0020, because an address has no
// direction to fix and every invisible character in it is a look-alike.
//
// Arabic letters with harakat, tatweel, Latin with combining accents,
// digits of any script, punctuation, symbols and emoji (including
// variation selectors and skin-tone modifiers) all pass.
package textcheck

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/tamkeen/tamkeen/libs/rpcerr"
)

// Kind is what a string is, which decides what it may contain.
type Kind uint8

const (
	// OneLine is one line of display text: a title, a subject, a name, a
	// description, a label.
	OneLine Kind = iota
	// MultiLine is display text with lines: a body, an answer, an SMS.
	// It may also contain tab, line feed and CR LF.
	MultiLine
	// Address is an address or an identifier that people read: an e-mail
	// address, a reference, a recipient cell. It is OneLine without the
	// direction marks, any other format character or any space but U+0020.
	Address
)

// Forbidden is the first character of a string that its kind refuses.
type Forbidden struct {
	// Offset is the byte offset of the character in the string.
	Offset int
	// Position is its 1-based character (rune) position, what the caller
	// would count; for invalid UTF-8, the position of the bad byte.
	Position int
	// Rune is the character; utf8.RuneError when Invalid.
	Rune rune
	// Invalid reports bytes that are not valid UTF-8.
	Invalid bool
}

// Find returns the first character of s that a string of kind k may not
// contain, and whether there is one.
func Find(s string, k Kind) (Forbidden, bool) {
	pos := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		pos++
		if r == utf8.RuneError && size <= 1 {
			return Forbidden{Offset: i, Position: pos, Rune: utf8.RuneError, Invalid: true}, true
		}
		if refused(r, k, s[i+size:]) {
			return Forbidden{Offset: i, Position: pos, Rune: r}, true
		}
		i += size
	}
	return Forbidden{}, false
}

// InvalidByte is the 1-based position of the first byte of s that is not
// valid UTF-8, or 0 when s is valid UTF-8.
func InvalidByte(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i + 1
		}
		i += size
	}
	return 0
}

// Check returns nil when s is fine as text of kind k, or a field error
// naming field and the first forbidden character, as "contains U+202E
// (RIGHT-TO-LEFT OVERRIDE, a bidirectional control) at character 5". The
// reason names the character, never the text around it, so it is safe to
// show and to log.
func Check(field, s string, k Kind) *rpcerr.FieldError {
	f, bad := Find(s, k)
	if !bad {
		return nil
	}
	return &rpcerr.FieldError{Field: field, Reason: f.Reason(), Code: rpcerr.FieldCode(field, f.Code()), Args: f.Args()}
}

// Code is the last part of the refusal's machine code: "invalid_utf8" or
// "forbidden_character".
func (f Forbidden) Code() string {
	if f.Invalid {
		return "invalid_utf8"
	}
	return "forbidden_character"
}

// Args fill the catalogue text of Code: the byte for invalid UTF-8; the
// character as U+XXXX and its position otherwise.
func (f Forbidden) Args() string {
	if f.Invalid {
		return rpcerr.ArgList(strconv.Itoa(f.Offset + 1))
	}
	return rpcerr.ArgList(fmt.Sprintf("U+%04X", f.Rune), strconv.Itoa(f.Position))
}

// Reason says what f is, for a caller: "contains U+0000 (NUL, a control
// character) at character 3" or "is not valid UTF-8 (byte 7)".
func (f Forbidden) Reason() string {
	if f.Invalid {
		return fmt.Sprintf("is not valid UTF-8 (byte %d)", f.Offset+1)
	}
	return fmt.Sprintf("contains U+%04X (%s) at character %d", f.Rune, describe(f.Rune), f.Position)
}

// names are the characters a reason names; others get their class only.
var names = map[rune]string{
	0x00: "NUL", 0x09: "TAB", 0x0A: "LINE FEED", 0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE",
	0x00A0: "NO-BREAK SPACE", 0x00AD: "SOFT HYPHEN", 0x061C: "ARABIC LETTER MARK", 0x180E: "MONGOLIAN VOWEL SEPARATOR",
	0x200B: "ZERO WIDTH SPACE", 0x200C: "ZERO WIDTH NON-JOINER", 0x200D: "ZERO WIDTH JOINER",
	0x200E: "LEFT-TO-RIGHT MARK", 0x200F: "RIGHT-TO-LEFT MARK",
	0x2028: "LINE SEPARATOR", 0x2029: "PARAGRAPH SEPARATOR",
	0x202A: "LEFT-TO-RIGHT EMBEDDING", 0x202B: "RIGHT-TO-LEFT EMBEDDING", 0x202C: "POP DIRECTIONAL FORMATTING",
	0x202D: "LEFT-TO-RIGHT OVERRIDE", 0x202E: "RIGHT-TO-LEFT OVERRIDE",
	0x2060: "WORD JOINER",
	0x2066: "LEFT-TO-RIGHT ISOLATE", 0x2067: "RIGHT-TO-LEFT ISOLATE", 0x2068: "FIRST STRONG ISOLATE",
	0x2069: "POP DIRECTIONAL ISOLATE",
	0xFEFF: "ZERO WIDTH NO-BREAK SPACE",
}

// describe is "NAME, a class" or "a class".
func describe(r rune) string {
	var class string
	switch {
	case isBidiControl(r):
		class = "a bidirectional control"
	case isZeroWidth(r):
		class = "an invisible zero-width character"
	case unicode.IsControl(r):
		class = "a control character"
	case r == 0x2028 || r == 0x2029:
		class = "a line break other than line feed"
	case unicode.Is(unicode.Cf, r):
		class = "an invisible format character"
	default:
		class = "a space other than U+0020"
	}
	if n, ok := names[r]; ok {
		return n + ", " + class
	}
	return class
}

// isBidiControl reports the embeddings, overrides and isolates.
func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isZeroWidth reports the zero-width characters.
func isZeroWidth(r rune) bool {
	switch r {
	case 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E:
		return true
	}
	return false
}

// allowedFormat reports the format (Cf) characters display text may keep:
// the direction marks, the soft hyphen and the visible Arabic signs.
func allowedFormat(r rune) bool {
	switch {
	case r == 0x200E, r == 0x200F, r == 0x061C, r == 0x00AD:
		return true
	case r >= 0x0600 && r <= 0x0605, r == 0x06DD, r == 0x0890, r == 0x0891, r == 0x08E2:
		return true
	}
	return false
}

// refused reports whether r may not appear in text of kind k; rest is the
// text after r (for CR LF).
func refused(r rune, k Kind, rest string) bool {
	switch {
	case r < 0x20 || (r >= 0x7F && r <= 0x9F):
		if k == MultiLine {
			return !(r == '\n' || r == '\t' || (r == '\r' && len(rest) > 0 && rest[0] == '\n'))
		}
		return true
	case r < 0x7F:
		return false // printable ASCII, the common case
	case r == 0x2028 || r == 0x2029:
		return true
	case isBidiControl(r) || isZeroWidth(r):
		return true
	case unicode.Is(unicode.Cf, r):
		return k == Address || !allowedFormat(r)
	case k == Address && unicode.Is(unicode.Zs, r):
		return true
	}
	return false
}
