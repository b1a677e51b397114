package config

import (
	"log/slog"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// fuzzTypes gives one Go type per kind.
var fuzzTypes = []reflect.Type{
	reflect.TypeFor[string](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[int](),
	reflect.TypeFor[int64](),
	reflect.TypeFor[float64](),
	reflect.TypeFor[time.Duration](),
	reflect.TypeFor[[]string](),
	reflect.TypeFor[slog.Level](),
	reflect.TypeFor[netip.Addr](),
}

// FuzzParse checks that no input makes a value parser panic and that every
// value that parses survives a format → parse round trip, which Describe and
// the flag defaults rely on.
func FuzzParse(f *testing.F) {
	for i, seed := range []string{"", "x", "true", "-12", "1e309", "NaN", "1h2m3.5s", "a, b,,c", "DEBUG+2", "::ffff:1.2.3.4", "9223372036854775808"} {
		f.Add(uint8(i), seed)
	}
	f.Fuzz(func(t *testing.T, which uint8, raw string) {
		typ := fuzzTypes[int(which)%len(fuzzTypes)]
		k, ok := kindOf(typ)
		if !ok {
			t.Fatalf("kindOf(%s) not supported", typ)
		}
		v, err := parse(typ, k, raw)
		if err != nil {
			if msg := err.Error(); msg == "" {
				t.Fatalf("empty error message for %q", raw)
			}
			return
		}
		text := format(v, k)
		again, err := parse(typ, k, text)
		if err != nil {
			t.Fatalf("parse(%q) ok, but its formatted form %q fails: %v", raw, text, err)
		}
		if got := format(again, k); got != text {
			t.Fatalf("round trip of %q: %q then %q", raw, text, got)
		}
	})
}
