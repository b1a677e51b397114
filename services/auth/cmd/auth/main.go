// Command auth runs Tamkeen's auth enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: auth -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/auth"
)

func main() {
	host.Main(host.Spec[auth.Config]{
		Name:       auth.Name,
		Migrations: auth.Migrations,
		New: func(cfg auth.Config, env host.Env) (host.Service, error) {
			return auth.New(cfg, auth.Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger})
		},
	})
}
