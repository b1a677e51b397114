package scope_test

import (
	"testing"

	"github.com/tamkeen/tamkeen/libs/scope"
)

func TestAllDistinctAndKnown(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, s := range scope.All() {
		if seen[s] {
			t.Errorf("scope %q listed twice", s)
		}
		seen[s] = true
		if !scope.Known(s) {
			t.Errorf("Known(%q) = false; want true", s)
		}
	}
	if len(seen) != 20 {
		t.Errorf("len(All()) = %d; want 20", len(seen))
	}
	for _, s := range []string{"", "content", "content:*", "Content:read", " content:read"} {
		if scope.Known(s) {
			t.Errorf("Known(%q) = true; want false", s)
		}
	}
}
