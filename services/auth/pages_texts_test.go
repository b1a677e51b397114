package auth

import (
	"sort"
	"strings"
	"testing"
)

// TestPageTextsComplete: pages/texts.json has Arabic and English, each with
// the same keys and no empty text, so no page ever shows a missing word.
func TestPageTextsComplete(t *testing.T) {
	keys := func(lang string) []string {
		var ks []string
		for k, v := range pageTexts[lang] {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return ks
	}
	ar, en := keys("ar"), keys("en")
	if len(pageTexts) != 2 || len(ar) == 0 || strings.Join(ar, ",") != strings.Join(en, ",") {
		t.Fatalf("languages %d; ar keys %v; en keys %v", len(pageTexts), ar, en)
	}
}
