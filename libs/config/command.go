package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse is Load for a command line: it loads cfg from args, parsed by a
// FlagSet named name (the command as the user types it, shown in its
// usage) that prints its usage and syntax errors to out, and from the
// environment through lookupEnv. Every command of the platform's tools
// parses its flags this way, so that -help and bad flags behave alike.
func Parse(cfg any, name string, args []string, lookupEnv func(string) (string, bool), out io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	return Load(cfg, fs, args, lookupEnv)
}

// ExitStatus reports how a command ended and returns its exit status: 0
// for nil and for a help request (flag.ErrHelp), 2 for a configuration
// error (*Error, written to stderr as it is), 1 for any other error
// (written to stderr after "prefix: ").
func ExitStatus(err error, stderr io.Writer, prefix string) int {
	var cerr *Error
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &cerr):
		fmt.Fprintln(stderr, err)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
		return 1
	}
}
