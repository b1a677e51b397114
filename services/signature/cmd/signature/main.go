// Command signature runs Tamkeen's signature enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: signature -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/signature"
)

func main() { host.Main(signature.Spec()) }
