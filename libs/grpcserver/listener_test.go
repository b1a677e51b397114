package grpcserver_test

import (
	"errors"
	"net"
)

// failingListener fails every Accept with a permanent error.
type failingListener struct{}

var errAccept = errors.New("accept: too many open files (permanent)")

func (*failingListener) Accept() (net.Conn, error) { return nil, errAccept }
func (*failingListener) Close() error              { return nil }
func (*failingListener) Addr() net.Addr            { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
