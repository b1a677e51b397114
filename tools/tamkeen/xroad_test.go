package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// tamkeen xroad maps X-Road clients to Tamkeen clients in the gateway
// database: map (percent-encoded or not, one key), list as a table and as
// JSON, unmap; bad members and missing flags are usage errors (exit 2).
func TestXRoadCommands(t *testing.T) {
	dir := t.TempDir()
	out := mustRun(t, "xroad", "map", "--data-dir", dir, "--member", "PS/GOV/70000001/%70ayments", "--client", "mof-app")
	if !strings.Contains(out, "PS/GOV/70000001/payments") || !strings.Contains(out, "mof-app") {
		t.Errorf("xroad map printed %q; want the decoded member and the client", out)
	}
	mustRun(t, "xroad", "map", "--data-dir", dir, "--member", "PS/GOV/70000002", "--client", "moh-portal")
	if out := mustRun(t, "xroad", "list", "--data-dir", dir); !strings.HasPrefix(out, "X-ROAD CLIENT") || !strings.Contains(out, "moh-portal") {
		t.Errorf("xroad list = %q; want the table with both mappings", out)
	}
	var got []xroadMappingJSON
	if err := json.Unmarshal([]byte(mustRun(t, "xroad", "list", "--data-dir", dir, "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].XRoadClient != "PS/GOV/70000001/payments" || got[0].ClientID != "mof-app" || got[1].ClientID != "moh-portal" || got[0].MappedAt.IsZero() {
		t.Errorf("xroad list -o json = %+v; want the two mappings in order", got)
	}
	mustRun(t, "xroad", "unmap", "--data-dir", dir, "--member", "PS/GOV/70000002")
	if code, _, errOut := runTool(t, "xroad", "unmap", "--data-dir", dir, "--member", "PS/GOV/70000002"); code != 1 || !strings.Contains(errOut, "not mapped") {
		t.Errorf("unmap twice = exit %d, %q; want 1, not mapped", code, errOut)
	}
	// clients create --xroad-client maps at creation; a bad member, or one
	// with --db-dsn (auth's database), refuses before anything is created.
	mustRun(t, "clients", "create", "--data-dir", dir, "--id", "mop-erp", "--name", "MoP", "--scopes", "content:read",
		"--xroad-client", "PS/GOV/70000003/erp", "--xroad-client", "PS/GOV/70000003/hr")
	if out := mustRun(t, "xroad", "list", "--data-dir", dir); strings.Count(out, "mop-erp") != 2 {
		t.Errorf("xroad list after clients create --xroad-client twice = %q; want both mappings of mop-erp", out)
	}
	if code, _, errOut := runTool(t, "clients", "create", "--data-dir", dir, "--id", "bad-erp", "--name", "bad", "--scopes", "content:read",
		"--xroad-client", "PS/GOV"); code != 2 || !strings.Contains(errOut, "xroad-client") {
		t.Errorf("clients create with a bad --xroad-client = exit %d, %q; want 2 naming --xroad-client", code, errOut)
	}
	if code, _, _ := runTool(t, "clients", "create", "--data-dir", dir, "--id", "bad-erp", "--name", "bad", "--scopes", "content:read"); code != 0 {
		t.Errorf("bad-erp was created by the refused command (exit %d creating it again); want nothing created", code)
	}
	if code, _, errOut := runTool(t, "clients", "create", "--db-engine", "sqlite", "--db-dsn", dir+"/auth.db", "--id", "dsn-erp", "--name", "dsn",
		"--scopes", "content:read", "--xroad-client", "PS/GOV/1"); code != 2 || !strings.Contains(errOut, "data-dir") {
		t.Errorf("clients create --db-dsn --xroad-client = exit %d, %q; want 2 asking for --data-dir", code, errOut)
	}
	for _, args := range [][]string{
		{"xroad", "map", "--data-dir", dir, "--member", "PS/GOV", "--client", "x"},
		{"xroad", "map", "--data-dir", dir, "--member", "PS/GOV/1"},
		{"xroad", "unmap", "--data-dir", dir},
		{"xroad", "frobnicate", "--data-dir", dir},
	} {
		if code, _, _ := runTool(t, args...); code != 2 {
			t.Errorf("tamkeen %s = exit %d; want 2 (usage)", strings.Join(args, " "), code)
		}
	}
}
