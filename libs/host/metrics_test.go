package host_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/tamkeen/tamkeen/libs/events"
	"github.com/tamkeen/tamkeen/libs/host"
	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/natsembed/natstest"
	"github.com/tamkeen/tamkeen/libs/store"
)

// TestOpsListenerServesOutboxMetrics runs an enabler through host.Run,
// commits events through its kit and scrapes its ops listener: the outbox
// families are there under service="echo", published counted.
func TestOpsListenerServesOutboxMetrics(t *testing.T) {
	ns := natstest.Start(t, natsembed.Options{Listen: true})
	svc := &echoService{ran: make(chan struct{}), stopped: make(chan struct{})}
	spec := host.Spec[echoConfig]{
		Name:       "echo",
		Migrations: func() ([]store.MigrationSet, error) { return []store.MigrationSet{events.Migrations}, nil },
		Stream: func(echoConfig) events.StreamConfig {
			return events.StreamConfig{Name: "ECHO", Subjects: []string{"tamkeen.echo.>"}}
		},
		Relay: events.RelayOptions{PollInterval: 20 * time.Millisecond},
		New: func(cfg echoConfig, k host.Kit) (host.Service, error) {
			svc.cfg, svc.kit = cfg, k
			return svc, nil
		},
	}
	opsAddr := freeAddr(t)
	args := []string{"--grpc-addr", freeAddr(t), "--metrics-addr", opsAddr, "--db-engine", "sqlite", "--nats-url", ns.ClientURL()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- host.Run(ctx, spec, args, env(map[string]string{"TAMKEEN_DB_DSN": filepath.Join(t.TempDir(), "echo.db")}), logs)
	}()
	select {
	case <-svc.ran:
	case err := <-done:
		t.Fatalf("Run returned early: %v\nlogs:\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("service never ran; logs:\n%s", logs)
	}

	const sent = 3
	k := svc.kit
	for range sent {
		ev, err := k.Events.New("tamkeen.echo.said.v1", &emptypb.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.DB.InTx(ctx, func(tx *sql.Tx) error { return events.Enqueue(ctx, tx, "tamkeen.echo.said", ev) }); err != nil {
			t.Fatal(err)
		}
	}
	k.Relay.Kick()

	var body string
	deadline := time.Now().Add(15 * time.Second)
	for {
		body = scrape(t, "http://"+opsAddr+"/metrics")
		// The relay counts a publish before it settles the row, so the
		// backlog reads 0 a moment after the counter reads 3.
		if strings.Contains(body, `tamkeen_events_outbox_published_total{service="echo"} 3`) &&
			strings.Contains(body, `tamkeen_events_outbox_pending{service="echo"} 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("published_total never reached %d with nothing pending; last scrape:\n%s", sent, grepLines(body, "tamkeen_events"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`tamkeen_events_outbox_pending{service="echo"} 0`,
		`tamkeen_events_outbox_oldest_age_seconds{service="echo"} 0`,
		`tamkeen_events_outbox_publish_seconds_count{service="echo"} 3`,
		`tamkeen_events_outbox_publish_failures_total{service="echo"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q; it has:\n%s", want, grepLines(body, "tamkeen_events"))
		}
	}
	// The scrape is well-formed exposition and its families pass promlint.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{events.MetricOutboxPending, events.MetricOutboxOldestAge, events.MetricOutboxPublished, events.MetricOutboxPublishSeconds} {
		if fams[name] == nil {
			t.Errorf("/metrics has no family %s", name)
		}
	}
	problems, err := testutil.GatherAndLint(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var out []*dto.MetricFamily
		for name, f := range fams {
			if strings.HasPrefix(name, "tamkeen_") {
				out = append(out, f)
			}
		}
		return out, nil
	}))
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v; want nil", err)
	}
}

// TestKitWithoutRegistry: a kit from an environment without a registry
// still registers (on one nobody scrapes), and so does a hand-built kit.
func TestKitWithoutRegistry(t *testing.T) {
	k := host.NewKit("echo", host.Env{}, events.RelayOptions{})
	if k.Registry == nil {
		t.Fatal("NewKit without a registry left Kit.Registry nil")
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tamkeen_echo_said_total", Help: "x"})
	if err := (host.Kit{}).Registerer().Register(c); err != nil {
		t.Errorf("hand-built kit: Register = %v; want nil", err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	return b.String()
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
