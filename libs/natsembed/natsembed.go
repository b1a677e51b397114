// Package natsembed runs a NATS server with JetStream inside the current
// process. `tamkeen dev` uses it so that the whole platform runs without an
// external broker, and tests use it (through natstest) so that every events
// test talks to a real JetStream server rather than a fake.
//
// The server is in-process only by default (no TCP listener): clients connect
// with nats.InProcessServer, which needs no free port and cannot collide with
// a broker already running on the machine. Set Options.Listen to expose it on
// 127.0.0.1 for other processes or to simulate network outages in tests.
package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readyTimeout bounds how long Start waits for the server to accept clients.
const readyTimeout = 10 * time.Second

// ErrNotReady is returned by Start when the server did not become ready for
// connections within the start-up deadline (for example because the port is
// taken).
var ErrNotReady = errors.New("natsembed: server not ready for connections")

// ErrShutdown is returned by Connect after Shutdown.
var ErrShutdown = errors.New("natsembed: server is shut down")

// Options configures an embedded server.
type Options struct {
	// StoreDir is where JetStream keeps its data. Empty means a fresh
	// temporary directory that Shutdown removes; give a directory to keep
	// streams across restarts.
	StoreDir string
	// Listen makes the server accept TCP clients on 127.0.0.1:Port. When
	// false the server is reachable only in-process (DontListen).
	Listen bool
	// Port is the TCP port used with Listen; 0 or -1 picks a random free port.
	Port int
	// ServerName names the server in logs and JetStream metadata; empty lets
	// the server generate one.
	ServerName string
	// Logger receives the server's log lines; nil disables server logging.
	Logger *slog.Logger
	// EncryptionKey, when non-empty, encrypts JetStream's store at rest
	// (ChaCha20-Poly1305). Use it for streams that carry secrets such as
	// OTP codes; a restart must give the same key to read the store.
	EncryptionKey string
}

// Server is a running embedded NATS server with JetStream enabled.
type Server struct {
	ns       *server.Server
	listen   bool
	tempDir  string // removed at Shutdown when non-empty
	storeDir string

	once sync.Once
	mu   sync.Mutex
	down bool
}

// Start starts an embedded NATS server with JetStream and waits until it is
// ready for connections.
func Start(opts Options) (*Server, error) {
	if opts.Listen && opts.Port > 0 {
		// Fail fast with the bind error: nats-server would otherwise only
		// report "not ready" after the whole start-up deadline.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
		}
		_ = l.Close()
	}
	storeDir, tempDir := opts.StoreDir, ""
	if storeDir == "" {
		d, err := os.MkdirTemp("", "natsembed-*")
		if err != nil {
			return nil, fmt.Errorf("natsembed: store dir: %w", err)
		}
		storeDir, tempDir = d, d
	}
	cleanup := func() {
		if tempDir != "" {
			_ = os.RemoveAll(tempDir)
		}
	}

	sopts := &server.Options{
		ServerName: opts.ServerName,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		NoLog:      opts.Logger == nil,
		DontListen: !opts.Listen,
	}
	if opts.EncryptionKey != "" {
		sopts.JetStreamKey = opts.EncryptionKey
		sopts.JetStreamCipher = server.ChaCha
	}
	if opts.Listen {
		sopts.Host = "127.0.0.1"
		sopts.Port = opts.Port
		if opts.Port == 0 {
			// 0 means "the default port" (4222) to nats-server; we want random.
			sopts.Port = server.RANDOM_PORT
		}
	}

	ns, err := server.NewServer(sopts)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	if opts.Logger != nil {
		ns.SetLoggerV2(slogAdapter{opts.Logger}, false, false, false)
	}
	// Start returns once the server is up (accept loops run on their own);
	// waiting for it keeps its last log lines from racing with the caller.
	started := make(chan struct{})
	go func() { ns.Start(); close(started) }()
	if !ns.ReadyForConnections(readyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		cleanup()
		if opts.Listen {
			return nil, fmt.Errorf("%w (listen on 127.0.0.1:%d)", ErrNotReady, opts.Port)
		}
		return nil, ErrNotReady
	}
	select {
	case <-started:
	case <-time.After(readyTimeout):
	}
	if !ns.JetStreamEnabled() {
		ns.Shutdown()
		ns.WaitForShutdown()
		cleanup()
		return nil, fmt.Errorf("%w: JetStream did not start", ErrNotReady)
	}
	return &Server{ns: ns, listen: opts.Listen, tempDir: tempDir, storeDir: storeDir}, nil
}

// Connect opens a client connection: in-process when the server does not
// listen, otherwise over TCP to ClientURL. Extra options are applied after
// the defaults.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return nil, ErrShutdown
	}
	if !s.listen {
		all := append([]nats.Option{nats.InProcessServer(s.ns)}, opts...)
		return nats.Connect("", all...)
	}
	return nats.Connect(s.ClientURL(), opts...)
}

// ClientURL is the nats:// URL clients in other processes use. It is empty
// when the server does not listen.
func (s *Server) ClientURL() string {
	if !s.listen {
		return ""
	}
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
}

// Port is the TCP port the server listens on, or 0 when it does not listen.
// Use it to restart a server on the same address.
func (s *Server) Port() int {
	if !s.listen {
		return 0
	}
	if a, ok := s.ns.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// StoreDir is the JetStream storage directory in use.
func (s *Server) StoreDir() string { return s.storeDir }

// NATS exposes the underlying server for advanced use (monitoring, in-process
// connections with custom options).
func (s *Server) NATS() *server.Server { return s.ns }

// Ready reports whether the server is running with JetStream enabled.
func (s *Server) Ready() bool {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	return !down && s.ns.Running() && s.ns.JetStreamEnabled()
}

// Shutdown stops the server, waits until it has stopped and removes the
// temporary store directory if Start created one. It is safe to call more
// than once.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.mu.Lock()
		s.down = true
		s.mu.Unlock()
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
		if s.tempDir != "" {
			_ = os.RemoveAll(s.tempDir)
		}
	})
}

// slogAdapter turns nats-server log calls into slog records.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
