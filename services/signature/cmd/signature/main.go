// Command signature runs Tamkeen's signature enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: signature -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/signature"
)

func main() {
	host.Main(host.Spec[signature.Config]{
		Name:       signature.Name,
		Migrations: signature.Migrations,
		New: func(cfg signature.Config, env host.Env) (host.Service, error) {
			return signature.New(cfg, signature.Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger})
		},
	})
}
