// Command payment runs Tamkeen's payment enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: payment -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/payment"
)

func main() {
	host.Main(host.Spec[payment.Config]{
		Name:       payment.Name,
		Migrations: payment.Migrations,
		New: func(cfg payment.Config, env host.Env) (host.Service, error) {
			return payment.New(cfg, payment.Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger})
		},
	})
}
