package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// decodeJSON decodes a command's -o json output into v, failing the test
// when it is not exactly one JSON document.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("output holds more than one JSON document:\n%s", out)
	}
}

// mustRun runs a command line that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runTool(t, args...)
	if code != 0 {
		t.Fatalf("tamkeen %s = exit %d; stderr:\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// Every listing command prints JSON with -o json: clients list, clients
// show (rights show), migrate (--status), usage report.
func TestListingsAsJSON(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, "clients", "create", "--data-dir", dir, "--id", "moh-portal", "--name", "بوابة وزارة الصحة",
		"--ministry", "moh", "--scopes", "payments:write,notifications:send")
	mustRun(t, "clients", "create", "--data-dir", dir, "--id", "mof-app", "--name", "MoF app", "--ministry", "mof",
		"--public", "--redirect-uris", "https://mof.example.ps/cb", "--scopes", "content:read")
	mustRun(t, "clients", "disable", "--data-dir", dir, "--id", "mof-app")

	t.Run("clients list", func(t *testing.T) {
		var got []clientJSON
		decodeJSON(t, mustRun(t, "clients", "list", "--data-dir", dir, "-o", "json"), &got)
		slices.SortFunc(got, func(a, b clientJSON) int { return strings.Compare(a.ID, b.ID) })
		if len(got) != 2 {
			t.Fatalf("clients list -o json = %+v; want 2 clients", got)
		}
		if c := got[1]; c.ID != "moh-portal" || c.Name != "بوابة وزارة الصحة" || c.Ministry != "moh" || c.State != "active" ||
			!slices.Equal(c.Scopes, []string{"notifications:send", "payments:write"}) || c.Public {
			t.Errorf("moh-portal = %+v", c)
		}
		if c := got[0]; c.ID != "mof-app" || c.State != "disabled" || !c.Public || !slices.Equal(c.RedirectURIs, []string{"https://mof.example.ps/cb"}) {
			t.Errorf("mof-app = %+v", c)
		}
		// The table stays the default.
		if out := mustRun(t, "clients", "list", "--data-dir", dir); !strings.HasPrefix(out, "ID ") {
			t.Errorf("clients list without -o = %q; want the table", out)
		}
	})

	t.Run("clients show and rights show", func(t *testing.T) {
		mustRun(t, "clients", "grant", "--data-dir", dir, "--id", "moh-portal", "--right", "notification/SendSms", "--templates", "tpl_1,tpl_2")
		mustRun(t, "rights", "grant", "--data-dir", dir, "--id", "mof-app", "--right", "payment/*")
		for _, args := range [][]string{{"clients", "show"}, {"rights", "show"}} {
			var got []rightJSON
			decodeJSON(t, mustRun(t, append(args, "--data-dir", dir, "-o", "json")...), &got)
			slices.SortFunc(got, func(a, b rightJSON) int { return strings.Compare(a.ClientID, b.ClientID) })
			if len(got) != 2 || got[0].ClientID != "mof-app" || got[0].Right != "payment/*" ||
				got[1].ClientID != "moh-portal" || got[1].Right != "notification/SendSms" || !slices.Equal(got[1].Templates, []string{"tpl_1", "tpl_2"}) ||
				got[1].GrantedAt.IsZero() {
				t.Errorf("%s -o json = %+v", strings.Join(args, " "), got)
			}
		}
		var one []rightJSON
		decodeJSON(t, mustRun(t, "clients", "show", "--data-dir", dir, "--id", "moh-portal", "-o", "json"), &one)
		if len(one) != 1 {
			t.Errorf("clients show --id moh-portal -o json = %+v; want its one right", one)
		}
		var none []rightJSON
		decodeJSON(t, mustRun(t, "rights", "show", "--data-dir", dir, "--id", "nobody", "-o", "json"), &none)
		if none == nil || len(none) != 0 {
			t.Errorf("rights of a client without any = %#v; want []", none)
		}
	})

	// The gateway's database has its migration step too (its Job in k8s).
	for _, svc := range []string{"content", "gateway"} {
		t.Run("migrate "+svc, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), svc+".db")
			var pending []migrationJSON
			decodeJSON(t, mustRun(t, "migrate", "--service", svc, "--db-engine", "sqlite", "--db-dsn", dsn, "--status", "-o", "json"), &pending)
			if len(pending) == 0 {
				t.Fatal("migrate --status -o json listed no migration")
			}
			own := 0
			for _, m := range pending {
				if m.State != "pending" || m.AppliedAt != nil || m.Component == "" || m.Version == 0 || m.Name == "" {
					t.Errorf("before migrating: %+v; want pending", m)
				}
				if m.Component == svc {
					own++
				}
			}
			if own == 0 {
				t.Errorf("no migration of component %s in %+v", svc, pending)
			}
			var applied []migrationJSON
			decodeJSON(t, mustRun(t, "migrate", "--service", svc, "--db-engine", "sqlite", "--db-dsn", dsn, "-o", "json"), &applied)
			if len(applied) != len(pending) {
				t.Fatalf("migrate -o json listed %d migrations; --status listed %d", len(applied), len(pending))
			}
			for _, m := range applied {
				if m.State != "applied" || m.AppliedAt == nil || time.Since(*m.AppliedAt) > time.Hour {
					t.Errorf("after migrating: %+v; want applied now", m)
				}
			}
		})
	}

	t.Run("usage report", func(t *testing.T) {
		db, err := openGatewayDB(context.Background(), serviceDB{DataDir: dir, DBEngine: "postgres"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			day, client, item, currency string
			qty, amount                 int64
		}{
			{"2026-11-02", "moh-portal", "sms_segments", "", 40, 0},
			{"2026-11-03", "moh-portal", "sms_segments", "", 2, 0},
			{"2026-11-03", "mof-app", "payments", "ILS", 3, 15000},
			{"2026-10-30", "moh-portal", "sms_segments", "", 7, 0}, // another month
		} {
			if _, err := db.ExecContext(context.Background(), `INSERT INTO gateway_usage (day, client_id, item, currency, quantity, amount) VALUES ($1, $2, $3, $4, $5, $6)`,
				r.day, r.client, r.item, r.currency, r.qty, r.amount); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		prices := filepath.Join(t.TempDir(), "prices.json")
		if err := os.WriteFile(prices, []byte(`{"currency":"ILS","prices":{"sms_segments":10},"ministries":{"moh-portal":"moh"}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		csvPath := filepath.Join(t.TempDir(), "nov.csv")
		var got usageJSON
		decodeJSON(t, mustRun(t, "usage", "report", "--data-dir", dir, "--month", "2026-11", "--prices", prices, "--csv", csvPath, "-o", "json"), &got)
		want := []usageLineJSON{
			{ClientID: "mof-app", Item: "payments", Quantity: 3, Currency: "ILS", AmountMinor: 15000, Amount: formatAmount("ILS", 15000)},
			{ClientID: "moh-portal", Item: "sms_segments", Quantity: 42},
		}
		if got.Month != "2026-11" || !slices.Equal(got.Lines, want) || got.CSV != csvPath {
			t.Errorf("usage report -o json = %+v; want lines %+v and csv %s", got, want, csvPath)
		}
		if len(got.Invoices) != 1 || got.Invoices[0].Ministry != "moh" || got.Invoices[0].TotalMinor != 420 ||
			len(got.Invoices[0].Lines) != 1 || got.Invoices[0].Lines[0].UnitPriceMinor != 10 {
			t.Errorf("invoices = %+v; want moh's 42 segments at 10 = 420", got.Invoices)
		}
		if b, err := os.ReadFile(csvPath); err != nil || strings.Count(string(b), "\n") != 3 {
			t.Errorf("CSV = %q, %v; want a header and 2 lines", b, err)
		}
		// Without --csv, -o json writes no file where it runs.
		wd := t.TempDir()
		t.Chdir(wd)
		mustRun(t, "usage", "report", "--data-dir", dir, "--month", "2026-11", "-o", "json")
		if entries, _ := os.ReadDir(wd); len(entries) != 0 {
			t.Errorf("usage report -o json wrote %v; want nothing", entries)
		}
	})

	t.Run("unknown format", func(t *testing.T) {
		for _, args := range [][]string{{"clients", "list"}, {"rights", "show"}, {"usage", "report", "--month", "2026-11"}} {
			code, _, errOut := runTool(t, append(args, "--data-dir", dir, "-o", "yaml")...)
			if code != 2 || !strings.Contains(errOut, "-o") {
				t.Errorf("%s -o yaml = exit %d %q; want 2 naming -o", strings.Join(args, " "), code, errOut)
			}
		}
	})
}

func TestVersion(t *testing.T) {
	t.Run("from the build information", func(t *testing.T) {
		readBuildInfo = func() (*debug.BuildInfo, bool) {
			return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tamkeen/tamkeen/tools", Version: "v0.4.0"},
				Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "49f3190abc"}, {Key: "vcs.time", Value: "2026-11-20T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}, true
		}
		t.Cleanup(func() { readBuildInfo = debug.ReadBuildInfo })
		var got buildVersion
		decodeJSON(t, mustRun(t, "version", "-o", "json"), &got)
		want := buildVersion{Module: "github.com/tamkeen/tamkeen/tools", Version: "v0.4.0", GoVersion: "go1.26.8", Revision: "49f3190abc", Time: "2026-11-20T10:00:00Z", Modified: true}
		if got != want {
			t.Errorf("version -o json = %+v; want %+v", got, want)
		}
		out := mustRun(t, "version")
		for _, s := range []string{"tamkeen v0.4.0", "revision: 49f3190abc (with uncommitted changes)", "github.com/tamkeen/tamkeen/tools"} {
			if !strings.Contains(out, s) {
				t.Errorf("version =\n%s\nwant %q", out, s)
			}
		}
	})

	t.Run("a built binary names its commit", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds the binary")
		}
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil {
			t.Skipf("not in a git checkout: %v", err)
		}
		// In the workspace Go stamps no VCS information: the revision
		// comes from the linker flag the builds pass.
		bin := filepath.Join(t.TempDir(), "tamkeen")
		rev := strings.TrimSpace(string(head))
		if out, err := exec.Command("go", "build", "-ldflags", "-X main.revision="+rev+" -X main.version=v0.0.0-test", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version", "-o", "json").Output()
		if err != nil {
			t.Fatal(err)
		}
		var got buildVersion
		decodeJSON(t, string(out), &got)
		if got.Module != "github.com/tamkeen/tamkeen/tools" || got.Version != "v0.0.0-test" || got.Revision != rev || !strings.HasPrefix(got.GoVersion, "go1.") {
			t.Errorf("tamkeen version -o json = %+v; want module github.com/tamkeen/tamkeen/tools at revision %s", got, head)
		}
	})
}

func TestCompletion(t *testing.T) {
	// The table completion reads covers every command.
	for name := range commands {
		if _, ok := commandConfigs[name]; !ok {
			t.Errorf("command %q has no entry in commandConfigs: completion would offer none of its flags", name)
		}
	}
	for name := range subcommandWords {
		if _, ok := commands[name]; !ok && name != "completion" {
			t.Errorf("subcommandWords names %q, which is no command", name)
		}
	}

	script := mustRun(t, "completion", "bash")
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	// complete runs the script's function as bash would on <Tab> after
	// words, and returns what it offers.
	complete := func(words ...string) []string {
		t.Helper()
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" + strconv.Itoa(len(words)-1) +
			"; _tamkeen; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"tamkeen", ""}, commandNames()},
		{[]string{"tamkeen", "c"}, []string{"clients", "completion"}},
		{[]string{"tamkeen", "ver"}, []string{"version"}},
		{[]string{"tamkeen", "clients", "r"}, []string{"rotate-secret", "revoke"}},
		{[]string{"tamkeen", "completion", ""}, []string{"bash", "zsh"}},
		{[]string{"tamkeen", "usage", "report", "--m"}, []string{"--month"}},
		{[]string{"tamkeen", "clients", "list", "-o", ""}, []string{"table", "json"}},
		{[]string{"tamkeen", "migrate", "--st"}, []string{"--status"}},
		{[]string{"tamkeen", "clients", "show", "--i"}, []string{"--id", "--id-token-alg"}},
		{[]string{"tamkeen", "version", "-"}, []string{"-o"}},
	} {
		if got := complete(tc.words...); !slices.Equal(got, tc.want) {
			t.Errorf("bash completion of %q = %q; want %q", tc.words, got, tc.want)
		}
	}

	zsh := mustRun(t, "completion", "zsh")
	if !strings.HasPrefix(zsh, "#compdef tamkeen\n") || !strings.Contains(zsh, "compadd -- "+strings.Join(commandNames(), " ")) {
		t.Errorf("zsh completion lacks its #compdef line or the commands:\n%s", zsh)
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command("zsh", "-n", "-c", zsh).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}

	if code, _, errOut := runTool(t, "completion", "fish"); code != 2 || !strings.Contains(errOut, "fish") {
		t.Errorf("completion fish = exit %d %q; want 2 naming the shell", code, errOut)
	}
	if code, _, _ := runTool(t, "completion"); code != 2 {
		t.Errorf("completion without a shell = exit %d; want 2", code)
	}
}

// TestListing: the listing printer every listing command uses prints a
// table (with its note under an empty one) or a JSON array ([] when
// empty).
func TestListing(t *testing.T) {
	type item struct{ name, size string }
	l := listing[item]{
		header: []string{"NAME", "SIZE"},
		row:    func(it item) []string { return []string{it.name, it.size} },
		json: func(it item) any {
			return struct {
				Name string `json:"name"`
			}{it.name}
		},
		empty: "(nothing)",
	}
	items := []item{{"a", "1"}, {"long-name", "22"}}
	tests := []struct {
		name   string
		asJSON bool
		items  []item
		want   string
	}{
		{"table", false, items, "NAME       SIZE\na          1\nlong-name  22\n"},
		{"empty table", false, nil, "NAME  SIZE\n(nothing)\n"},
		{"json", true, items, "[\n  {\n    \"name\": \"a\"\n  },\n  {\n    \"name\": \"long-name\"\n  }\n]\n"},
		{"empty json", true, nil, "[]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := l.print(&b, tc.asJSON, tc.items); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("print = %q; want %q", got, tc.want)
			}
		})
	}
}
