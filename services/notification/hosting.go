package notification

import (
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
)

// Spec describes the service to libs/host: cmd/notification runs it as its own
// process and `tamkeen dev` composes it with the others.
func Spec() host.Spec[Config] {
	s := host.Enabler(Name, Migrations, Config.Stream, New)
	// A bulk job enqueues thousands of commands at once.
	s.Relay = events.RelayOptions{BatchSize: 500}
	return s
}
