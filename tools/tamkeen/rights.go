package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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
  tamkeen rights show [--id ID] [-o json]
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
	// Out is show's output format.
	Out outputFlag
}

// rightJSON is one right as `tamkeen rights show -o json` prints it.
type rightJSON struct {
	ClientID    string    `json:"client_id"`
	Right       string    `json:"right"`
	Templates   []string  `json:"templates,omitempty"`
	Departments []string  `json:"departments,omitempty"`
	Ministries  []string  `json:"ministries,omitempty"`
	GrantedAt   time.Time `json:"granted_at"`
}

// rightsHelp is the usage of `tamkeen rights`, with every service.
var rightsHelp = fmt.Sprintf(rightsUsage, strings.Join(gateway.Services(), ", "))

// rightsCommand is `tamkeen rights` (and `tamkeen clients grant|revoke|show`).
var rightsCommand = withFlags(subcommands{name: "rights", help: rightsHelp, missing: "needs grant, revoke or show"}, runRights)

// runRights manages clients' access rights at the gateway: sub is grant,
// revoke or show (`tamkeen rights grant …`, or `tamkeen clients grant …`,
// which clientsCommand hands over).
func runRights(ctx context.Context, sub string, cfg rightsConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	var p config.Problems
	asJSON, err := cfg.Out.json()
	if err != nil {
		return err
	}
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
		fmt.Fprint(stderr, rightsHelp)
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
		if asJSON {
			out := make([]rightJSON, 0, len(list))
			for _, r := range list {
				out = append(out, rightJSON{ClientID: r.ClientID, Right: r.Name(), Templates: r.Templates, Departments: r.Departments,
					Ministries: r.Ministries, GrantedAt: r.GrantedAt.UTC()})
			}
			return writeJSON(stdout, out)
		}
		rows := make([][]string, 0, len(list))
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
			rows = append(rows, []string{r.ClientID, r.Name(), strings.Join(narrow, " "), r.GrantedAt.UTC().Format("2006-01-02 15:04:05Z")})
		}
		if err := writeTable(stdout, []string{"CLIENT", "RIGHT", "NARROWED TO", "GRANTED"}, rows); err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "(no rights: with --enforce-rights the gateway refuses every call of such a client)")
		}
	}
	return nil
}
