// Command content runs Tamkeen's content enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: content -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/content"
)

func main() { host.Main(content.Spec()) }
