// Command dr-drill is `make dr-drill`: the disaster-recovery drill on one
// machine (docs/operations.md, "The drill on one machine"). It builds the
// binaries, creates a primary PostgreSQL cluster with a synchronous
// streaming replica and a primary NATS server with a DR server mirroring
// the five service streams, runs load on the primary, cuts it off,
// promotes the DR side, starts the services there and prints RPO and RTO.
// Everything it creates is removed at the end, on failure too.
package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/tamkeen/tamkeen/tools/distributed"
)

// settings is the command line.
type settings struct {
	Load           time.Duration `flag:"load" default:"10s" usage:"how long the load runs on the primary before the cut"`
	Workers        int           `flag:"workers" default:"4" usage:"concurrent load clients"`
	PostgresBin    string        `flag:"postgres-bin" usage:"directory of initdb, pg_ctl and pg_basebackup (default: the newest /usr/lib/postgresql/*/bin)"`
	Replication    string        `flag:"replication" default:"sync" usage:"how the DR cluster follows the primary: sync (streaming, synchronous_standby_names) or archive (WAL archive replay, as the k8s DR overlay)"`
	ArchiveTimeout string        `flag:"archive-timeout" default:"5min" usage:"the primary's archive_timeout with --replication archive"`
	Verbose        bool          `flag:"verbose" usage:"also print every process's log lines"`
}

func main() { distributed.Main("dr-drill", run) }

func run(ctx context.Context, s settings, root string, stdout, stderr io.Writer) error {
	opts := distributed.DrillOptions{
		RepoRoot: root, PostgresBin: s.PostgresBin, Load: s.Load, Workers: s.Workers,
		Replication: s.Replication, ArchiveTimeout: s.ArchiveTimeout,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	}
	if s.Verbose {
		opts.Output = stderr
	}
	rep, err := distributed.RunDrill(ctx, opts)
	if rep != nil {
		rep.Print(stdout)
	}
	return err
}
