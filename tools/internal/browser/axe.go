package browser

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/chromedp/chromedp"
)

// AxePathEnv names a variable holding another axe.min.js than the one
// deploy/local/ensure-services.sh installs next to this package.
const AxePathEnv = "TAMKEEN_AXE"

// WCAG21AA are the axe-core rule tags of WCAG 2.1 level A and AA, what
// Axe checks when given no tags.
var WCAG21AA = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// AxeViolation is one axe-core rule that the page breaks.
type AxeViolation struct {
	// ID is the rule, e.g. "color-contrast" or "label".
	ID string `json:"id"`
	// Impact is minor, moderate, serious or critical.
	Impact string `json:"impact"`
	// Help says in a sentence what the rule wants.
	Help string `json:"help"`
	// HelpURL explains the rule on Deque's site.
	HelpURL string `json:"helpUrl"`
	// Nodes are the elements that break it.
	Nodes []AxeNode `json:"nodes"`
}

// AxeNode is one element that breaks a rule.
type AxeNode struct {
	// Target is the CSS selector path axe gives (one entry per frame or
	// shadow root on the way).
	Target []any `json:"target"`
	// HTML is the element's opening markup, shortened by axe.
	HTML string `json:"html"`
	// Summary is axe's failureSummary: what to fix.
	Summary string `json:"summary"`
}

// axeResult is what the script in Axe returns.
type axeResult struct {
	Violations []AxeViolation `json:"violations"`
	// Incomplete are the rules axe could not decide (e.g. contrast over
	// an image): logged for a person to review, never failed.
	Incomplete []string `json:"incomplete"`
}

var axeSource struct {
	sync.Mutex
	js string
}

// AxePath is where Axe reads axe-core from: $TAMKEEN_AXE, else
// axe/node_modules/axe-core/axe.min.js next to this file (tests always
// build from the source tree).
func AxePath() string {
	if p := os.Getenv(AxePathEnv); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "axe", "node_modules", "axe-core", "axe.min.js")
}

// loadAxe reads axe.min.js once per test binary; ok is false when it is
// missing and SkipEnv=1, in which case the check is skipped.
func (p *Page) loadAxe() (js string, ok bool) {
	p.t.Helper()
	axeSource.Lock()
	defer axeSource.Unlock()
	if axeSource.js != "" {
		return axeSource.js, true
	}
	path := AxePath()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			if p.axeSkipped {
				return "", false
			}
			p.axeSkipped = true
			p.t.Logf("browser: axe-core is not at %s, and %s=1 skips the accessibility checks", path, SkipEnv)
			return "", false
		}
		p.t.Fatalf("browser: axe-core is not at %s: %v\n"+
			"Install it with deploy/local/ensure-services.sh (npm ci --prefix tools/internal/browser/axe), "+
			"point %s at an axe.min.js, or set %s=1 to skip browser tests.", path, err, AxePathEnv, SkipEnv)
	}
	axeSource.js = string(b)
	return axeSource.js, true
}

// Axe runs axe-core (https://github.com/dequelabs/axe-core) on the current
// page and returns the rules it breaks, with the elements that break them.
// tags choose the rules (axe's runOnly tags); without them it checks
// WCAG21AA.
//
// axe.min.js is evaluated through the DevTools protocol, which the page's
// Content-Security-Policy does not govern, so pages with a strict CSP
// (no inline or outside scripts) are checked as they are served. What axe
// could not decide is logged for review.
func (p *Page) Axe(tags ...string) []AxeViolation {
	p.t.Helper()
	js, ok := p.loadAxe()
	if !ok {
		return nil
	}
	if len(tags) == 0 {
		tags = WCAG21AA
	}
	quoted, _ := json.Marshal(tags)
	// Inject once per document: a navigation gives a fresh window.
	run(p, "inject axe-core", chromedp.Evaluate[bool](`(() => { if (!window.axe) { `+js+"\n"+` } return !!window.axe })()`))
	got := run(p, "run axe-core", chromedp.Evaluate[axeResult](`axe.run(document, {
		runOnly: {type: "tag", values: `+string(quoted)+`},
		resultTypes: ["violations", "incomplete"],
	}).then(r => ({
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary || ""})),
		})),
		incomplete: r.incomplete.map(v => v.id + " (" + v.nodes.length + ")"),
	}))`, chromedp.EvalAwaitPromise))
	if len(got.Incomplete) > 0 {
		p.t.Logf("browser: axe-core could not decide on %s: %s", p.URL(), strings.Join(got.Incomplete, ", "))
	}
	return got.Violations
}

// NoAxeViolations fails the test when axe-core finds the current page
// breaking a rule of tags (WCAG21AA without them), listing each rule with
// the elements that break it. It is a method, like NoHorizontalScroll,
// because the Page already holds the test.
func (p *Page) NoAxeViolations(tags ...string) {
	p.t.Helper()
	vs := p.Axe(tags...)
	if len(vs) == 0 {
		return
	}
	p.t.Errorf("browser: %s breaks %d accessibility rule(s) (axe-core):\n%s", p.URL(), len(vs), FormatAxe(vs))
}

// FormatAxe lists violations one rule and its elements a line, for test
// failures.
func FormatAxe(vs []AxeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s (%s): %s — %s\n", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "    %v %s\n", n.Target, n.HTML)
			if n.Summary != "" {
				fmt.Fprintf(&b, "      %s\n", strings.ReplaceAll(n.Summary, "\n", "\n      "))
			}
		}
	}
	return b.String()
}
