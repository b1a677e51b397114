package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
)

const auditUsage = `Usage:
  tamkeen audit verify [--from T] [--to T] [--ca-file ca.pem]   walk the chain and its time-stamps in the database
  tamkeen audit verify --file export.jsonl [--ca-file ca.pem]   verify an export offline
  tamkeen audit export [--from T] [--to T] [--out file]         write the period as JSON lines with the proofs
T is RFC 3339 (2026-11-03T10:00:00Z) or a date (2026-11-03, UTC midnight).
The database is --data-dir DIR (a tamkeen dev data dir) or --db-dsn URL [--db-engine].
--ca-file is the CA chain (PEM) the time-stamping authority's certificate must chain to,
e.g. from GET /v1/signing/ca.
`

// auditConfig is the command line of `tamkeen audit`.
type auditConfig struct {
	DB     serviceDB
	From   string `flag:"from" usage:"start of the period (RFC 3339 or YYYY-MM-DD)"`
	To     string `flag:"to" usage:"end of the period (RFC 3339 or YYYY-MM-DD)"`
	CAFile string `flag:"ca-file" usage:"PEM CA chain the TSA certificate must chain to"`
	File   string `flag:"file" usage:"verify this export instead of the database"`
	Out    string `flag:"out" usage:"export to this file instead of standard output"`
}

// Validate accepts --file without a database.
func (c auditConfig) Validate() error {
	if c.File != "" {
		return nil
	}
	return c.DB.Validate()
}

// parseInstant reads RFC 3339 or a UTC date; "" is the zero time.
func parseInstant(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}

// runAudit verifies or exports the gateway's audit log.
func runAudit(ctx context.Context, sub string, cfg auditConfig, _ func(string) (string, bool), stdout, stderr io.Writer) error {
	var p config.Problems
	from, err := parseInstant(cfg.From)
	if err != nil {
		p.Addf("from", "%q is not RFC 3339 or YYYY-MM-DD", cfg.From)
	}
	to, err := parseInstant(cfg.To)
	if err != nil {
		p.Addf("to", "%q is not RFC 3339 or YYYY-MM-DD", cfg.To)
	}
	if cfg.File != "" && sub != "verify" {
		p.Add("file", "only for verify")
	}
	if err := p.Err(); err != nil {
		return err
	}
	opts := gateway.AuditVerifyOptions{From: from, To: to}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return err
		}
		opts.Roots = x509.NewCertPool()
		if !opts.Roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", cfg.CAFile)
		}
	}

	if sub == "export" {
		db, err := openGatewayDB(ctx, cfg.DB)
		if err != nil {
			return err
		}
		defer db.Close()
		out := stdout
		if cfg.Out != "" {
			f, err := os.OpenFile(cfg.Out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			out = f
		}
		n, err := gateway.ExportAudit(ctx, db, out, opts)
		if err != nil {
			return err
		}
		if cfg.Out != "" {
			fmt.Fprintf(stdout, "exported %d records with their time-stamps to %s\n", n, cfg.Out)
		}
		return nil
	}

	var rep gateway.AuditReport
	if cfg.File != "" {
		f, err := os.Open(cfg.File)
		if err != nil {
			return err
		}
		defer f.Close()
		rep, err = gateway.VerifyAuditExport(f, opts)
		if err != nil && !errors.Is(err, gateway.ErrAuditBroken) {
			return err
		}
	} else {
		db, err := openGatewayDB(ctx, cfg.DB)
		if err != nil {
			return err
		}
		defer db.Close()
		rep, err = gateway.VerifyAudit(ctx, db, opts)
		if err != nil && !errors.Is(err, gateway.ErrAuditBroken) {
			return err
		}
	}
	if rep.Broken != nil {
		fmt.Fprintf(stdout, "BROKEN: %s\n", rep.Broken)
		return fmt.Errorf("%w at chain %q record #%d", gateway.ErrAuditBroken, rep.Broken.Chain, rep.Broken.Seq)
	}
	stamp := "no time-stamp yet"
	if rep.Stamps > 0 {
		stamp = fmt.Sprintf("%d time-stamps verified, the newest at %s", rep.Stamps, rep.LastStamp.UTC().Format(time.RFC3339))
	}
	chains := strings.Join(rep.Chains, ", ")
	if chains == "" {
		chains = "none"
	}
	fmt.Fprintf(stdout, "OK: %d records in chains [%s]; %s\n", rep.Records, chains, stamp)
	return nil
}
