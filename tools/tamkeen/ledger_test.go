package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tamkeen/tamkeen/libs/store/storetest"
	"github.com/tamkeen/tamkeen/services/payment"
)

func TestLedgerCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payment.db")
	db := storetest.SQLiteFile(t, path)
	sets, err := payment.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Migrate(ctx, sets...); err != nil {
		t.Fatal(err)
	}
	// A sound (empty) ledger, then one balance tampered with.
	for _, tc := range []struct {
		name   string
		tamper string
		code   int
		outHas string
	}{
		{"sound", "", 0, "OK: every transaction balances"},
		{"tampered", `INSERT INTO ledger_balances (account, currency, debits, credits) VALUES ('dept:x', 'JOD', 5, 0)`, 1, "PROBLEM: balance of dept:x in JOD is 5/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.tamper != "" {
				if _, err := db.ExecContext(ctx, tc.tamper); err != nil {
					t.Fatal(err)
				}
			}
			var out, errOut bytes.Buffer
			code := run(ctx, []string{"ledger", "check", "--db-engine=sqlite", "--db-dsn=" + path}, ledgerNoEnv, &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.outHas) {
				t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errOut.String())
			}
		})
	}
	// The data dir of `tamkeen dev` names the same file.
	var out, errOut bytes.Buffer
	if code := run(ctx, []string{"ledger", "check", "--data-dir=" + filepath.Dir(path)}, ledgerNoEnv, &out, &errOut); code != 1 ||
		!strings.Contains(out.String(), "PROBLEM: balance of dept:x in JOD is 5/0") {
		t.Errorf("ledger check --data-dir: exit %d; want 1 naming the tampered balance\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"ledger", "check"}, ledgerNoEnv, &out, &errOut); code != 2 {
		t.Errorf("ledger check with neither --data-dir nor --db-dsn: exit %d; want 2", code)
	}
	out.Reset()
	errOut.Reset()
	if code := run(ctx, []string{"ledger"}, ledgerNoEnv, &out, &errOut); code != 2 {
		t.Errorf("tamkeen ledger without check: exit %d; want 2", code)
	}
}

func ledgerNoEnv(string) (string, bool) { return "", false }
