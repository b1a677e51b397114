package distributed

import (
	"context"
	"errors"
	"flag"
	"io"
	"testing"

	"github.com/tamkeen/tamkeen/libs/config"
)

// TestRunCommand: the commands' prologue hands run the settings from the
// flags and the environment and the repository root, and runs nothing for
// a bad command line or -help.
func TestRunCommand(t *testing.T) {
	type settings struct {
		Name string `flag:"name" required:"true" usage:"a name"`
		Size int    `flag:"size" default:"3" usage:"a size"`
	}
	env := func(k string) (string, bool) {
		if k == "TAMKEEN_SIZE" {
			return "7", true
		}
		return "", false
	}
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantRun bool
		wantErr func(error) bool
	}{
		{"runs", []string{"--name", "x"}, true, func(err error) bool { return err == nil }},
		{"missing flag", nil, false, func(err error) bool { return errors.As(err, new(*config.Error)) }},
		{"help", []string{"-help"}, false, func(err error) bool { return errors.Is(err, flag.ErrHelp) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *settings
			var gotRoot string
			err := runCommand(context.Background(), "cmd", tc.args, env, "cmd", func(_ context.Context, s settings, root string, _, _ io.Writer) error {
				got, gotRoot = &s, root
				return nil
			}, io.Discard, io.Discard)
			if !tc.wantErr(err) {
				t.Errorf("runCommand(%q) = %v", tc.args, err)
			}
			if ran := got != nil; ran != tc.wantRun {
				t.Fatalf("runCommand(%q) ran: %v; want %v", tc.args, ran, tc.wantRun)
			}
			if got != nil && (got.Name != "x" || got.Size != 7 || gotRoot != root) {
				t.Errorf("run got %+v in %s; want {Name:x Size:7} in %s", *got, gotRoot, root)
			}
		})
	}
}
