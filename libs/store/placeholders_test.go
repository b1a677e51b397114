package store_test

import (
	"testing"

	"github.com/tamkeen/tamkeen/libs/store"
)

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		rows, cols, first int
		want              string
	}{
		{1, 3, 1, "($1, $2, $3)"},
		{2, 2, 1, "($1, $2), ($3, $4)"},
		{2, 2, 4, "($4, $5), ($6, $7)"},
		{0, 3, 1, ""},
	} {
		if got := store.Placeholders(tc.rows, tc.cols, tc.first); got != tc.want {
			t.Errorf("Placeholders(%d, %d, %d) = %q; want %q", tc.rows, tc.cols, tc.first, got, tc.want)
		}
	}
}
