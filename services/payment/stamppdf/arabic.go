package stamppdf

import (
	"strings"
	"unicode"
)

// PDF text is drawn glyph by glyph, left to right, with no shaping engine:
// Arabic has to arrive already shaped (each letter in its isolated,
// initial, medial or final form, lam-alef as one ligature) and in visual
// order. visual does both for the short labels of a stamp, with the
// Unicode Arabic Presentation Forms-B, which the embedded DejaVu Sans
// carries. pdftotext and screen readers map the forms back (NFKC).

// forms are a letter's isolated, final, initial and medial forms; a
// right-joining letter (it joins only the letter before it) has no initial
// or medial form (0).
type forms [4]rune

var arabicForms = map[rune]forms{
	0x0621: {0xFE80, 0, 0, 0},
	0x0622: {0xFE81, 0xFE82, 0, 0},
	0x0623: {0xFE83, 0xFE84, 0, 0},
	0x0624: {0xFE85, 0xFE86, 0, 0},
	0x0625: {0xFE87, 0xFE88, 0, 0},
	0x0626: {0xFE89, 0xFE8A, 0xFE8B, 0xFE8C},
	0x0627: {0xFE8D, 0xFE8E, 0, 0},
	0x0628: {0xFE8F, 0xFE90, 0xFE91, 0xFE92},
	0x0629: {0xFE93, 0xFE94, 0, 0},
	0x062A: {0xFE95, 0xFE96, 0xFE97, 0xFE98},
	0x062B: {0xFE99, 0xFE9A, 0xFE9B, 0xFE9C},
	0x062C: {0xFE9D, 0xFE9E, 0xFE9F, 0xFEA0},
	0x062D: {0xFEA1, 0xFEA2, 0xFEA3, 0xFEA4},
	0x062E: {0xFEA5, 0xFEA6, 0xFEA7, 0xFEA8},
	0x062F: {0xFEA9, 0xFEAA, 0, 0},
	0x0630: {0xFEAB, 0xFEAC, 0, 0},
	0x0631: {0xFEAD, 0xFEAE, 0, 0},
	0x0632: {0xFEAF, 0xFEB0, 0, 0},
	0x0633: {0xFEB1, 0xFEB2, 0xFEB3, 0xFEB4},
	0x0634: {0xFEB5, 0xFEB6, 0xFEB7, 0xFEB8},
	0x0635: {0xFEB9, 0xFEBA, 0xFEBB, 0xFEBC},
	0x0636: {0xFEBD, 0xFEBE, 0xFEBF, 0xFEC0},
	0x0637: {0xFEC1, 0xFEC2, 0xFEC3, 0xFEC4},
	0x0638: {0xFEC5, 0xFEC6, 0xFEC7, 0xFEC8},
	0x0639: {0xFEC9, 0xFECA, 0xFECB, 0xFECC},
	0x063A: {0xFECD, 0xFECE, 0xFECF, 0xFED0},
	0x0641: {0xFED1, 0xFED2, 0xFED3, 0xFED4},
	0x0642: {0xFED5, 0xFED6, 0xFED7, 0xFED8},
	0x0643: {0xFED9, 0xFEDA, 0xFEDB, 0xFEDC},
	0x0644: {0xFEDD, 0xFEDE, 0xFEDF, 0xFEE0},
	0x0645: {0xFEE1, 0xFEE2, 0xFEE3, 0xFEE4},
	0x0646: {0xFEE5, 0xFEE6, 0xFEE7, 0xFEE8},
	0x0647: {0xFEE9, 0xFEEA, 0xFEEB, 0xFEEC},
	0x0648: {0xFEED, 0xFEEE, 0, 0},
	0x0649: {0xFEEF, 0xFEF0, 0, 0},
	0x064A: {0xFEF1, 0xFEF2, 0xFEF3, 0xFEF4},
}

// lamAlef are the lam-alef ligatures (isolated, final) by the alef.
var lamAlef = map[rune][2]rune{
	0x0622: {0xFEF5, 0xFEF6},
	0x0623: {0xFEF7, 0xFEF8},
	0x0625: {0xFEF9, 0xFEFA},
	0x0627: {0xFEFB, 0xFEFC},
}

const (
	lam     = 0x0644
	tatweel = 0x0640
)

// transparent marks (harakat) take no part in joining.
func transparent(r rune) bool { return unicode.Is(unicode.Mn, r) }

// joinsNext reports whether r connects to the letter after it.
func joinsNext(r rune) bool {
	if r == tatweel {
		return true
	}
	f, ok := arabicForms[r]
	return ok && f[2] != 0
}

// joinsPrev reports whether r connects to the letter before it.
func joinsPrev(r rune) bool {
	if r == tatweel {
		return true
	}
	f, ok := arabicForms[r]
	return ok && f[1] != 0
}

// shape replaces the Arabic letters of s (in logical order) by their
// contextual presentation forms.
func shape(s string) []rune {
	in := []rune(s)
	// neighbour finds the next letter from i in direction d, skipping
	// transparent marks.
	neighbour := func(i, d int) rune {
		for j := i + d; j >= 0 && j < len(in); j += d {
			if !transparent(in[j]) {
				return in[j]
			}
		}
		return 0
	}
	out := make([]rune, 0, len(in))
	for i := 0; i < len(in); i++ {
		r := in[i]
		f, ok := arabicForms[r]
		if !ok {
			out = append(out, r)
			continue
		}
		prev := neighbour(i, -1)
		linkedBefore := joinsNext(prev) && joinsPrev(r)
		if r == lam {
			if j := i + 1; j < len(in) {
				if lig, ok := lamAlef[in[j]]; ok {
					if linkedBefore {
						out = append(out, lig[1])
					} else {
						out = append(out, lig[0])
					}
					i++
					continue
				}
			}
		}
		linkedAfter := joinsNext(r) && joinsPrev(neighbour(i, 1))
		switch {
		case linkedBefore && linkedAfter:
			out = append(out, f[3])
		case linkedBefore:
			out = append(out, f[1])
		case linkedAfter:
			out = append(out, f[2])
		default:
			out = append(out, f[0])
		}
	}
	return out
}

// rtl reports whether r is written right to left.
func rtl(r rune) bool {
	return unicode.Is(unicode.Arabic, r) || (r >= 0xFB50 && r <= 0xFEFF)
}

// visual shapes s and lays it out in visual (left-to-right drawing) order
// for a right-to-left line: runs of left-to-right text (digits, Latin)
// keep their order inside, and the line as a whole reads from the right.
// It is a small subset of the Unicode bidirectional algorithm, enough for
// labels and names; brackets are mirrored.
func visual(s string) string {
	shaped := shape(s)
	// Split into runs: RTL runs and LTR runs; neutrals (spaces,
	// punctuation) between two runs of one direction join them, else they
	// take the line's direction (RTL).
	type run struct {
		rtl   bool
		runes []rune
	}
	var runs []run
	strong := func(r rune) (bool, bool) { // (is strong, is rtl)
		switch {
		case rtl(r):
			return true, true
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return true, false
		}
		return false, false
	}
	for i := 0; i < len(shaped); {
		isStrong, isRTL := strong(shaped[i])
		if !isStrong {
			isRTL = true
			// A neutral between two LTR characters is LTR.
			prevLTR := len(runs) > 0 && !runs[len(runs)-1].rtl
			nextLTR := false
			for _, r := range shaped[i:] {
				if s, d := strong(r); s {
					nextLTR = !d
					break
				}
			}
			if prevLTR && nextLTR {
				isRTL = false
			}
		}
		if len(runs) == 0 || runs[len(runs)-1].rtl != isRTL {
			runs = append(runs, run{rtl: isRTL})
		}
		runs[len(runs)-1].runes = append(runs[len(runs)-1].runes, shaped[i])
		i++
	}
	var b strings.Builder
	for i := len(runs) - 1; i >= 0; i-- {
		rs := runs[i].runes
		if !runs[i].rtl {
			b.WriteString(string(rs))
			continue
		}
		for j := len(rs) - 1; j >= 0; j-- {
			b.WriteRune(mirror(rs[j]))
		}
	}
	return b.String()
}

// mirror is the glyph of r in a right-to-left run.
func mirror(r rune) rune {
	switch r {
	case '(':
		return ')'
	case ')':
		return '('
	case '[':
		return ']'
	case ']':
		return '['
	case '<':
		return '>'
	case '>':
		return '<'
	}
	return r
}
