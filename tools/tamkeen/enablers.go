package main

import (
	"fmt"

	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/auth"
	"github.com/tamkeen/tamkeen/services/content"
	"github.com/tamkeen/tamkeen/services/notification"
	"github.com/tamkeen/tamkeen/services/payment"
	"github.com/tamkeen/tamkeen/services/signature"
)

// enablers lists the five services in start-up order, as the tool composes
// them: the same Specs (constructor, migrations, stream, relay) the
// per-service binaries run.
func enablers() []host.Component {
	return []host.Component{
		auth.Spec().Component(),
		notification.Spec().Component(),
		signature.Spec().Component(),
		payment.Spec().Component(),
		content.Spec().Component(),
	}
}

// findEnabler returns the enabler called name.
func findEnabler(name string) (host.Component, error) {
	for _, e := range enablers() {
		if e.Name == name {
			return e, nil
		}
	}
	return host.Component{}, fmt.Errorf("unknown service %q (want auth, notification, signature, payment or content)", name)
}
