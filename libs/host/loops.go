package host

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// RunAll runs every run at once until ctx ends or one of them fails, which
// stops the others (their context ends), and returns the first error: how
// a host runs a service beside its relay, a composition its services, and
// a service its own loops.
func RunAll(ctx context.Context, runs ...func(context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, run := range runs {
		g.Go(func() error { return run(gctx) })
	}
	return g.Wait()
}
