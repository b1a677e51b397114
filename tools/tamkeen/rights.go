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
	// gatewayFlags: the gateway's database, and show's output format.
	gatewayFlags
	ID          string   `flag:"id" usage:"the client id (OAuth 2.0 client_id)"`
	Right       string   `flag:"right" usage:"service/operation, service/* or *"`
	Templates   []string `flag:"templates" usage:"narrow the right to these notification template ids"`
	Departments []string `flag:"departments" usage:"narrow the right to these payment departments (split account dept:<id>)"`
	Ministries  []string `flag:"ministries" usage:"narrow the right to these content ministries"`
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

// rightsCommand is `tamkeen rights` (and `tamkeen clients grant|revoke|show`,
// which clientsCommand hands over).
var rightsCommand = withFlags(subcommands{name: "rights", help: rightsHelp, missing: "needs grant, revoke or show"}, rightsAdmin.run)

// rightsAdmin manages clients' access rights at the gateway.
var rightsAdmin = gatewayAdmin[rightsConfig]{
	help: rightsHelp,
	ops: map[string]gatewayOp[rightsConfig]{
		"grant":  {check: checkRight, run: grantRight},
		"revoke": {check: checkRight, run: revokeRight},
		"show":   {run: showRights},
	},
}

// checkRight checks the flags of grant and revoke.
func checkRight(cfg rightsConfig, p *config.Problems) {
	if cfg.ID == "" {
		p.Add("id", "required")
	}
	if cfg.Right == "" {
		p.Add("right", "required")
	} else if _, _, err := gateway.ParseRight(cfg.Right); err != nil {
		p.Add("right", err.Error())
	}
}

func grantRight(ctx context.Context, db *store.DB, cfg rightsConfig, stdout io.Writer) error {
	svc, op, _ := gateway.ParseRight(cfg.Right)
	r := gateway.Right{ClientID: cfg.ID, Service: svc, Operation: op, Templates: cfg.Templates, Departments: cfg.Departments, Ministries: cfg.Ministries}
	if err := gateway.NewRights(db, nil).Grant(ctx, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "granted %s to %s; every gateway applies it within seconds\n", r, cfg.ID)
	return nil
}

func revokeRight(ctx context.Context, db *store.DB, cfg rightsConfig, stdout io.Writer) error {
	ok, err := gateway.NewRights(db, nil).Revoke(ctx, cfg.ID, cfg.Right)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("client %s has no right %s", cfg.ID, cfg.Right)
	}
	fmt.Fprintf(stdout, "revoked %s from %s; every gateway applies it within seconds\n", cfg.Right, cfg.ID)
	return nil
}

func showRights(ctx context.Context, db *store.DB, cfg rightsConfig, stdout io.Writer) error {
	list, err := gateway.NewRights(db, nil).List(ctx, cfg.ID)
	if err != nil {
		return err
	}
	return rightsListing.print(stdout, cfg.asJSON(), list)
}

// rightsListing is how `tamkeen rights show` prints rights.
var rightsListing = listing[gateway.Right]{
	header: []string{"CLIENT", "RIGHT", "NARROWED TO", "GRANTED"},
	row: func(r gateway.Right) []string {
		narrow := r.Narrowing()
		if len(narrow) == 0 {
			narrow = []string{"-"}
		}
		return []string{r.ClientID, r.Name(), strings.Join(narrow, " "), r.GrantedAt.UTC().Format("2006-01-02 15:04:05Z")}
	},
	json: func(r gateway.Right) any {
		return rightJSON{ClientID: r.ClientID, Right: r.Name(), Templates: r.Templates, Departments: r.Departments,
			Ministries: r.Ministries, GrantedAt: r.GrantedAt.UTC()}
	},
	empty: "(no rights: with --enforce-rights the gateway refuses every call of such a client)",
}

// gatewayFlags are the flags of every command that works on the gateway's
// database: the database, and -o.
type gatewayFlags struct {
	DB serviceDB
	outputFlag
}

// gatewayDB is the database the flags name.
func (f gatewayFlags) gatewayDB() serviceDB { return f.DB }

// gatewayOp is one subcommand of a command that works on the gateway's
// database.
type gatewayOp[C any] struct {
	// check adds the problems of the subcommand's flags; nil: it has none
	// to check.
	check func(cfg C, p *config.Problems)
	run   func(ctx context.Context, db *store.DB, cfg C, stdout io.Writer) error
}

// gatewayAdmin is a command whose subcommands work on the gateway's
// database (rights, xroad); its config C embeds gatewayFlags.
type gatewayAdmin[C interface{ gatewayDB() serviceDB }] struct {
	// help is the command's usage, printed for an unknown subcommand.
	help string
	ops  map[string]gatewayOp[C]
}

// run checks the subcommand's flags, opens the gateway's database and runs
// the subcommand on it.
func (a gatewayAdmin[C]) run(ctx context.Context, sub string, cfg C, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	op, ok := a.ops[sub]
	var p config.Problems
	switch {
	case !ok:
		fmt.Fprint(stderr, a.help)
		p.Addf("", "unknown subcommand %q", sub)
	case op.check != nil:
		op.check(cfg, &p)
	}
	if err := p.Err(); err != nil {
		return err
	}
	db, err := openGatewayDB(ctx, cfg.gatewayDB())
	if err != nil {
		return err
	}
	defer db.Close()
	return op.run(ctx, db, cfg, stdout)
}
