package auth

import "github.com/tamkeen/tamkeen/libs/host"

// Spec describes the service to libs/host: cmd/auth runs it as its own
// process and `tamkeen dev` composes it with the others.
func Spec() host.Spec[Config] {
	return host.Spec[Config]{
		Name:       Name,
		Migrations: Migrations,
		Stream:     Config.Stream,
		New: func(cfg Config, kit host.Kit) (host.Service, error) {
			return New(cfg, Deps{Kit: kit})
		},
	}
}
