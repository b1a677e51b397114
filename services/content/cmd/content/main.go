// Command content runs Tamkeen's content enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: content -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/content"
)

func main() {
	host.Main(host.Spec[content.Config]{
		Name:       content.Name,
		Migrations: content.Migrations,
		New: func(cfg content.Config, env host.Env) (host.Service, error) {
			return content.New(cfg, content.Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger})
		},
	})
}
