package config

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseNamesTheFlagSet(t *testing.T) {
	t.Parallel()
	var cfg dbConfig
	var out bytes.Buffer
	if err := Parse(&cfg, "tamkeen test", []string{"--max-conns=7"}, envFunc(nil), &out); err != nil {
		t.Fatalf("Parse = %v; want nil", err)
	}
	if cfg.MaxConns != 7 {
		t.Errorf("MaxConns = %d; want 7", cfg.MaxConns)
	}
	err := Parse(&cfg, "tamkeen test", []string{"-help"}, envFunc(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Parse(-help) = %v; want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "Usage of tamkeen test:") || !strings.Contains(out.String(), "-max-conns") {
		t.Errorf("usage = %q; want the command's name and its flags", out.String())
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		code int
		out  string
	}{
		{"success", nil, 0, ""},
		{"help", flag.ErrHelp, 0, ""},
		{"configuration", &Error{Problems: []Problem{{Flag: "db-dsn", Message: "required"}}}, 2, "invalid configuration:\n  --db-dsn: required\n"},
		{"failure", errors.New("boom"), 1, "tool cmd: boom\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if code := ExitStatus(tc.err, &out, "tool cmd"); code != tc.code || out.String() != tc.out {
				t.Errorf("ExitStatus = %d, %q; want %d, %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
