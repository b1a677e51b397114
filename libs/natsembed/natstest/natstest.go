// Package natstest starts embedded NATS servers for tests, the way
// nats-server's own tests do: a real JetStream server per test, in-process,
// with storage in the test's temporary directory and cleanup registered.
package natstest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/tamkeen/tamkeen/libs/natsembed"
)

// Start starts an embedded JetStream server for the test and shuts it down
// when the test ends. An empty opts.StoreDir becomes t.TempDir().
func Start(t testing.TB, opts natsembed.Options) *natsembed.Server {
	t.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s, err := natsembed.Start(opts)
	if err != nil {
		t.Fatalf("natstest: start embedded NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Connect opens a client connection to s and closes it when the test ends.
func Connect(t testing.TB, s *natsembed.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := s.Connect(opts...)
	if err != nil {
		t.Fatalf("natstest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}
