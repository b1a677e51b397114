package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

// gatewayDBConfig says which gateway database (access rights, audit log,
// usage) a command works on: a production PostgreSQL (--db-dsn) or the
// gateway.db of a `tamkeen dev` data dir.
type gatewayDBConfig struct {
	DataDir  string `flag:"data-dir" usage:"a tamkeen dev data dir (uses its gateway.db); instead of --db-dsn"`
	DBEngine string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite (with --db-dsn)"`
	DBDSN    string `flag:"db-dsn" secret:"true" usage:"the gateway's database URL or SQLite file"`
}

// Validate reports what is wrong with the settings.
func (c gatewayDBConfig) Validate() error {
	var p config.Problems
	if (c.DataDir == "") == (c.DBDSN == "") {
		p.Add("", "give either --data-dir or --db-dsn")
	}
	if c.DBEngine != string(store.Postgres) && c.DBEngine != string(store.SQLite) {
		p.Addf("db-engine", "%q is not postgres or sqlite", c.DBEngine)
	}
	return p.Err()
}

// gatewayDBFile is the gateway's database in a dev data dir.
func gatewayDBFile(dataDir string) string { return filepath.Join(dataDir, gateway.Component+".db") }

// openGatewayDB opens the database c names and applies the gateway's
// migrations.
func openGatewayDB(ctx context.Context, c gatewayDBConfig) (*store.DB, error) {
	engine, dsn := store.Engine(c.DBEngine), c.DBDSN
	if c.DataDir != "" {
		engine, dsn = store.SQLite, gatewayDBFile(c.DataDir)
	}
	db, err := store.Open(ctx, store.Options{Engine: engine, DSN: dsn})
	if err != nil {
		return nil, err
	}
	set, err := gateway.Migrations()
	if err == nil {
		err = db.Migrate(ctx, set)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("gateway database: %w", err)
	}
	return db, nil
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
	DB          gatewayDBConfig
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
