package notification

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// The GSM 03.38 default alphabet as the specification's table lists it,
// written out independently of gsm7Basic (code, character).
func TestGSM7DefaultAlphabet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code byte
		r    rune
	}{
		{0x00, '@'}, {0x01, '£'}, {0x02, '$'}, {0x03, '¥'}, {0x04, 'è'}, {0x05, 'é'}, {0x06, 'ù'}, {0x07, 'ì'},
		{0x08, 'ò'}, {0x09, 'Ç'}, {0x0A, '\n'}, {0x0B, 'Ø'}, {0x0C, 'ø'}, {0x0D, '\r'}, {0x0E, 'Å'}, {0x0F, 'å'},
		{0x10, 'Δ'}, {0x11, '_'}, {0x12, 'Φ'}, {0x13, 'Γ'}, {0x14, 'Λ'}, {0x15, 'Ω'}, {0x16, 'Π'}, {0x17, 'Ψ'},
		{0x18, 'Σ'}, {0x19, 'Θ'}, {0x1A, 'Ξ'}, {0x1C, 'Æ'}, {0x1D, 'æ'}, {0x1E, 'ß'}, {0x1F, 'É'},
		{0x20, ' '}, {0x21, '!'}, {0x22, '"'}, {0x23, '#'}, {0x24, '¤'}, {0x25, '%'}, {0x26, '&'}, {0x27, '\''},
		{0x28, '('}, {0x29, ')'}, {0x2A, '*'}, {0x2B, '+'}, {0x2C, ','}, {0x2D, '-'}, {0x2E, '.'}, {0x2F, '/'},
		{0x30, '0'}, {0x39, '9'}, {0x3A, ':'}, {0x3B, ';'}, {0x3C, '<'}, {0x3D, '='}, {0x3E, '>'}, {0x3F, '?'},
		{0x40, '¡'}, {0x41, 'A'}, {0x5A, 'Z'}, {0x5B, 'Ä'}, {0x5C, 'Ö'}, {0x5D, 'Ñ'}, {0x5E, 'Ü'}, {0x5F, '§'},
		{0x60, '¿'}, {0x61, 'a'}, {0x7A, 'z'}, {0x7B, 'ä'}, {0x7C, 'ö'}, {0x7D, 'ñ'}, {0x7E, 'ü'}, {0x7F, 'à'},
	}
	for _, tc := range tests {
		got, ok := EncodeGSM7(string(tc.r))
		if !ok || !bytes.Equal(got, []byte{tc.code}) {
			t.Errorf("EncodeGSM7(%q) = % x, %v; want %02x", tc.r, got, ok, tc.code)
		}
		if l := MeasureSMS(string(tc.r)); l.Encoding != GSM7 || l.Units != 1 {
			t.Errorf("MeasureSMS(%q) = %+v; want gsm7, 1 unit", tc.r, l)
		}
	}
	// Every code but the escape decodes to a character that encodes back.
	for c := byte(0); c < 0x80; c++ {
		if c == gsm7Escape {
			continue
		}
		s, ok := DecodeGSM7([]byte{c})
		if !ok || utf8.RuneCountInString(s) != 1 {
			t.Fatalf("DecodeGSM7(%02x) = %q, %v; want one character", c, s, ok)
		}
		if back, ok := EncodeGSM7(s); !ok || !bytes.Equal(back, []byte{c}) {
			t.Errorf("EncodeGSM7(DecodeGSM7(%02x) = %q) = % x; want %02x", c, s, back, c)
		}
	}
}

func TestGSM7ExtensionTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    rune
		code byte
	}{
		{'\f', 0x0A}, {'^', 0x14}, {'{', 0x28}, {'}', 0x29}, {'\\', 0x2F},
		{'[', 0x3C}, {'~', 0x3D}, {']', 0x3E}, {'|', 0x40}, {'€', 0x65},
	}
	for _, tc := range tests {
		got, ok := EncodeGSM7(string(tc.r))
		if !ok || !bytes.Equal(got, []byte{0x1B, tc.code}) {
			t.Errorf("EncodeGSM7(%q) = % x, %v; want 1b %02x", tc.r, got, ok, tc.code)
		}
		if l := MeasureSMS(string(tc.r)); l.Encoding != GSM7 || l.Units != 2 || l.Segments != 1 {
			t.Errorf("MeasureSMS(%q) = %+v; want gsm7, 2 units, 1 segment", tc.r, l)
		}
	}
}

func TestNotGSM7(t *testing.T) {
	t.Parallel()
	// Characters people expect in GSM-7 that are not in it, and scripts
	// that force UCS-2.
	for _, r := range []rune{'`', '\t', 'ç', 'á', 'Ê', '¢', 'ع', 'ة', '٣', '؟', 'ـ', 'א', '😀', '\u00a0', '\x1b', utf8.RuneError} {
		if IsGSM7(string(r)) {
			t.Errorf("IsGSM7(%q) = true; want false", r)
		}
		if _, ok := EncodeGSM7("a" + string(r)); ok {
			t.Errorf("EncodeGSM7(%q) ok; want refused", r)
		}
		if l := MeasureSMS("a" + string(r)); l.Encoding != UCS2 {
			t.Errorf("MeasureSMS(a%q) encoding = %s; want ucs2", r, l.Encoding)
		}
	}
}

func TestMeasureSMS(t *testing.T) {
	t.Parallel()
	a, ar := strings.Repeat, "ع"
	tests := []struct {
		name     string
		body     string
		enc      Encoding
		units    int
		segments int
	}{
		{"empty", "", GSM7, 0, 0},
		{"one char", "a", GSM7, 1, 1},
		{"160 gsm", a("a", 160), GSM7, 160, 1},
		{"161 gsm", a("a", 161), GSM7, 161, 2},
		{"306 gsm", a("a", 306), GSM7, 306, 2},
		{"307 gsm", a("a", 307), GSM7, 307, 3},
		{"459 gsm", a("a", 459), GSM7, 459, 3},
		{"460 gsm", a("a", 460), GSM7, 460, 4},
		{"crlf", "a\r\nb", GSM7, 4, 1},
		{"158 plus [ is 160", a("a", 158) + "[", GSM7, 160, 1},
		{"159 plus [ is 161", a("a", 159) + "[", GSM7, 161, 2},
		{"80 euro", a("€", 80), GSM7, 160, 1},
		{"81 euro", a("€", 81), GSM7, 162, 2},
		{"escape not split 305", a("a", 152) + "€" + a("a", 151), GSM7, 305, 2},
		{"escape not split 306", a("a", 152) + "€" + a("a", 152), GSM7, 306, 3},
		{"70 ucs2", a(ar, 70), UCS2, 70, 1},
		{"71 ucs2", a(ar, 71), UCS2, 71, 2},
		{"134 ucs2", a(ar, 134), UCS2, 134, 2},
		{"135 ucs2", a(ar, 135), UCS2, 135, 3},
		{"201 ucs2", a(ar, 201), UCS2, 201, 3},
		{"202 ucs2", a(ar, 202), UCS2, 202, 4},
		{"one arabic letter forces ucs2", a("a", 159) + ar, UCS2, 160, 3},
		{"short mixed", "Hello " + ar, UCS2, 7, 1},
		{"extension char in ucs2 counts one", a(ar, 69) + "€", UCS2, 70, 1},
		{"emoji is two units", a(ar, 68) + "😀", UCS2, 70, 1},
		{"emoji pushes to two", a(ar, 69) + "😀", UCS2, 71, 2},
		{"surrogate pair not split", a(ar, 66) + "😀" + a(ar, 66), UCS2, 134, 3},
		{"invalid utf-8 is ucs2", "\xff", UCS2, 1, 1},
		{"tab forces ucs2", "a\tb", UCS2, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MeasureSMS(tc.body)
			want := SMSLength{Encoding: tc.enc, Units: tc.units, Segments: tc.segments}
			if got != want {
				t.Fatalf("MeasureSMS = %+v; want %+v", got, want)
			}
			checkSplit(t, tc.body, got)
		})
	}
}

// checkSplit asserts SplitSMS agrees with l: as many parts as segments,
// none over its size, together the body.
func checkSplit(t *testing.T, body string, l SMSLength) {
	t.Helper()
	parts := SplitSMS(body)
	if len(parts) != l.Segments {
		t.Fatalf("SplitSMS gave %d parts; want %d", len(parts), l.Segments)
	}
	if strings.Join(parts, "") != body {
		t.Fatalf("SplitSMS parts do not join back to the body")
	}
	if len(parts) < 2 {
		return
	}
	_, size := sizes(l.Encoding)
	for i, p := range parts {
		var n int
		for _, r := range p {
			n += unitsOf(l.Encoding, r)
		}
		if n == 0 || n > size {
			t.Fatalf("part %d has %d units; want 1..%d", i, n, size)
		}
	}
}

func TestDecodeGSM7(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"plain", []byte{0x48, 0x69, 0x00}, "Hi@", true},
		{"extension", []byte{0x1B, 0x65, 0x31}, "€1", true},
		{"undefined extension shows the basic char", []byte{0x1B, 0x41}, "A", true},
		{"escape escape", []byte{0x1B, 0x1B}, " ", true},
		{"trailing escape", []byte{0x41, 0x1B}, "", false},
		{"eighth bit", []byte{0x80}, "", false},
		{"eighth bit after escape", []byte{0x1B, 0xC0}, "", false},
		{"empty", nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DecodeGSM7(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("DecodeGSM7(% x) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzSegments(f *testing.F) {
	for _, s := range []string{
		"", "a", strings.Repeat("a", 161), strings.Repeat("€", 81), "رمز التحقق في تمكين: 123456",
		strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), strings.Repeat("ع", 66) + "😀", "\xff\xfe", "a\x1bb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		l := MeasureSMS(body)
		if (l.Encoding == GSM7) != IsGSM7(body) {
			t.Fatalf("encoding %s but IsGSM7 = %v", l.Encoding, IsGSM7(body))
		}
		var units int
		for _, r := range body {
			units += unitsOf(l.Encoding, r)
		}
		if l.Units != units {
			t.Fatalf("units = %d; want %d", l.Units, units)
		}
		single, multi := sizes(l.Encoding)
		switch {
		case body == "":
			if l.Segments != 0 {
				t.Fatalf("empty body has %d segments", l.Segments)
			}
		case l.Units <= single:
			if l.Segments != 1 {
				t.Fatalf("%d units in %d segments; want 1", l.Units, l.Segments)
			}
		default:
			// Greedy packing loses at most one unit per part.
			lo, hi := ceilDiv(l.Units, multi), ceilDiv(l.Units, multi-1)
			if l.Segments < lo || l.Segments > hi {
				t.Fatalf("%d units in %d segments; want %d..%d", l.Units, l.Segments, lo, hi)
			}
		}
		checkSplit(t, body, l)
		if l.Encoding == GSM7 {
			sept, ok := EncodeGSM7(body)
			if !ok || len(sept) != l.Units {
				t.Fatalf("EncodeGSM7 gave %d septets, %v; want %d", len(sept), ok, l.Units)
			}
			if back, ok := DecodeGSM7(sept); !ok || back != body {
				t.Fatalf("GSM-7 round trip = %q, %v; want %q", back, ok, body)
			}
		}
	})
}

func FuzzDecodeGSM7(f *testing.F) {
	f.Add([]byte{0x1B, 0x65})
	f.Add([]byte{0x1B})
	f.Fuzz(func(t *testing.T, septets []byte) {
		s, ok := DecodeGSM7(septets)
		if !ok {
			return
		}
		if !IsGSM7(s) {
			t.Fatalf("DecodeGSM7 produced %q, which is not GSM-7", s)
		}
	})
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func BenchmarkMeasureSMS(b *testing.B) {
	cases := []struct{ name, body string }{
		{"otp-ar", "رمز التحقق في تمكين: 123456. صالح 5 دقائق. لا تشاركه مع أحد."},
		{"otp-en", "Your Tamkeen verification code is 123456. It expires in 5 minutes. Do not share it with anyone."},
		{"gsm7-long", strings.Repeat("Vaccination reminder: bring your card {ID} & €5. ", 10)},
		{"ucs2-long", strings.Repeat("تذكير بموعد التطعيم: يرجى إحضار البطاقة. ", 10)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if MeasureSMS(c.body).Segments == 0 {
					b.Fatal("no segments")
				}
			}
		})
	}
}

func TestASCIIGSM7(t *testing.T) {
	t.Parallel()
	for r := rune(0); r < 0x80; r++ {
		fast, fok := gsm7Code(r)
		slow, sok := gsm7SearchCode(r)
		if fok != sok || fok && fast != slow {
			t.Errorf("gsm7Code(%q) = %02x, %v; gsm7Basic says %02x, %v", r, fast, fok, slow, sok)
		}
	}
}
