package distributed

import (
	"context"
	"os"
)

// Postgres is a PostgreSQL cluster of its own (initdb in a temporary
// directory, a free port on 127.0.0.1, run by pg_ctl), which a test may
// stop at once and start again: the chaos test kills the server every
// service depends on without touching the machine's shared one.
type Postgres struct {
	c    *pgCluster
	root string
}

// StartPostgres creates and starts a cluster with the binaries
// FindPostgresBin finds (ErrNoPostgres without them).
func StartPostgres(ctx context.Context) (_ *Postgres, err error) {
	bin, err := FindPostgresBin()
	if err != nil {
		return nil, err
	}
	cred, err := pgRunAs()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "tamkeen-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{root: root}
	defer func() {
		if err != nil {
			p.Destroy()
		}
	}()
	if cred != nil {
		// The postgres user must reach its cluster's directory.
		if err := os.Chmod(root, 0o711); err != nil {
			return nil, err
		}
	}
	if p.c, err = newPGCluster(root, "chaos", bin, randomHex(16), cred); err != nil {
		return nil, err
	}
	if err := p.c.initPrimary(ctx, "", ""); err != nil {
		return nil, err
	}
	if err := p.c.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// AdminURL is the superuser's URL of the postgres database (what
// Options.PostgresURL wants).
func (p *Postgres) AdminURL() string { return p.c.URL("postgres") }

// StopImmediate ends the server as a crash would (pg_ctl stop -m
// immediate: every backend quits at once, no checkpoint; the next start
// recovers from the WAL).
func (p *Postgres) StopImmediate(ctx context.Context) error { return p.c.stopImmediate(ctx) }

// Start starts the server again on the same data directory and port.
func (p *Postgres) Start(ctx context.Context) error { return p.c.start(ctx) }

// Destroy stops the server if it runs and removes its files.
func (p *Postgres) Destroy() {
	if p.c != nil {
		p.c.destroy(context.Background())
	}
	_ = os.RemoveAll(p.root)
}
