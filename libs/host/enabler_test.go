package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/store"
)

// echoDeps is an enabler's Deps: the kit and an extra the host leaves nil.
type echoDeps struct {
	host.Kit
	Extra *int
}

func TestEnablerBuildsTheDepsFromTheKit(t *testing.T) {
	t.Parallel()
	var got echoDeps
	newEcho := func(cfg echoConfig, deps echoDeps) (*echoService, error) {
		got = deps
		if cfg.Greeting == "fail" {
			return nil, errors.New("echo: refused")
		}
		return &echoService{cfg: cfg, kit: deps.Kit}, nil
	}
	stream := func(echoConfig) events.StreamConfig { return events.ServiceStream("echo", 1) }
	noMigrations := func() ([]store.MigrationSet, error) { return nil, nil }
	spec := host.Enabler("echo", noMigrations, stream, newEcho)
	if spec.Name != "echo" || spec.Stream(echoConfig{}).Name != stream(echoConfig{}).Name {
		t.Fatalf("spec = %q, stream %q; want echo and the given stream", spec.Name, spec.Stream(echoConfig{}).Name)
	}
	kit := spec.Kit(host.Env{})
	svc, err := spec.New(echoConfig{Greeting: "ahlan"}, kit)
	if err != nil {
		t.Fatal(err)
	}
	if got.Logger != kit.Logger || got.Events.Source != "tamkeen/echo" || got.Extra != nil {
		t.Errorf("New got deps %+v; want the spec's kit and nil extras", got)
	}
	if e, ok := svc.(*echoService); !ok || e.cfg.Greeting != "ahlan" {
		t.Errorf("New returned %#v; want the echo service with its config", svc)
	}
	svc, err = spec.New(echoConfig{Greeting: "fail"}, kit)
	if err == nil || svc != nil {
		t.Errorf("New on failure = %#v, %v; want a nil Service and the error", svc, err)
	}
}

func TestCheckNew(t *testing.T) {
	t.Parallel()
	if err := host.CheckNew("echo", echoConfig{}, host.Kit{}); err == nil || !strings.HasPrefix(err.Error(), "echo: invalid configuration") {
		t.Errorf("CheckNew(invalid config) = %v; want the config error under the name", err)
	}
	if err := host.CheckNew("echo", echoConfig{Greeting: "hi"}, host.Kit{}); err == nil || err.Error() != "echo: Deps.DB and Deps.Bus are required" {
		t.Errorf("CheckNew(no DB, no bus) = %v; want the missing-deps error", err)
	}
	if err := host.CheckNew("echo", echoConfig{Greeting: "hi"}, host.Kit{DB: &store.DB{}, Bus: &events.Bus{}}); err != nil {
		t.Errorf("CheckNew(valid) = %v; want nil", err)
	}
}

func TestCheckStreamReplicas(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]bool{0: false, 1: true, 3: true, 5: true, 6: false} {
		var p config.Problems
		host.CheckStreamReplicas(&p, n)
		if ok := p.Len() == 0; ok != want {
			t.Errorf("CheckStreamReplicas(%d) accepted %v; want %v", n, ok, want)
		}
	}
}

func TestMigrationsPutTheOutboxLast(t *testing.T) {
	t.Parallel()
	files := fstest.MapFS{"migrations/0001_create_echoes.sql": {Data: []byte("CREATE TABLE echoes (id TEXT PRIMARY KEY);")}}
	lib := store.MigrationSet{Component: "lib"}
	migrations := host.Migrations("echo", files, "migrations", lib)
	for range 2 { // the libraries are not appended to twice
		sets, err := migrations()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range sets {
			got = append(got, s.Component)
		}
		if want := []string{"echo", "lib", events.Migrations.Component}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("sets = %v; want %v", got, want)
		}
	}
}

func TestRunAllStopsTheOthersWhenOneFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	waiter := func(ctx context.Context) error { <-ctx.Done(); return nil }
	failer := func(context.Context) error { return boom }
	if err := host.RunAll(context.Background(), waiter, failer, waiter); !errors.Is(err, boom) {
		t.Errorf("RunAll = %v; want the failure", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := host.RunAll(ctx, waiter, waiter); err != nil {
		t.Errorf("RunAll after the context ended = %v; want nil", err)
	}
}
