package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/store"
)

// migrateConfig is the command line of `tamkeen migrate`.
type migrateConfig struct {
	Service string `flag:"service" required:"true" usage:"auth, notification, signature, payment, content or gateway (its rights, audit log and usage)"`
	store.Flags
	Status bool `flag:"status" usage:"show which migrations are applied instead of applying them"`
	outputFlag
}

// migrationJSON is one migration as `tamkeen migrate -o json` prints it.
type migrationJSON struct {
	Component string `json:"component"`
	Version   int    `json:"version"`
	Name      string `json:"name"`
	// State is applied, pending or unknown (applied by a newer build).
	State     string     `json:"state"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

// Validate reports what is wrong with the settings.
func (c migrateConfig) Validate() error {
	var p config.Problems
	if c.Service != "" {
		if _, err := migrationSets(c.Service); err != nil {
			p.Add("service", err.Error())
		}
	}
	c.Flags.Check(&p)
	return p.Err()
}

// migrationSets are the schema of a service's database: an enabler's, or
// the gateway's (its migration Job in Kubernetes, as the enablers have).
func migrationSets(name string) ([]store.MigrationSet, error) {
	if name == gateway.Component {
		set, err := gateway.Migrations()
		return []store.MigrationSet{set}, err
	}
	e, err := findEnabler(name)
	if err != nil {
		return nil, err
	}
	return e.Migrations()
}

// runMigrate is `tamkeen migrate`.
var runMigrate = withConfig("tamkeen migrate", migrate)

// migrate applies a service's migrations (safe with replicas starting at
// the same time: the store serialises them), or prints their status. In
// Kubernetes it is each service's migration Job.
func migrate(ctx context.Context, cfg migrateConfig, stdout io.Writer) error {
	sets, err := migrationSets(cfg.Service)
	if err != nil {
		return err
	}
	var apply []store.MigrationSet
	if !cfg.Status {
		apply = sets
	}
	db, err := cfg.Open(ctx, apply...)
	if err != nil {
		return err
	}
	defer db.Close()
	states, err := db.MigrationStatus(ctx, sets...)
	if err != nil {
		return err
	}
	return migrationListing.print(stdout, cfg.asJSON(), states)
}

// migrationListing is how `tamkeen migrate` prints the migrations' states.
var migrationListing = listing[store.MigrationState]{
	header: []string{"COMPONENT", "VERSION", "NAME", "APPLIED"},
	row: func(s store.MigrationState) []string {
		applied := "pending"
		switch {
		case s.Unknown:
			applied = "unknown to this build (newer schema)"
		case s.Applied:
			applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
		}
		return []string{s.Component, fmt.Sprintf("%04d", s.Version), s.Name, applied}
	},
	json: func(s store.MigrationState) any {
		m := migrationJSON{Component: s.Component, Version: s.Version, Name: s.Name, State: "pending"}
		switch {
		case s.Unknown:
			m.State = "unknown"
		case s.Applied:
			m.State = "applied"
		}
		if s.Applied || s.Unknown {
			at := s.AppliedAt.UTC()
			m.AppliedAt = &at
		}
		return m
	},
}
