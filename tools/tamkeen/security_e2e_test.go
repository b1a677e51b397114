package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/libs/clocktest"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// TestSecurityServerCommands: calls through `tamkeen dev` land in the
// gateway's audit chain and usage meter, and the operators' commands read
// them back: `tamkeen audit verify` passes (chain and RFC 3161 tokens against
// the served CA), `tamkeen usage report` counts exactly the calls made, and
// `tamkeen clients grant|show` manage access rights.
func TestSecurityServerCommands(t *testing.T) {
	const secret = "demo-ministry-secret-for-tests"
	dir := t.TempDir()
	clock := clocktest.New(time.Now().UTC())
	base, _ := startDevIn(t, dir, clock, map[string]string{"TAMKEEN_DEV_CLIENT_SECRET": secret})
	token := clientToken(t, base, secret)
	for range 3 {
		if resp, raw := (apiCall{t: t, base: base, method: "GET", path: "/v1/ledger/trial-balance", token: token}).do(nil); resp.StatusCode != 200 {
			t.Fatalf("trial balance = %d %s", resp.StatusCode, raw)
		}
	}
	resp, err := http.Get(base + "/v1/signing/ca")
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runTool(t, "audit", "verify", "--data-dir", dir, "--ca-file", caFile)
	if code != 0 {
		t.Errorf("audit verify = exit %d\n%s\n%s", code, out, errOut)
	}
	month := clock.Now().Format("2006-01")
	code, out, errOut = runTool(t, "usage", "report", "--data-dir", dir, "--month", month, "--client", demo.ClientID, "--csv", "-")
	if code != 0 || !strings.Contains(out, "GetTrialBalance") {
		t.Errorf("usage report = exit %d\n%s\n%s\nwant the trial-balance calls", code, out, errOut)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "GetTrialBalance") && !strings.Contains(line, " 3") {
			t.Errorf("usage line %q; want a count of 3", line)
		}
	}

	if code, out, errOut := runTool(t, "clients", "grant", "--data-dir", dir, "--id", "moh-portal", "--right", "payment/CreatePayment", "--departments", "land-registry"); code != 0 {
		t.Fatalf("clients grant = exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runTool(t, "clients", "show", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "moh-portal") || !strings.Contains(out, "payment/CreatePayment") || !strings.Contains(out, demo.ClientID) {
		t.Errorf("clients show = exit %d\n%s\nwant the demo client's and moh-portal's rights", code, out)
	}
}
