// Command payment runs Tamkeen's payment enabler as its own process (production
// and `make run-distributed`). Flags and TAMKEEN_… variables: payment -help.
package main

import (
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/services/payment"
)

func main() { host.Main(payment.Spec()) }
