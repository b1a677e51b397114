package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/gateway/problems"
)

// TestOpenAPIListsErrorCodes: the served document lists, as
// x-error-codes, each enabler's violation codes on its tag, every one of
// them on the FieldError schema's code, and every problem code of the
// catalogue on the Problem schema's code, so that a client generator or
// a reader finds the codes without docs/errors.md.
func TestOpenAPIListsErrorCodes(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOpts{noNATS: true})
	type code struct {
		Codes []string `json:"x-error-codes"`
	}
	var doc struct {
		Tags []struct {
			Name  string
			Codes []string `json:"x-error-codes"`
		}
		Components struct {
			Schemas struct {
				Problem    struct{ Properties struct{ Code code } }
				FieldError struct{ Properties struct{ Code code } }
			}
		}
	}
	if err := json.Unmarshal(s.gw.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	tagged := map[string][]string{}
	for _, tag := range doc.Tags {
		if name, ok := strings.CutSuffix(tag.Name, "Service"); ok {
			tagged[strings.ToLower(name)] = tag.Codes
		}
	}
	fieldCodes := doc.Components.Schemas.FieldError.Properties.Code.Codes
	for _, e := range problems.Enablers {
		if !slices.Equal(tagged[e.Name], e.Codes) {
			t.Errorf("tag of %s: x-error-codes = %v; want the registry's %v", e.Name, tagged[e.Name], e.Codes)
		}
		for _, c := range e.Codes {
			if !slices.Contains(fieldCodes, c) {
				t.Errorf("FieldError.code x-error-codes lacks %s's %q", e.Name, c)
			}
		}
	}
	for _, c := range []string{"body.format", "*.unknown_field"} {
		if !slices.Contains(fieldCodes, c) {
			t.Errorf("FieldError.code x-error-codes lacks the gateway's own %q", c)
		}
	}
	problemCodes := doc.Components.Schemas.Problem.Properties.Code.Codes
	for _, c := range problems.Codes() {
		if !strings.ContainsAny(c, ".*") && !slices.Contains(problemCodes, c) {
			t.Errorf("Problem.code x-error-codes lacks %q", c)
		}
	}
	if len(problemCodes) < 30 {
		t.Errorf("Problem.code x-error-codes = %v; want the catalogue's problem codes", problemCodes)
	}
}
