package store

import (
	"strconv"
	"strings"
)

// Placeholders is the VALUES list of a multi-row INSERT: rows groups of
// cols parameters, "($first, …), (…)", numbered from first so that a
// statement may carry other parameters before them.
func Placeholders(rows, cols, first int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(first + r*cols + c))
		}
		b.WriteByte(')')
	}
	return b.String()
}
