package i18n

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"ok.json":    {Data: []byte(`{"ar": {"hi": "مرحبا"}, "en": {"hi": "Hello"}}`)},
		"bad.json":   {Data: []byte(`{"ar": `)},
		"empty.json": {Data: []byte(`{}`)},
	}
	got := Load[map[string]string](fsys, "ok.json")
	if got["ar"]["hi"] != "مرحبا" || got["en"]["hi"] != "Hello" {
		t.Fatalf("Load = %v", got)
	}
	for name, want := range map[string]string{"bad.json": "bad.json", "empty.json": "no language", "absent.json": "absent.json"} {
		if _, err := load[map[string]string](fsys, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("load(%s) = %v; want an error naming %q", name, err, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Load of a broken file did not panic")
		}
	}()
	Load[map[string]string](fsys, "bad.json")
}
