package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

// migrateConfig is the command line of `tamkeen migrate`.
type migrateConfig struct {
	Service  string `flag:"service" required:"true" usage:"auth, notification, signature, payment or content"`
	DBEngine string `flag:"db-engine" default:"postgres" usage:"postgres or sqlite"`
	DBDSN    string `flag:"db-dsn" secret:"true" required:"true" usage:"the service's PostgreSQL URL or SQLite file"`
	Status   bool   `flag:"status" usage:"show which migrations are applied instead of applying them"`
}

// Validate reports what is wrong with the settings.
func (c migrateConfig) Validate() error {
	var p config.Problems
	if c.Service != "" {
		if _, err := findEnabler(c.Service); err != nil {
			p.Add("service", err.Error())
		}
	}
	checkEngine(&p, c.DBEngine)
	return p.Err()
}

// runMigrate applies a service's migrations (safe with replicas starting at
// the same time: the store serialises them), or prints their status. In
// Kubernetes it is each service's migration Job.
func runMigrate(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	var cfg migrateConfig
	flags := flag.NewFlagSet("tamkeen migrate", flag.ContinueOnError)
	flags.SetOutput(stderr)
	if err := config.Load(&cfg, flags, args, lookupEnv); err != nil {
		return err
	}
	e, err := findEnabler(cfg.Service)
	if err != nil {
		return err
	}
	sets, err := e.Migrations()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{Engine: store.Engine(cfg.DBEngine), DSN: cfg.DBDSN})
	if err != nil {
		return err
	}
	defer db.Close()
	if !cfg.Status {
		if err := db.Migrate(ctx, sets...); err != nil {
			return err
		}
	}
	states, err := db.MigrationStatus(ctx, sets...)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tVERSION\tNAME\tAPPLIED")
	for _, s := range states {
		applied := "pending"
		switch {
		case s.Unknown:
			applied = "unknown to this build (newer schema)"
		case s.Applied:
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%04d\t%s\t%s\n", s.Component, s.Version, s.Name, applied)
	}
	return tw.Flush()
}
