// Command notification runs Tamkeen's notification enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: notification -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/notification"
)

func main() {
	host.Main(host.Spec[notification.Config]{
		Name:       notification.Name,
		Migrations: notification.Migrations,
		New: func(cfg notification.Config, env host.Env) (host.Service, error) {
			return notification.New(cfg, notification.Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger})
		},
	})
}
