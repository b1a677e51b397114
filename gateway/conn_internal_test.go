package gateway

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestServerTimeoutDefaults: a zero Config serves with every connection
// phase bounded; the read timeout is what cuts a slow body (issue 12:
// within 30 s), the ops listener is loopback.
func TestServerTimeoutDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	if c.ReadTimeout != 20*time.Second || c.ReadTimeout > 30*time.Second {
		t.Errorf("ReadTimeout = %v; want 20s (a slow body is cut within 30 s)", c.ReadTimeout)
	}
	if c.ReadHeaderTimeout != 10*time.Second || c.WriteTimeout != time.Minute || c.IdleTimeout != time.Minute {
		t.Errorf("ReadHeaderTimeout, WriteTimeout, IdleTimeout = %v, %v, %v; want 10s, 1m, 1m", c.ReadHeaderTimeout, c.WriteTimeout, c.IdleTimeout)
	}
	if c.SlowReadTimeout != 2*time.Minute || c.SlowWriteTimeout != 2*time.Minute {
		t.Errorf("SlowReadTimeout, SlowWriteTimeout = %v, %v; want 2m, 2m", c.SlowReadTimeout, c.SlowWriteTimeout)
	}
	if c.OpsAddr != "127.0.0.1:8081" {
		t.Errorf("OpsAddr = %q; want 127.0.0.1:8081", c.OpsAddr)
	}
	g := &Gateway{cfg: c, logger: slog.New(slog.DiscardHandler)}
	srv := g.newServer(context.Background(), nil, c.WriteTimeout)
	if srv.ReadHeaderTimeout != c.ReadHeaderTimeout || srv.ReadTimeout != c.ReadTimeout || srv.WriteTimeout != c.WriteTimeout || srv.IdleTimeout != c.IdleTimeout {
		t.Errorf("server timeouts = %v %v %v %v; want the config's", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	for _, bad := range []Config{{ReadTimeout: -1}, {WriteTimeout: -1}, {IdleTimeout: -1}, {SlowReadTimeout: -1}, {SlowWriteTimeout: -1}, {OpsAddr: "nope"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", bad)
		}
	}
}
