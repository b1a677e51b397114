package host_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
)

// echoConfig is a service's own configuration.
type echoConfig struct {
	Greeting string `flag:"greeting" default:"marhaba" usage:"what to say"`
}

func (c echoConfig) Validate() error {
	var p config.Problems
	if c.Greeting == "" {
		p.Add("greeting", "must not be empty")
	}
	return p.Err()
}

// echoService records what the host did with it.
type echoService struct {
	cfg     echoConfig
	kit     host.Kit
	ran     chan struct{}
	stopped chan struct{}
}

func (s *echoService) Register(r grpc.ServiceRegistrar) {}

func (s *echoService) Run(ctx context.Context) error {
	close(s.ran)
	<-ctx.Done()
	close(s.stopped)
	return ctx.Err()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRunServesAndShutsDownInOrder(t *testing.T) {
	ns := natstest.Start(t, natsembed.Options{Listen: true})
	svc := &echoService{ran: make(chan struct{}), stopped: make(chan struct{})}
	migrated := store.MigrationSet{Component: "echo", Migrations: []store.Migration{
		{Version: 1, Name: "init", SQL: "CREATE TABLE echo (id INTEGER PRIMARY KEY)"},
	}}
	spec := host.Spec[echoConfig]{
		Name:       "echo",
		Migrations: func() ([]store.MigrationSet, error) { return []store.MigrationSet{migrated, events.Migrations}, nil },
		New: func(cfg echoConfig, k host.Kit) (host.Service, error) {
			svc.cfg, svc.kit = cfg, k
			return svc, nil
		},
	}
	grpcAddr, opsAddr := freeAddr(t), freeAddr(t)
	dbPath := filepath.Join(t.TempDir(), "echo.db")
	args := []string{"--grpc-addr", grpcAddr, "--metrics-addr", opsAddr, "--db-engine", "sqlite", "--nats-url", ns.ClientURL()}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- host.Run(ctx, spec, args, env(map[string]string{
			"TAMKEEN_DB_DSN":   dbPath,
			"TAMKEEN_GREETING": "ahlan",
		}), logs)
	}()
	select {
	case <-svc.ran:
	case err := <-done:
		t.Fatalf("Run returned early: %v\nlogs:\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("service never ran; logs:\n%s", logs)
	}
	if svc.cfg.Greeting != "ahlan" {
		t.Errorf("service config greeting = %q; want the environment's %q", svc.cfg.Greeting, "ahlan")
	}
	var n int
	if err := svc.kit.DB.QueryRow("SELECT COUNT(*) FROM echo").Scan(&n); err != nil {
		t.Errorf("migrations were not applied at start-up: %v", err)
	}

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health = %v, %v; want SERVING", hc, err)
	}
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ok"`, "/metrics": "go_goroutines", "/debug/pprof/": "goroutine"} {
		resp, err := http.Get("http://" + opsAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(b.String(), want) {
			t.Errorf("GET %s = %d %.80q; want 200 containing %q", path, resp.StatusCode, b.String(), want)
		}
	}
	if strings.Contains(logs.String(), dbPath) {
		t.Error("the secret --db-dsn reached the logs")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v; want nil\nlogs:\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of cancel")
	}
	select {
	case <-svc.stopped:
	default:
		t.Error("the service's Run was not stopped")
	}
	if _, err := net.Dial("tcp", grpcAddr); err == nil {
		t.Error("the gRPC listener is still open after shutdown")
	}
}

func TestRunReportsEveryConfigProblem(t *testing.T) {
	spec := host.Spec[echoConfig]{
		Name:       "echo",
		Migrations: func() ([]store.MigrationSet, error) { return nil, nil },
		New:        func(echoConfig, host.Kit) (host.Service, error) { return nil, errors.New("not reached") },
	}
	err := host.Run(context.Background(), spec,
		[]string{"--db-engine", "oracle", "--greeting="}, env(nil), &syncBuffer{})
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Run = %v; want a *config.Error", err)
	}
	msg := err.Error()
	for _, want := range []string{"--db-dsn / TAMKEEN_DB_DSN: required", "--db-engine", "oracle", "--greeting"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

// A taken address fails Listen with an error that names it: what a
// process reports when its port is in use.
func TestListenNamesATakenAddress(t *testing.T) {
	lis, err := host.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	addr := lis.Addr().String()
	again, err := host.Listen(addr)
	if err == nil {
		again.Close()
		t.Fatalf("Listen(%s) twice = nil error; want the address in use", addr)
	}
	if want := "listen " + addr + ":"; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Listen(%s) error = %q; want it to start with %q", addr, err, want)
	}
}
