package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The guides under docs/guides are tested: TestGuidesCurlBlocksRunAgainstDev
// runs their shell blocks against `tamkeen dev`. The conventions a guide
// follows (docs/guides/README.md says the same for writers):
//
//   - A fenced block whose info string starts with sh or bash runs, in the
//     guide's order, in one bash session per guide (set -euo pipefail), so
//     a variable one block exports is there in the next. The session starts
//     in an empty directory with TAMKEEN (the gateway's base URL),
//     CLIENT_ID and CLIENT_SECRET (the demo ministry client) set.
//   - "no-run" after the language (```sh no-run) keeps a block out: it
//     needs a browser, production, or a value only a person has.
//   - "server" (```sh server) marks how to start `tamkeen dev` for the
//     guide: the test does not run it, but starts dev with the
//     TAMKEEN_…=… assignments written before `make run`.
//   - "file=NAME" (```js file=receiver.mjs) writes the block to NAME in the
//     session's directory before any block runs, so a later block can run
//     it (node receiver.mjs, go run verify.go).
//   - Every curl fails on an HTTP error: -f (-fsS) or --fail, unless the
//     command checks the answer itself (jq -e, or -w '%{http_code}'); the
//     test refuses a runnable curl that does neither.

// guideBlock is one fenced block of a guide.
type guideBlock struct {
	lang  string
	attrs map[string]string // "no-run", "server" → ""; "file" → NAME
	text  string
	line  int // of the opening fence
}

// parseGuide returns the fenced blocks of a Markdown document.
func parseGuide(t *testing.T, path string) []guideBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []guideBlock
		cur  *guideBlock
		body strings.Builder
		n    int
	)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		n++
		line := sc.Text()
		if cur == nil {
			info, ok := strings.CutPrefix(line, "```")
			if !ok {
				continue
			}
			fields := strings.Fields(info)
			cur = &guideBlock{attrs: map[string]string{}, line: n}
			if len(fields) > 0 {
				cur.lang = fields[0]
				for _, a := range fields[1:] {
					k, v, _ := strings.Cut(a, "=")
					cur.attrs[k] = v
				}
			}
			body.Reset()
			continue
		}
		if strings.TrimSpace(line) == "```" {
			cur.text = body.String()
			out = append(out, *cur)
			cur = nil
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: the block opened at line %d is never closed", path, cur.line)
	}
	return out
}

func (b guideBlock) shell() bool { return b.lang == "sh" || b.lang == "bash" }

func (b guideBlock) runnable() bool {
	_, noRun := b.attrs["no-run"]
	_, server := b.attrs["server"]
	return b.shell() && !noRun && !server
}

var (
	curlWord      = regexp.MustCompile(`(^|[\s;(|&$])curl\s`)
	curlFailFlag  = regexp.MustCompile(`\s-[a-zA-Z]*f[a-zA-Z]*(\s|$)|\s--fail(-with-body)?(\s|$)`)
	curlSelfCheck = regexp.MustCompile(`jq -e|%\{http_code\}`)
	devAssignment = regexp.MustCompile(`\b(TAMKEEN_[A-Z0-9_]+)=(\S+)`)
)

// uncheckedCurls returns the commands of a runnable block that call curl
// without failing on an HTTP error and without checking the answer.
func uncheckedCurls(text string) []string {
	var bad []string
	for _, c := range shellCommands(text) {
		if curlWord.MatchString(c) && !curlFailFlag.MatchString(c) && !curlSelfCheck.MatchString(c) {
			bad = append(bad, strings.TrimSpace(c))
		}
	}
	return bad
}

// shellCommands splits text into commands at the newlines that are neither
// escaped nor inside quotes (a JSON body may span lines), leaving out
// comments.
func shellCommands(text string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote byte
	)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && quote != '\'' && i+1 < len(text):
			cur.WriteByte(c)
			i++
			c = text[i]
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || text[i-1] == ' ' || text[i-1] == '\n'):
			for i+1 < len(text) && text[i+1] != '\n' {
				i++
			}
			continue
		case c == '\n':
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return append(out, cur.String())
}

// serverEnv is the dev environment a guide's server blocks ask for.
func serverEnv(blocks []guideBlock) map[string]string {
	env := map[string]string{}
	for _, b := range blocks {
		if _, ok := b.attrs["server"]; !ok {
			continue
		}
		for _, m := range devAssignment.FindAllStringSubmatch(b.text, -1) {
			env[m[1]] = strings.Trim(m[2], `'"`)
		}
	}
	return env
}

func TestGuideConventions(t *testing.T) {
	t.Parallel()
	blocks := parseGuide(t, writeTemp(t, "g.md", "intro\n```sh\ncurl -fsS $TAMKEEN/a\ncurl -s $TAMKEEN/b | jq -e .ok\n"+
		"curl -s -o /dev/null -w '%{http_code}' x\ncurl -s \\\n  $TAMKEEN/c\ncurl -sS $TAMKEEN/d -d '{\n\"a\": 1}' | jq -e .ok # it's fine\n# curl it's only a comment\n```\n```sh no-run\ncurl -s x\n```\n"+
		"```sh server\nTAMKEEN_A=1 TAMKEEN_B='x=y' make run\n```\n```js file=r.mjs\nconsole.log(1)\n```\n"))
	if len(blocks) != 4 {
		t.Fatalf("got %d blocks; want 4", len(blocks))
	}
	if got := uncheckedCurls(blocks[0].text); len(got) != 1 || !strings.Contains(got[0], "$TAMKEEN/c") {
		t.Errorf("unchecked curls = %q; want only the one to /c", got)
	}
	if blocks[1].runnable() || blocks[2].runnable() || !blocks[0].runnable() || blocks[3].runnable() {
		t.Error("runnable() wrong for no-run, server, sh or js")
	}
	if env := serverEnv(blocks); env["TAMKEEN_A"] != "1" || env["TAMKEEN_B"] != "x=y" || len(env) != 2 {
		t.Errorf("server env = %v", env)
	}
	if blocks[3].attrs["file"] != "r.mjs" || blocks[3].line != 18 {
		t.Errorf("file block = %+v", blocks[3])
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGuidesCurlBlocksRunAgainstDev: every runnable shell block of every
// guide in docs/guides runs green against a fresh `tamkeen dev` (one per
// guide, started with the guide's server settings).
func TestGuidesCurlBlocksRunAgainstDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tamkeen dev once per guide")
	}
	for _, tool := range []string{"bash", "curl", "jq", "openssl", "node", "oathtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the guides: %v", tool, err)
		}
	}
	guides, err := filepath.Glob("../../docs/guides/*.md")
	if err != nil || len(guides) == 0 {
		t.Fatalf("no guides: %v", err)
	}
	const secret = "guides-demo-client-secret-1"
	for _, path := range guides {
		if filepath.Base(path) == "README.md" {
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(path), ".md"), func(t *testing.T) {
			blocks := parseGuide(t, path)
			var script strings.Builder
			script.WriteString("set -euo pipefail\n")
			dir := t.TempDir()
			runs := 0
			for _, b := range blocks {
				if name := b.attrs["file"]; name != "" {
					if filepath.Base(name) != name {
						t.Fatalf("line %d: file=%s must be a plain name", b.line, name)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(b.text), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if !b.runnable() {
					continue
				}
				for _, c := range uncheckedCurls(b.text) {
					t.Errorf("%s:%d: curl neither fails on an HTTP error (-f) nor checks the answer: %s", path, b.line, c)
				}
				runs++
				script.WriteString("echo '>>> block at line " + strconv.Itoa(b.line) + "' >&2\n")
				script.WriteString(b.text)
			}
			if runs == 0 {
				t.Skip("no runnable shell block")
			}
			env := serverEnv(blocks)
			env["TAMKEEN_DEV_CLIENT_SECRET"] = secret
			base, logs := startDevHooks(t, t.TempDir(), devHooks{}, env)

			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "TAMKEEN="+base, "CLIENT_ID=demo-ministry", "CLIENT_SECRET="+secret, "GOWORK=off")
			// The guide may start a receiver in the background: its own
			// process group, killed whole when the session ends.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			// A background receiver a failed block left running holds the
			// output open; stop waiting for it soon after bash exits.
			cmd.WaitDelay = 3 * time.Second
			out, err := cmd.CombinedOutput()
			if errors.Is(err, exec.ErrWaitDelay) {
				err = nil
			}
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			if err != nil {
				t.Errorf("%s: %v\n%s", path, err, tail(string(out), 6000))
				t.Logf("dev logs:\n%s", tail(logs.String(), 4000))
			}
		})
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
