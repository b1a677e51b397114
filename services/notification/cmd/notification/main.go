// Command notification runs Tamkeen's notification enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: notification -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/notification"
)

func main() { host.Main(notification.Spec()) }
