package host

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/store"
)

// depsPointer is a pointer to an enabler's Deps, a struct that embeds Kit:
// the unexported setKit it gets from the embedded Kit is how Enabler puts
// the host's kit into a Deps it knows nothing else about.
type depsPointer[D any] interface {
	*D
	setKit(Kit)
}

// setKit replaces the kit; Deps types get it by embedding Kit.
func (k *Kit) setKit(kit Kit) { *k = kit }

// Enabler is the Spec of an enabler whose Deps is its kit and nothing the
// host must provide besides (its extras stay nil and take their
// defaults): the same four facts in every services/<name>/hosting.go, so
// each is one call. newService is the enabler's New.
func Enabler[C, D any, PD depsPointer[D], S Service](name string, migrations func() ([]store.MigrationSet, error), stream func(C) events.StreamConfig, newService func(C, D) (S, error)) Spec[C] {
	return Spec[C]{
		Name:       name,
		Migrations: migrations,
		Stream:     stream,
		New: func(cfg C, kit Kit) (Service, error) {
			var deps D
			PD(&deps).setKit(kit)
			svc, err := newService(cfg, deps)
			if err != nil {
				return nil, err // not svc: a nil *Service in the interface is not nil
			}
			return svc, nil
		},
	}
}

// Migrations returns an enabler's Migrations: its own schema (the *.sql
// files in dir of fsys, the package's embedded migrations), then the
// libraries' sets, then the outbox's, which every enabler has.
func Migrations(name string, fsys fs.FS, dir string, libraries ...store.MigrationSet) func() ([]store.MigrationSet, error) {
	return func() ([]store.MigrationSet, error) {
		return store.ComponentMigrations(name, fsys, dir, append(libraries[:len(libraries):len(libraries)], events.Migrations)...)
	}
}

// CheckNew is what an enabler's New checks before it builds anything: that
// cfg is valid and that the kit has a database and an event bus. Its
// errors start with the enabler's name.
func CheckNew(name string, cfg interface{ Validate() error }, k Kit) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if k.DB == nil || k.Bus == nil {
		return errors.New(name + ": Deps.DB and Deps.Bus are required")
	}
	return nil
}

// CheckStreamReplicas records a problem with the stream-replicas setting
// every enabler has (its event stream's JetStream replicas) when n is not
// a replica count JetStream accepts.
func CheckStreamReplicas(p *config.Problems, n int) {
	p.Range("stream-replicas", n, 1, 5)
}
