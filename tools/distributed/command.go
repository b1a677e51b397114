package distributed

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tamkeen/tamkeen/libs/config"
)

// Main is the main function of the commands that run this package
// (cmd/run-distributed, cmd/dr-drill): it loads an S from the command line
// and TAMKEEN_… variables, finds the repository root from the working
// directory, runs run with them until SIGINT or SIGTERM and exits as
// config.ExitStatus says (an error after "name: ").
func Main[S any](name string, run func(ctx context.Context, s S, root string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runCommand(ctx, name, os.Args[1:], os.LookupEnv, ".", run, os.Stdout, os.Stderr)
	stop()
	if code := config.ExitStatus(err, os.Stderr, name); code != 0 {
		os.Exit(code)
	}
}

// runCommand is Main without the process: dir is where the search for the
// repository root starts.
func runCommand[S any](ctx context.Context, name string, args []string, lookupEnv func(string) (string, bool), dir string,
	run func(ctx context.Context, s S, root string, stdout, stderr io.Writer) error, stdout, stderr io.Writer) error {
	var s S
	if err := config.Parse(&s, name, args, lookupEnv, stderr); err != nil {
		return err
	}
	root, err := FindRepoRoot(dir)
	if err != nil {
		return err
	}
	return run(ctx, s, root, stdout, stderr)
}
