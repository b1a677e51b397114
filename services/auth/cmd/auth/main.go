// Command auth runs Tamkeen's auth enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: auth -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/auth"
)

func main() { host.Main(auth.Spec()) }
