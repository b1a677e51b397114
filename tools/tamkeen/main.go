// Command tamkeen is the platform's one tool: `tamkeen dev` runs every
// enabler and the gateway in one process, `tamkeen migrate` applies a
// service's database migrations in production, and the admin commands of
// later issues (clients, pki, audit, usage, ledger) join them here.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tamkeen/tamkeen/libs/config"
)

const usage = `tamkeen — the Tamkeen platform tool

Usage:
  tamkeen dev [flags]       run every enabler and the gateway in one process
  tamkeen migrate [flags]   apply (or --status: show) a service's migrations
  tamkeen pki init [flags]  create the signature enabler's CA, TSA and OCSP certificates
  tamkeen ledger check [flags]  prove the payment ledger's invariants
  tamkeen clients …         create, list, rotate-secret, disable ministry apps;
                            grant, revoke, show their access rights
  tamkeen keys rotate       add a new token signing key
  tamkeen identity-key public  print the identity key's public half (auth's
                            identity-recipient-key)
  tamkeen rights grant|revoke|show  clients' access rights at the gateway
  tamkeen audit verify|export       check or export the gateway's audit log
  tamkeen usage report --month M    usage per client, CSV and invoices
  tamkeen help              this text

Run "tamkeen <command> -help" for a command's flags. Every flag can also be
set as a TAMKEEN_… environment variable, named in the help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a command line and returns the exit status: 0 for
// success (and a clean shutdown), 2 for a usage or configuration error, 1
// for any other failure.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], lookupEnv, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], lookupEnv, stdout, stderr)
	case "pki":
		err = runPKI(ctx, args[1:], lookupEnv, stdout, stderr)
	case "ledger":
		err = runLedger(ctx, args[1:], lookupEnv, stdout, stderr)
	case "clients":
		err = runClients(ctx, args[1:], lookupEnv, stdout, stderr)
	case "keys":
		err = runKeys(ctx, args[1:], lookupEnv, stdout, stderr)
	case "identity-key":
		err = runIdentityKey(ctx, args[1:], lookupEnv, stdout, stderr)
	case "rights":
		err = runRights(ctx, args[1:], lookupEnv, stdout, stderr)
	case "audit":
		err = runAudit(ctx, args[1:], lookupEnv, stdout, stderr)
	case "usage":
		err = runUsage(ctx, args[1:], lookupEnv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tamkeen: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var cerr *config.Error
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &cerr):
		fmt.Fprintln(stderr, err)
		return 2
	default:
		fmt.Fprintf(stderr, "tamkeen %s: %v\n", args[0], err)
		return 1
	}
}
