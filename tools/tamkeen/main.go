// Command tamkeen is the platform's one tool: `tamkeen dev` runs every
// enabler and the gateway in one process, `tamkeen migrate` applies a
// service's database migrations in production, and the admin commands of
// later issues (clients, pki, audit, usage, ledger) join them here.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/tamkeen/tamkeen/libs/config"
)

const usage = `tamkeen — the Tamkeen platform tool

Usage:
  tamkeen dev [flags]       run every enabler and the gateway in one process; it
                            takes cmd/gateway's flags, with rights, audit and
                            metering on and read=100/200,write=50/100,public=50/100
                            rate limits unless they say otherwise (--rate-limits=
                            lifts the limits)
  tamkeen migrate [flags]   apply (or --status: show) a service's migrations
  tamkeen pki init [flags]  create the signature enabler's CA, TSA and OCSP certificates
  tamkeen ledger check [flags]  prove the payment ledger's invariants
  tamkeen clients …         create, update, list, rotate-secret, disable ministry apps;
                            grant, revoke, show their access rights
  tamkeen keys rotate       add a new token signing key
  tamkeen identity-key public  print the identity key's public half (auth's
                            identity-recipient-key)
  tamkeen rights grant|revoke|show  clients' access rights at the gateway
  tamkeen xroad map|unmap|list      X-Road members' Tamkeen clients at the gateway
  tamkeen audit verify|export       check or export the gateway's audit log
  tamkeen usage report --month M    usage per client, CSV and invoices
  tamkeen webhooks list|create|delete --client ID  a ministry client's webhook
                            endpoints, through the API
  tamkeen load <scenario> [flags]   drive the API (token, login, read, payment, sms,
                            bulk, public-read, search, mixed, ref-…): rate, p50/p90/p99
  tamkeen version [-o json]         the build: module version and VCS revision
  tamkeen completion bash|zsh       a shell completion script
  tamkeen help              this text

Listing commands (clients list, clients show, rights show, usage report,
webhooks list, migrate) and load print JSON with -o json.

Run "tamkeen <command> -help" for a command's flags. Every flag can also be
set as a TAMKEEN_… environment variable, named in the help.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one `tamkeen <name>` command; args are what follows its name.
// Its error decides the exit status (config.ExitStatus): a *config.Error
// is a usage or configuration error.
type command func(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error

// commands are the tool's commands by name, as the usage text lists them:
// for each, how its command line reads and what runs it with its flags.
var commands = map[string]command{
	"dev":     runDev,
	"migrate": runMigrate,
	"pki": withFlags(knownSubcommands("pki", "usage: tamkeen pki init [flags]   (tamkeen pki init -help lists them)\n",
		"unknown or missing pki subcommand (want init)"), runPKI),
	// The usage is the error itself: nothing else is printed.
	"ledger": withFlags(knownSubcommands("ledger", "",
		"usage: tamkeen ledger check --data-dir=.data | --db-engine=postgres|sqlite --db-dsn=…"), runLedger),
	"clients": clientsCommand,
	"keys": withFlags(knownSubcommands("keys", "Usage: tamkeen keys rotate (--data-dir DIR | --db-dsn URL [--db-engine])\n",
		"tamkeen keys needs the subcommand rotate"), runKeys),
	"identity-key": withFlags(knownSubcommands("identity-key", identityKeyUsage, "tamkeen identity-key needs the subcommand public"), runIdentityKey),
	"rights":       rightsCommand,
	"xroad":        xroadCommand,
	"audit":        withFlags(knownSubcommands("audit", auditUsage, "tamkeen audit needs verify or export"), runAudit),
	"usage":        withFlags(knownSubcommands("usage", usageUsage, "tamkeen usage needs report"), runUsage),
	"webhooks":     withFlags(knownSubcommands("webhooks", webhooksUsage, "tamkeen webhooks needs list, create or delete"), runWebhooks),
	"version":      withConfig("tamkeen version", runVersion),
	"load":         runLoad,
	// completion is dispatched by run: its script is built from this
	// table.
}

// subcommandWords are the words that may follow each command, for the
// commands that dispatch on one (and for shell completion, which offers
// them: completion.go).
var subcommandWords = map[string][]string{
	"pki":          {"init"},
	"ledger":       {"check"},
	"clients":      {"create", "update", "set-organization", "list", "rotate-secret", "disable", "grant", "revoke", "show"},
	"keys":         {"rotate"},
	"identity-key": {"public"},
	"rights":       {"grant", "revoke", "show"},
	"xroad":        {"map", "unmap", "list"},
	"audit":        {"verify", "export"},
	"usage":        {"report"},
	"webhooks":     {"list", "create", "delete"},
	"completion":   {"bash", "zsh"},
	"load":         loadScenarioNames(),
}

// run dispatches a command line and returns the exit status: 0 for
// success (and a clean shutdown), 2 for a usage or configuration error, 1
// for any other failure.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "completion":
		return config.ExitStatus(runCompletion(args[1:], stdout, stderr), stderr, "tamkeen completion")
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tamkeen: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return config.ExitStatus(cmd(ctx, args[1:], lookupEnv, stdout, stderr), stderr, "tamkeen "+args[0])
}

// subcommands describe a command whose first word says what it does
// (`tamkeen <name> <sub> [flags]`), and what it answers without one.
type subcommands struct {
	// name is the command's name after "tamkeen".
	name string
	// known are its subcommands; nil: any word (the command refuses an
	// unknown one itself, once its flags are read).
	known []string
	// help is printed to stderr when the subcommand is missing or unknown.
	help string
	// missing is the configuration error returned then.
	missing string
}

// parse returns the subcommand args start with, and loads cfg from the
// flags after it and the environment.
func (s subcommands) parse(cfg any, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) (string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || (s.known != nil && !slices.Contains(s.known, args[0])) {
		return "", usageError(stderr, s.help, s.missing)
	}
	return args[0], parseFlags(cfg, "tamkeen "+s.name+" "+args[0], args[1:], lookupEnv, stderr)
}

// knownSubcommands describes the command called name, whose subcommands
// are the ones subcommandWords lists for it.
func knownSubcommands(name, help, missing string) subcommands {
	return subcommands{name: name, known: subcommandWords[name], help: help, missing: missing}
}

// withFlags is the command that reads its command line as s says, loads
// a C from the flags and the environment, and runs h with them; h gets the
// subcommand and lookupEnv (for the enablers' own settings).
func withFlags[C any](s subcommands, h func(ctx context.Context, sub string, cfg C, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error) command {
	return func(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
		var cfg C
		sub, err := s.parse(&cfg, args, lookupEnv, stderr)
		if err != nil {
			return err
		}
		return h(ctx, sub, cfg, lookupEnv, stdout, stderr)
	}
}

// withConfig is a command without subcommands (name is its command line's
// name, "tamkeen version") that loads a C from the flags and the
// environment and runs h with it.
func withConfig[C any](name string, h func(ctx context.Context, cfg C, stdout io.Writer) error) command {
	return func(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
		var cfg C
		if err := parseFlags(&cfg, name, args, lookupEnv, stderr); err != nil {
			return err
		}
		return h(ctx, cfg, stdout)
	}
}

// configProblem is the configuration error of one setting (flag, without
// dashes) or, with flag "", of the command line as a whole: it makes the
// command exit 2.
func configProblem(flag, msg string) error {
	return &config.Error{Problems: []config.Problem{{Flag: flag, Message: msg}}}
}

// usageError prints a command's usage text to stderr and returns the
// configuration error msg: what every command does when its subcommand is
// missing or unknown.
func usageError(stderr io.Writer, usageText, msg string) error {
	fmt.Fprint(stderr, usageText)
	return configProblem("", msg)
}
