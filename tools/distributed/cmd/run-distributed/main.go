// Command run-distributed is `make run-distributed`: it builds the five
// enablers, the gateway and the tamkeen tool, then runs them as separate
// processes against PostgreSQL (one database per service) and a NATS
// server with JetStream on a free port, with the configuration the
// containers get from k8s/. It prints the gateway's URL and the demo
// client's secret; Ctrl-C stops everything.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tamkeen/tamkeen/tools/distributed"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// settings is the command line.
type settings struct {
	WorkDir     string `flag:"work-dir" default:"./.data/distributed" usage:"secrets, NATS store, binaries and logs"`
	PostgresURL string `flag:"postgres-url" env:"TEST_POSTGRES_URL" default:"postgres://tamkeen_test:tamkeen_test@127.0.0.1:5432/postgres?sslmode=disable" usage:"a PostgreSQL role that may create databases"`
	DBPrefix    string `flag:"db-prefix" default:"tamkeen_" usage:"database names are <prefix><service>"`
	HTTPAddr    string `flag:"http-addr" default:"127.0.0.1:8090" usage:"the gateway's listen address"`
	Fresh       bool   `flag:"fresh" usage:"drop the databases and the work dir first"`
	Quiet       bool   `flag:"quiet" usage:"keep the processes' logs in <work-dir>/logs only"`
	Env         string `flag:"env" usage:"settings added to or overriding the processes' own, PROCESS.TAMKEEN_NAME=VALUE separated by ';' (e.g. 'gateway.TAMKEEN_RATE_LIMITS=' lifts the gateway's rate limits for a benchmark)"`
}

// Validate checks --env.
func (s settings) Validate() error {
	_, err := processSettings(s.Env)
	return err
}

// processSettings reads --env: PROCESS.NAME=VALUE items separated by ';'
// (a value may hold commas, as rate limits do), for the gateway or a
// service, NAME a TAMKEEN_ variable.
func processSettings(spec string) (map[string]map[string]string, error) {
	known := append(distributed.Services(), distributed.Gateway)
	out := map[string]map[string]string{}
	for item := range strings.SplitSeq(spec, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		proc, setting, ok := strings.Cut(item, ".")
		name, value, hasValue := strings.Cut(setting, "=")
		if !ok || !hasValue || !slices.Contains(known, proc) || !strings.HasPrefix(name, "TAMKEEN_") {
			return nil, fmt.Errorf("--env: %q is not PROCESS.TAMKEEN_NAME=VALUE with PROCESS one of %s", item, strings.Join(known, ", "))
		}
		if out[proc] == nil {
			out[proc] = map[string]string{}
		}
		out[proc][name] = value
	}
	return out, nil
}

func main() { distributed.Main("run-distributed", run) }

func run(ctx context.Context, s settings, root string, stdout, stderr io.Writer) error {
	workDir, err := filepath.Abs(s.WorkDir)
	if err != nil {
		return err
	}
	if s.Fresh {
		if err := distributed.ResetDatabases(ctx, s.PostgresURL, s.DBPrefix); err != nil {
			return err
		}
		if err := os.RemoveAll(workDir); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	binDir := filepath.Join(workDir, "bin")
	log.Info("building the binaries", slog.String("dir", binDir))
	if err := distributed.Build(ctx, root, binDir, distributed.BuildOptions{Image: true}); err != nil {
		return err
	}
	env, err := processSettings(s.Env)
	if err != nil {
		return err
	}
	opts := distributed.Options{
		RepoRoot: root, WorkDir: workDir, BinDir: binDir, PostgresURL: s.PostgresURL,
		DBPrefix: s.DBPrefix, HTTPAddr: s.HTTPAddr, Logger: log, Env: env,
	}
	if !s.Quiet {
		opts.Output = stderr
	}
	t, err := distributed.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer t.Stop()
	fmt.Fprintf(stdout, "\nTamkeen (distributed) is running at %s\n", t.URL())
	fmt.Fprintf(stdout, "  operations     %s (/healthz /readyz /metrics)\n", t.OpsURL(distributed.Gateway))
	fmt.Fprintf(stdout, "  NATS           %s\n", t.NATSURL())
	for _, svc := range distributed.Services() {
		fmt.Fprintf(stdout, "  %-14s database %s%s, log %s\n", svc, s.DBPrefix, svc, t.LogFile(svc))
	}
	fmt.Fprintf(stdout, "  %-14s database %s%s (rights, audit log, usage), log %s\n", distributed.Gateway, s.DBPrefix, distributed.Gateway, t.LogFile(distributed.Gateway))
	fmt.Fprintf(stdout, "  demo client    %s, secret %s\n", demo.ClientID, t.ClientSecret())
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping…")
	return nil
}
