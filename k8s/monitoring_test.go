package k8s_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The monitoring as code of issue 16 (base/monitoring): one
// PrometheusRule whose spec.groups is also the plain rule file promtool
// checks and unit-tests, and the Grafana dashboard.
const (
	ruleFile     = "base/monitoring/prometheusrule.yaml"
	ruleTestsDir = "base/monitoring/tests"
	dashboardDir = "base/monitoring/dashboards"
	// runbookBase is where every alert's runbook_url points: a heading of
	// docs/operations.md named after the alert.
	runbookBase = "https://github.com/tamkeen/tamkeen/blob/main/docs/operations.md#"
)

// promtool returns the path of promtool (Debian's prometheus package,
// which deploy/local/ensure-services.sh installs). Without it the test
// fails, unless TAMKEEN_TEST_SKIP_PROMTOOL=1 asks to skip it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("TAMKEEN_TEST_SKIP_PROMTOOL") == "1" {
		t.Skip("promtool is not installed and TAMKEEN_TEST_SKIP_PROMTOOL=1")
	}
	t.Fatalf("promtool is not installed (apt-get install prometheus; deploy/local/ensure-services.sh does it): %v; "+
		"set TAMKEEN_TEST_SKIP_PROMTOOL=1 to skip the rule tests", err)
	return ""
}

// loadRules strictly decodes the PrometheusRule into the operator's own
// Go type: an unknown or duplicate field fails.
func loadRules(t *testing.T) *monitoringv1.PrometheusRule {
	t.Helper()
	b, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", ruleFile, err)
	}
	var pr monitoringv1.PrometheusRule
	strict, err := sigsjson.UnmarshalStrict(j, &pr, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err == nil && len(strict) > 0 {
		err = fmt.Errorf("%v", strict)
	}
	if err != nil {
		t.Fatalf("%s does not decode strictly as a PrometheusRule: %v", ruleFile, err)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || len(pr.Spec.Groups) == 0 {
		t.Fatalf("%s is %s %s with %d groups; want a monitoring.coreos.com/v1 PrometheusRule with groups", ruleFile, pr.APIVersion, pr.Kind, len(pr.Spec.Groups))
	}
	return &pr
}

// promRuleFile is the PrometheusRule's spec.groups as a Prometheus rule
// file, taken from the YAML as written (not re-encoded from Go types).
func promRuleFile(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(ruleFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Spec struct {
			Groups []any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(map[string]any{"groups": doc.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ruleTestFiles lists the promtool rule unit tests.
func ruleTestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(ruleTestsDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule tests in %s: %v", ruleTestsDir, err)
	}
	return files
}

// promtoolDir writes rules.yaml (the rule file) and copies of the rule
// unit tests, whose rule_files name rules.yaml, into a temporary
// directory; it returns the directory and the tests' base names.
func promtoolDir(t *testing.T) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), promRuleFile(t), 0o600); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range ruleTestFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.Base(f))
	}
	return dir, names
}

// slowRuleTests evaluate the rules over a week of series (some 25 s);
// -short leaves them out.
var slowRuleTests = map[string]bool{"rate-drop.yaml": true}

// TestMonitoringPromtool: `promtool check rules` accepts the rule file and
// `promtool test rules` passes every unit test in base/monitoring/tests
// (with -short, all but slowRuleTests).
func TestMonitoringPromtool(t *testing.T) {
	bin := promtool(t)
	dir, tests := promtoolDir(t)
	if testing.Short() {
		tests = slices.DeleteFunc(tests, func(name string) bool { return slowRuleTests[name] })
	}
	check := exec.Command(bin, "check", "rules", "rules.yaml")
	check.Dir = dir
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	run := exec.Command(bin, append([]string{"test", "rules"}, tests...)...)
	run.Dir = dir
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// ruleTest is what the coverage check reads of a promtool test file.
type ruleTest struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestMonitoringAlertConventions: every alert has a severity (critical or
// warning), a summary, a description and a runbook_url that points at its
// own heading in docs/operations.md; the unit tests see every alert fire
// and, at another time or for other series, not fire, and name no alert
// that does not exist.
func TestMonitoringAlertConventions(t *testing.T) {
	pr := loadRules(t)
	anchors := markdownAnchors(t, filepath.Join("..", "docs", "operations.md"))
	alerts := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q; want critical or warning", r.Alert, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s has no %s annotation", r.Alert, a)
				}
			}
			want := runbookBase + strings.ToLower(r.Alert)
			if got := r.Annotations["runbook_url"]; got != want {
				t.Errorf("%s: runbook_url %q; want %q", r.Alert, got, want)
			}
			if !anchors[strings.ToLower(r.Alert)] {
				t.Errorf("%s: docs/operations.md has no heading %q (its runbook anchor)", r.Alert, r.Alert)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("no alerts")
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range ruleTestFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rt ruleTest
		if err := yaml.Unmarshal(b, &rt); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !slices.Equal(rt.RuleFiles, []string{"rules.yaml"}) {
			t.Errorf("%s: rule_files %v; want [rules.yaml] (the PrometheusRule's groups)", f, rt.RuleFiles)
		}
		for _, tc := range rt.Tests {
			for _, a := range tc.AlertRuleTest {
				if !alerts[a.Alertname] {
					t.Errorf("%s: test %q checks alert %s, which no rule defines", f, tc.Name, a.Alertname)
				}
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("%s: a unit test expects it to fire %v, not to fire %v; want both", a, fires[a], quiet[a])
		}
	}
}

// markdownAnchors returns the anchors GitHub gives the headings of a
// Markdown file: lower case, punctuation dropped, spaces as hyphens.
func markdownAnchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	drop := regexp.MustCompile(`[^\p{L}\p{N} _-]`)
	out := map[string]bool{}
	s := bufio.NewScanner(f)
	fence := false
	for s.Scan() {
		line := s.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		out[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// family is a metric family of testdata/metricnames.txt.
type family struct {
	kind   string
	labels []string
}

// knownFamilies reads testdata/metricnames.txt: the metric families the
// processes export (issue 16's agreed names) with their labels.
func knownFamilies(t *testing.T) map[string]family {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "metricnames.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]family{}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) != 3 {
			t.Fatalf("testdata/metricnames.txt:%d: want name, type and labels (- for none)", i+1)
		}
		fam := family{kind: f[1]}
		if f[2] != "-" {
			fam.labels = strings.Split(f[2], ",")
		}
		out[f[0]] = fam
	}
	return out
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"instance", "job", "namespace", "pod", "container"}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}`)
	promMatcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promToken    = regexp.MustCompile(`[0-9][0-9a-zA-Z_.]*|[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "offset": true, "bool": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "atan2": true}
)

// selector is a metric name in a PromQL expression with the label names
// its matchers use (those of every selector of that name in the
// expression).
type selector struct {
	name   string
	labels []string
}

// promSelectors lists the metric names a PromQL expression selects, with
// the labels of their matchers. It is a scanner, not a parser: string
// literals, label matchers, ranges and grouping lists are blanked out, and
// what remains of the identifiers that are not functions or keywords are
// metric names.
func promSelectors(expr string) []selector {
	e := promString.ReplaceAllString(expr, `""`)
	matchers := map[string][]string{}
	e = promSelector.ReplaceAllStringFunc(e, func(m string) string {
		sm := promSelector.FindStringSubmatch(m)
		var ls []string
		for _, mm := range promMatcher.FindAllStringSubmatch(sm[2], -1) {
			ls = append(ls, mm[1])
		}
		matchers[sm[1]] = append(matchers[sm[1]], ls...)
		return sm[1] + " "
	})
	e = promRange.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	var out []selector
	for _, m := range promToken.FindAllStringSubmatch(e, -1) {
		tok := m[0]
		if m[1] != "" || (tok[0] >= '0' && tok[0] <= '9') || promKeywords[strings.ToLower(tok)] {
			continue // a function call, a number or duration, a keyword
		}
		out = append(out, selector{name: tok, labels: matchers[tok]})
	}
	return out
}

// TestPromSelectors: the scanner the name checks rely on finds the metric
// names and matcher labels, and nothing else, in the shapes the rules and
// the dashboard use.
func TestPromSelectors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string // name(label,label)
	}{
		{`rate(gateway_shed_total[5m]) > 0`, []string{"gateway_shed_total()"}},
		{`sum by (enabler) (label_replace(rate(x_total{status=~"5..", route!="a{b}"}[5m]), "enabler", "auth", "route", "/v1/(auth)([/:].*)?"))`,
			[]string{"x_total(status,route)"}},
		{`histogram_quantile(0.99, sum by (le, route) (rate(h_seconds_bucket{route=~"$r"}[$__rate_interval])))`, []string{"h_seconds_bucket(route)"}},
		{`a:b:rate5m{enabler!=""} < 0.5 * avg_over_time(a:b:rate5m[30m] offset 1w) and on (enabler) c > 1e3`,
			[]string{"a:b:rate5m(enabler)", "a:b:rate5m(enabler)", "c()"}},
		{`min by (role) (m_seconds > 0) - time() < 21 * 86400 or vector(1) unless ignoring (x) group_left (y) n`,
			[]string{"m_seconds()", "n()"}},
		{`deriv(max by (service) (p)[10m:1m]) > +Inf`, []string{"p()"}},
	} {
		var got []string
		for _, s := range promSelectors(tc.expr) {
			got = append(got, s.name+"("+strings.Join(s.labels, ",")+")")
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("promSelectors(%q) = %v; want %v", tc.expr, got, tc.want)
		}
	}
}

// checkExpr reports, for one expression, metric names that are neither a
// known family (a histogram's _bucket, _sum and _count included) nor a
// series the rules record, and matcher labels the series does not carry.
func checkExpr(t *testing.T, where, expr string, families map[string]family, recorded map[string]bool, used map[string]bool) {
	t.Helper()
	for _, s := range promSelectors(expr) {
		var labels []string
		switch {
		case recorded[s.name]:
			labels = []string{"enabler"}
		default:
			name, fam, ok := s.name, family{}, false
			if fam, ok = families[name]; !ok {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base := strings.TrimSuffix(name, suffix)
					if f, found := families[base]; found && base != name && f.kind == "histogram" {
						fam, ok, name = f, true, base
						if suffix == "_bucket" {
							fam.labels = append(slices.Clone(fam.labels), "le")
						}
					}
				}
			}
			if !ok {
				t.Errorf("%s: %q names %s, which is neither in testdata/metricnames.txt nor recorded by the rules", where, expr, s.name)
				continue
			}
			used[name] = true
			labels = fam.labels
		}
		for _, l := range s.labels {
			if !slices.Contains(labels, l) && !slices.Contains(targetLabels, l) {
				t.Errorf("%s: %q matches on label %s, which %s does not have (%v)", where, expr, l, s.name, labels)
			}
		}
	}
}

// recordedNames are the series the rules record.
func recordedNames(pr *monitoringv1.PrometheusRule) map[string]bool {
	out := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out[r.Record] = true
			}
		}
	}
	return out
}

// TestMonitoringRuleMetricNames: every expression of the rules names only
// metric families the processes export (testdata/metricnames.txt) or
// series the rules record, with labels those series carry.
func TestMonitoringRuleMetricNames(t *testing.T) {
	pr := loadRules(t)
	families, recorded := knownFamilies(t), recordedNames(pr)
	used := map[string]bool{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			checkExpr(t, g.Name+"/"+r.Alert+r.Record, r.Expr.String(), families, recorded, used)
		}
	}
}

// dashboardExprs walks a Grafana dashboard (rows' nested panels included)
// and returns each query expression by "panel title/refId"; it also checks
// the panels' ids are unique and each uses the datasource variable.
func dashboardExprs(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
	}
	type panel struct {
		ID      int               `json:"id"`
		Type    string            `json:"type"`
		Title   string            `json:"title"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []target          `json:"targets"`
	}
	var d struct {
		UID    string            `json:"uid"`
		Title  string            `json:"title"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: uid %q, title %q, %d panels; want all three", path, d.UID, d.Title, len(d.Panels))
	}
	ids := map[int]bool{}
	out := map[string]string{}
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if ids[p.ID] {
				t.Errorf("%s: panel id %d is used twice", path, p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", path, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource.Type != "prometheus" || tg.Datasource.UID != "${datasource}" || strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q query %s: datasource %+v, expr %q; want Prometheus ${datasource} and an expression", path, p.Title, tg.RefID, tg.Datasource, tg.Expr)
				}
				out[p.Title+"/"+tg.RefID] = tg.Expr
			}
		}
	}
	walk(d.Panels)
	return out
}

// grafanaVars stand in for Grafana's interval variables when promtool
// parses a dashboard's expressions.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// TestMonitoringDashboards: each dashboard parses, its expressions parse
// as PromQL (promtool checks them as recording rules) and name only known
// metric families with their labels, and together the dashboards show
// every family of testdata/metricnames.txt.
func TestMonitoringDashboards(t *testing.T) {
	bin := promtool(t)
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	families, recorded := knownFamilies(t), recordedNames(loadRules(t))
	used := map[string]bool{}
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for _, f := range files {
		exprs := dashboardExprs(t, f)
		keys := make([]string, 0, len(exprs))
		for k := range exprs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			checkExpr(t, filepath.Base(f)+": "+k, exprs[k], families, recorded, used)
			rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query_%d", len(rules)), Expr: grafanaVars.Replace(exprs[k])})
		}
	}
	for name := range families {
		if !used[name] {
			t.Errorf("no dashboard shows %s", name)
		}
	}
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboards.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the dashboards' expressions: %v\n%s", err, out)
	}
}
