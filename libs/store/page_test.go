package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/store"
)

func TestNextPage(t *testing.T) {
	t.Parallel()
	id := func(s string) string { return s }
	for _, tc := range []struct {
		name     string
		rows     []string
		size     int
		wantRows []string
		wantNext string
	}{
		{"empty", nil, 2, nil, ""},
		{"short page", []string{"a"}, 2, []string{"a"}, ""},
		{"full last page", []string{"a", "b"}, 2, []string{"a", "b"}, ""},
		{"one more", []string{"a", "b", "c"}, 2, []string{"a", "b"}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rows, next := store.NextPage(tc.rows, tc.size, id)
			if !slices.Equal(rows, tc.wantRows) || next != tc.wantNext {
				t.Errorf("NextPage(%q, %d) = %q, %q; want %q, %q", tc.rows, tc.size, rows, next, tc.wantRows, tc.wantNext)
			}
		})
	}
}

func TestKeysetToken(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)
	gotAt, gotID, ok := store.ParseKeysetToken(store.KeysetToken(at, "pay_1|x"))
	if !ok || !gotAt.Equal(at) || gotID != "pay_1|x" {
		t.Errorf("ParseKeysetToken(KeysetToken(%v, pay_1|x)) = %v, %q, %v; want the same back", at, gotAt, gotID, ok)
	}
	for _, bad := range []string{"!!", "bm8tYmFy", "eHx5"} { // not base64; "no-bar"; "x|y"
		if _, _, ok := store.ParseKeysetToken(bad); ok {
			t.Errorf("ParseKeysetToken(%q) = ok; want not a token", bad)
		}
	}
}
