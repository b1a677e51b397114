package content

import "github.com/tamkeen/tamkeen/libs/host"

// Spec describes the service to libs/host: cmd/content runs it as its own
// process and `tamkeen dev` composes it with the others.
func Spec() host.Spec[Config] {
	return host.Enabler(Name, Migrations, host.ServiceStream[Config](Name), New)
}
