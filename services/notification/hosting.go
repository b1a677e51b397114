package notification

import (
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
)

// Spec describes the service to libs/host: cmd/notification runs it as its own
// process and `tamkeen dev` composes it with the others.
func Spec() host.Spec[Config] {
	return host.Spec[Config]{
		Name:       Name,
		Migrations: Migrations,
		Stream:     Config.Stream,
		// A bulk job enqueues thousands of commands at once.
		Relay: events.RelayOptions{BatchSize: 500},
		New: func(cfg Config, kit host.Kit) (host.Service, error) {
			return New(cfg, Deps{Kit: kit})
		},
	}
}
