// Package i18n holds what the platform's Arabic-first, English-too pages
// share: their texts live in JSON files embedded beside the page (one
// object per language), which a translator edits without touching Go.
package i18n

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
)

// Load reads the texts of every language from the JSON file name in fsys:
// an object of language tag → T. The file is embedded in the binary, so
// a file that does not load is a build defect: Load panics, at package
// initialisation, and the package's tests fail.
func Load[T any](fsys fs.FS, name string) map[string]T {
	t, err := load[T](fsys, name)
	if err != nil {
		panic(err)
	}
	return t
}

func load[T any](fsys fs.FS, name string) (map[string]T, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("i18n: %w", err)
	}
	var t map[string]T
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("i18n: %s: %w", name, err)
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("i18n: %s: no language", name)
	}
	return t, nil
}

// ASCIIDigit maps an Arabic-Indic digit (٠–٩, U+0660–0669) or an Eastern
// Arabic-Indic one (۰–۹, U+06F0–06F9, the Persian and Urdu keyboards') to
// its ASCII digit; ok is false, and r comes back as it is, for any other
// rune.
func ASCIIDigit(r rune) (d rune, ok bool) {
	switch {
	case r >= '٠' && r <= '٩':
		return '0' + (r - '٠'), true
	case r >= '۰' && r <= '۹':
		return '0' + (r - '۰'), true
	}
	return r, false
}

// ASCIIDigits maps every Arabic-Indic digit of s to ASCII (ASCIIDigit), so
// that a number typed on an Arabic keyboard reads as typed on any other.
func ASCIIDigits(s string) string {
	return strings.Map(func(r rune) rune {
		d, _ := ASCIIDigit(r)
		return d
	}, s)
}
