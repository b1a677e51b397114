package notification

import (
	"unicode/utf8"
)

// Encoding is the data coding an SMS body needs.
type Encoding string

// The two data codings Tamkeen sends.
const (
	// GSM7 is the GSM 03.38 default alphabet with its extension table,
	// 7 bits per character (extension characters take two).
	GSM7 Encoding = "gsm7"
	// UCS2 is 16 bits per character (UTF-16 code units, so a character
	// outside the Basic Multilingual Plane takes two); any character
	// outside GSM 03.38, Arabic among them, forces it.
	UCS2 Encoding = "ucs2"
)

// Segment sizes, in septets for GSM7 and UTF-16 code units for UCS2. A
// message that fits the single size goes as one SMS; a longer one is split
// into parts that each lose room to the concatenation header (UDH).
const (
	GSM7SingleSize    = 160
	GSM7MultipartSize = 153
	UCS2SingleSize    = 70
	UCS2MultipartSize = 67
)

// SMSLength describes how a body goes over the air.
type SMSLength struct {
	// Encoding is GSM7 when every character is in GSM 03.38, else UCS2.
	Encoding Encoding
	// Units is the length in septets (GSM7) or UTF-16 code units (UCS2).
	Units int
	// Segments is the number of SMS parts; 0 for an empty body.
	Segments int
}

// gsm7Escape precedes a character of the extension table.
const gsm7Escape = 0x1B

// gsm7Basic is the GSM 03.38 default alphabet indexed by its 7-bit code;
// position 0x1B is the escape to the extension table, never a character.
// It is a constant string rather than a table variable so the package
// holds no mutable state.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// asciiGSM7 maps each ASCII character to its default-alphabet code, 0xFF
// for none: the fast path for the characters most messages are made of
// (TestASCIIGSM7 checks it against gsm7Basic).
const asciiGSM7 = "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x0a\xff\xff\x0d\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\x20\x21\x22\x23\x02\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f" +
	"\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f" +
	"\x00\x41\x42\x43\x44\x45\x46\x47\x48\x49\x4a\x4b\x4c\x4d\x4e\x4f" +
	"\x50\x51\x52\x53\x54\x55\x56\x57\x58\x59\x5a\xff\xff\xff\xff\x11" +
	"\xff\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f" +
	"\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\xff\xff\xff\xff\xff"

// gsm7Code returns the default-alphabet code of r, or false.
func gsm7Code(r rune) (byte, bool) {
	if r >= 0 && r < 0x80 {
		c := asciiGSM7[r]
		return c, c != 0xFF
	}
	return gsm7SearchCode(r)
}

// gsm7SearchCode looks r up in gsm7Basic.
func gsm7SearchCode(r rune) (byte, bool) {
	if r == gsm7Escape {
		return 0, false
	}
	var code byte
	for _, c := range gsm7Basic {
		if c == r {
			return code, true
		}
		code++
	}
	return 0, false
}

// gsm7ExtCode returns the extension-table code of r (sent after the
// escape), or false.
func gsm7ExtCode(r rune) (byte, bool) {
	switch r {
	case '\f':
		return 0x0A, true
	case '^':
		return 0x14, true
	case '{':
		return 0x28, true
	case '}':
		return 0x29, true
	case '\\':
		return 0x2F, true
	case '[':
		return 0x3C, true
	case '~':
		return 0x3D, true
	case ']':
		return 0x3E, true
	case '|':
		return 0x40, true
	case '€':
		return 0x65, true
	}
	return 0, false
}

// gsm7Septets is how many septets r takes in GSM 03.38: 1 for the default
// alphabet, 2 for the extension table, 0 when r cannot be sent as GSM-7.
func gsm7Septets(r rune) int {
	if _, ok := gsm7Code(r); ok {
		return 1
	}
	if _, ok := gsm7ExtCode(r); ok {
		return 2
	}
	return 0
}

// ucs2Units is how many UTF-16 code units r takes.
func ucs2Units(r rune) int {
	if r > 0xFFFF && r <= utf8.MaxRune {
		return 2
	}
	return 1
}

// IsGSM7 reports whether every character of s is in GSM 03.38 (default
// alphabet or extension table).
func IsGSM7(s string) bool {
	for _, r := range s {
		if gsm7Septets(r) == 0 {
			return false
		}
	}
	return true
}

// MeasureSMS returns the encoding, length and number of segments of body.
// Parts never split a character: an extension character's escape stays with
// it and a surrogate pair stays whole, so a part can hold one unit less than
// its size, and the count here is what an SMSC will bill. Invalid UTF-8
// counts as U+FFFD (UCS-2).
func MeasureSMS(body string) SMSLength {
	enc := UCS2
	if IsGSM7(body) {
		enc = GSM7
	}
	var units int
	for _, r := range body {
		units += unitsOf(enc, r)
	}
	l := SMSLength{Encoding: enc, Units: units}
	single, multi := sizes(enc)
	switch {
	case units == 0:
		l.Segments = 0
	case units <= single:
		l.Segments = 1
	default:
		l.Segments = countParts(body, enc, multi)
	}
	return l
}

// sizes returns the single-message and per-part sizes of enc.
func sizes(enc Encoding) (single, multi int) {
	if enc == GSM7 {
		return GSM7SingleSize, GSM7MultipartSize
	}
	return UCS2SingleSize, UCS2MultipartSize
}

// unitsOf is the size of r in enc.
func unitsOf(enc Encoding, r rune) int {
	if enc == GSM7 {
		return gsm7Septets(r)
	}
	return ucs2Units(r)
}

// countParts packs body greedily into parts of at most size units without
// splitting a character. It allocates nothing.
func countParts(body string, enc Encoding, size int) int {
	parts, used := 1, 0
	for _, r := range body {
		n := unitsOf(enc, r)
		if used+n > size {
			parts++
			used = 0
		}
		used += n
	}
	return parts
}

// SplitSMS returns the texts of the parts body is sent in (one part when it
// fits a single SMS), split as MeasureSMS counts them; nil for an empty body.
func SplitSMS(body string) []string {
	l := MeasureSMS(body)
	if l.Segments <= 1 {
		if body == "" {
			return nil
		}
		return []string{body}
	}
	_, size := sizes(l.Encoding)
	parts := make([]string, 0, l.Segments)
	start, used := 0, 0
	for i, r := range body {
		n := unitsOf(l.Encoding, r)
		if used+n > size {
			parts = append(parts, body[start:i])
			start, used = i, 0
		}
		used += n
	}
	return append(parts, body[start:])
}

// EncodeGSM7 returns s as unpacked GSM 03.38 septets, one per byte (values
// 0..127, extension characters as the escape 0x1B then their code), the
// form SMPP's data_coding 0 carries; false when s has a character outside
// GSM 03.38.
func EncodeGSM7(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if c, ok := gsm7Code(r); ok {
			out = append(out, c)
			continue
		}
		if c, ok := gsm7ExtCode(r); ok {
			out = append(out, gsm7Escape, c)
			continue
		}
		return nil, false
	}
	return out, true
}

// DecodeGSM7 turns unpacked septets back into text. An escape followed by a
// code the extension table does not define decodes, as GSM 03.38 asks, to
// the default-alphabet character of that code; a trailing escape and bytes
// above 127 are errors (false).
func DecodeGSM7(septets []byte) (string, bool) {
	basic := []rune(gsm7Basic)
	out := make([]rune, 0, len(septets))
	for i := 0; i < len(septets); i++ {
		c := septets[i]
		if c > 0x7F {
			return "", false
		}
		if c != gsm7Escape {
			out = append(out, basic[c])
			continue
		}
		i++
		if i == len(septets) || septets[i] > 0x7F {
			return "", false
		}
		out = append(out, gsm7ExtRune(septets[i], basic))
	}
	return string(out), true
}

// gsm7ExtRune decodes one extension-table code.
func gsm7ExtRune(c byte, basic []rune) rune {
	for _, r := range "\f^{}\\[~]|€" {
		if ec, _ := gsm7ExtCode(r); ec == c {
			return r
		}
	}
	if c == gsm7Escape {
		// ESC ESC is reserved for a further extension; show a space as
		// the specification suggests for unknown characters.
		return ' '
	}
	return basic[c]
}
