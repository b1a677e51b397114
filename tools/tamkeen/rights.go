package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

// openGatewayDB opens the gateway's database (access rights, audit log,
// usage) that c names and applies the gateway's migrations.
func openGatewayDB(ctx context.Context, c serviceDB) (*store.DB, error) {
	set, err := gateway.Migrations()
	if err != nil {
		return nil, err
	}
	return c.open(ctx, gateway.Component, set)
}

const rightsUsage = `Usage:
  tamkeen rights grant --id ID --right RIGHT [--templates t1,t2] [--departments d1] [--ministries m1]
  tamkeen rights revoke --id ID --right RIGHT
  tamkeen rights show [--id ID]
RIGHT is service/operation (payment/CreatePayment), service/* or *; services: %s.
A right narrowed to templates, departments or ministries admits only requests
that name listed ones (where the request names one). Every gateway replica
applies a change within seconds. Each takes --data-dir DIR (a tamkeen dev data
dir) or --db-dsn URL [--db-engine].
`

// rightsConfig is the command line of the rights subcommands.
type rightsConfig struct {
	DB          serviceDB
	ID          string   `flag:"id" usage:"the client id (OAuth 2.0 client_id)"`
	Right       string   `flag:"right" usage:"service/operation, service/* or *"`
	Templates   []string `flag:"templates" usage:"narrow the right to these notification template ids"`
	Departments []string `flag:"departments" usage:"narrow the right to these payment departments (split account dept:<id>)"`
	Ministries  []string `flag:"ministries" usage:"narrow the right to these content ministries"`
}

// runRights manages clients' access rights at the gateway: args are
// "grant|revoke|show" and their flags (`tamkeen rights grant …`; `tamkeen clients grant …` once clients.go delegates to it).
func runRights(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, rightsUsage, strings.Join(gateway.Services(), ", "))
		return &config.Error{Problems: []config.Problem{{Message: "needs grant, revoke or show"}}}
	}
	sub := args[0]
	var cfg rightsConfig
	flags := flag.NewFlagSet("tamkeen rights "+sub, flag.ContinueOnError)
	flags.SetOutput(stderr)
	if err := config.Load(&cfg, flags, args[1:], lookupEnv); err != nil {
		return err
	}
	var p config.Problems
	switch sub {
	case "grant", "revoke":
		if cfg.ID == "" {
			p.Add("id", "required")
		}
		if cfg.Right == "" {
			p.Add("right", "required")
		} else if _, _, err := gateway.ParseRight(cfg.Right); err != nil {
			p.Add("right", err.Error())
		}
	case "show":
	default:
		fmt.Fprintf(stderr, rightsUsage, strings.Join(gateway.Services(), ", "))
		p.Addf("", "unknown subcommand %q", sub)
	}
	if err := p.Err(); err != nil {
		return err
	}
	db, err := openGatewayDB(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	rights := gateway.NewRights(db, nil)
	switch sub {
	case "grant":
		svc, op, _ := gateway.ParseRight(cfg.Right)
		r := gateway.Right{ClientID: cfg.ID, Service: svc, Operation: op, Templates: cfg.Templates, Departments: cfg.Departments, Ministries: cfg.Ministries}
		if err := rights.Grant(ctx, r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "granted %s to %s; every gateway applies it within seconds\n", r, cfg.ID)
	case "revoke":
		ok, err := rights.Revoke(ctx, cfg.ID, cfg.Right)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("client %s has no right %s", cfg.ID, cfg.Right)
		}
		fmt.Fprintf(stdout, "revoked %s from %s; every gateway applies it within seconds\n", cfg.Right, cfg.ID)
	case "show":
		list, err := rights.List(ctx, cfg.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT\tRIGHT\tNARROWED TO\tGRANTED")
		for _, r := range list {
			var narrow []string
			for _, n := range []struct {
				k string
				v []string
			}{{"templates", r.Templates}, {"departments", r.Departments}, {"ministries", r.Ministries}} {
				if len(n.v) > 0 {
					narrow = append(narrow, n.k+"="+strings.Join(n.v, ","))
				}
			}
			if len(narrow) == 0 {
				narrow = []string{"-"}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ClientID, r.Name(), strings.Join(narrow, " "), r.GrantedAt.UTC().Format("2006-01-02 15:04:05Z"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "(no rights: with --enforce-rights the gateway refuses every call of such a client)")
		}
	}
	return nil
}
