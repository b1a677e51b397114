package sandbox

import (
	"reflect"
	"strings"
	"testing"
)

// TestTextsComplete: templates/texts.json gives Arabic and English every
// text of the page, and the 3-D Secure help names the code the sandbox
// accepts in both.
func TestTextsComplete(t *testing.T) {
	if len(messages) != 2 {
		t.Fatalf("languages: %d, want ar and en", len(messages))
	}
	for _, lang := range []string{"ar", "en"} {
		v := reflect.ValueOf(messages[lang])
		for i := range v.NumField() {
			if strings.TrimSpace(v.Field(i).String()) == "" {
				t.Errorf("%s: %s is empty", lang, v.Type().Field(i).Name)
			}
		}
		if !strings.Contains(messages[lang].ThreeDSHelp, ThreeDSCode) {
			t.Errorf("%s: ThreeDSHelp %q does not name %s", lang, messages[lang].ThreeDSHelp, ThreeDSCode)
		}
	}
}
