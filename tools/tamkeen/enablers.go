package main

import (
	"fmt"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/services/content"
	"github.com/tamkeen/tamkeen/services/notification"
	"github.com/tamkeen/tamkeen/services/payment"
	"github.com/tamkeen/tamkeen/services/signature"
)

// enabler is one of the five services as the tool composes it: the same
// Spec (constructor and migrations) the per-service binaries run.
type enabler struct {
	name       string
	migrations func() ([]store.MigrationSet, error)
	// build loads the service's own Config from its defaults and the
	// environment (dev has no per-service flags) and builds the service.
	build func(lookupEnv func(string) (string, bool), env host.Env) (host.Service, error)
}

func enablerOf[C any](spec host.Spec[C]) enabler {
	return enabler{
		name:       spec.Name,
		migrations: spec.Migrations,
		build: func(lookupEnv func(string) (string, bool), env host.Env) (host.Service, error) {
			var cfg C
			if err := config.Load(&cfg, nil, nil, lookupEnv); err != nil {
				return nil, fmt.Errorf("%s: %w", spec.Name, err)
			}
			return spec.New(cfg, env)
		},
	}
}

// enablers lists the five services in start-up order.
func enablers() []enabler {
	return []enabler{
		enablerOf(auth.Spec()),
		enablerOf(notification.Spec()),
		enablerOf(signature.Spec()),
		enablerOf(payment.Spec()),
		enablerOf(content.Spec()),
	}
}

// findEnabler returns the enabler called name.
func findEnabler(name string) (enabler, error) {
	for _, e := range enablers() {
		if e.name == name {
			return e, nil
		}
	}
	return enabler{}, fmt.Errorf("unknown service %q (want auth, notification, signature, payment or content)", name)
}
