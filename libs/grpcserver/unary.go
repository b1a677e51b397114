package grpcserver

import "context"

// Unary is the body every unary RPC of an enabler shares, so that a method
// says only what differs between RPCs (who may call, which use case runs
// with which request fields, how its result reads in proto) and a
// service's error mapping is applied the same way everywhere:
//   - who authenticates and authorizes the caller; its error is returned
//     unchanged, as the callers' checks (authn, scopes) already answer with
//     statuses;
//   - use runs the use case as that caller;
//   - the use case's error goes through toStatus, the service's one mapping
//     of domain errors to codes, and its result through out.
func Unary[C, D, R any](ctx context.Context, toStatus func(context.Context, error) error, who func(context.Context) (C, error), use func(C) (D, error), out func(D) R) (R, error) {
	c, err := who(ctx)
	if err != nil {
		var none R
		return none, err
	}
	d, err := use(c)
	if err != nil {
		var none R
		return none, toStatus(ctx, err)
	}
	return out(d), nil
}

// Anyone is the who of an RPC anyone may call (public documents, provider
// webhooks, an RPC that checks its caller in the use case).
func Anyone(context.Context) (struct{}, error) {
	return struct{}{}, nil
}

// List is Unary for a List RPC, whose use case returns one page of results
// and the token of the next: out builds the response from both.
func List[C, D, R any](ctx context.Context, toStatus func(context.Context, error) error, who func(context.Context) (C, error), use func(C) ([]D, string, error), out func([]D, string) R) (R, error) {
	return Unary(ctx, toStatus, who, func(c C) (page[D], error) {
		items, next, err := use(c)
		return page[D]{items, next}, err
	}, func(p page[D]) R { return out(p.items, p.next) })
}

// page carries a List use case's results through Unary.
type page[D any] struct {
	items []D
	next  string
}

// Convert returns conv of each item, in order, or nil when there are none
// (as the append loops it replaces did): the repeated field of a response.
func Convert[D, P any](items []D, conv func(D) P) []P {
	if len(items) == 0 {
		return nil
	}
	out := make([]P, len(items))
	for i, d := range items {
		out[i] = conv(d)
	}
	return out
}
