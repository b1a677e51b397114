package auth

import "github.com/tamkeen/tamkeen/libs/host"

// Spec describes the service to libs/host: cmd/auth runs it as its own
// process and `tamkeen dev` composes it with the others.
func Spec() host.Spec[Config] {
	return host.Spec[Config]{
		Name:       Name,
		Migrations: Migrations,
		New: func(cfg Config, env host.Env) (host.Service, error) {
			return New(cfg, Deps{DB: env.DB, Bus: env.Bus, Logger: env.Logger, Now: env.Now})
		},
	}
}
