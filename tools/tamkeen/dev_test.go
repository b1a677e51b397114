package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// designRoutes are the routes of DESIGN.md section 7, with path parameters
// written as {} (their names are the proto fields').
var designRoutes = []string{
	"POST /oauth2/token",
	"GET /.well-known/openid-configuration",
	"GET /.well-known/jwks.json",
	"POST /v1/citizens",
	"POST /v1/auth/login",
	"POST /v1/auth/otp/challenges",
	"POST /v1/auth/otp/challenges/{}:verify",
	"POST /v1/auth/totp:enroll",
	"POST /v1/auth/totp:confirm",
	"POST /v1/auth/refresh",
	"POST /v1/auth/logout",
	"POST /v1/notifications/sms",
	"POST /v1/notifications/email",
	"GET /v1/notifications/{}",
	"POST /v1/templates",
	"GET /v1/templates",
	"POST /v1/signing/credentials",
	"POST /v1/signing/credentials/{}:authorize",
	"POST /v1/signatures",
	"POST /v1/signatures:verify",
	"POST /tsa",
	"GET /v1/signing/ca",
	"GET /v1/signing/crl",
	"POST /v1/payments",
	"GET /v1/payments/{}",
	"POST /v1/payments/{}/refunds",
	"POST /v1/payments/providers/{}/webhook",
	"GET /v1/ledger/trial-balance",
	"POST /v1/content/items",
	"PUT /v1/content/items/{}/draft",
	"POST /v1/content/items/{}:submit",
	"POST /v1/content/items/{}:approve",
	"POST /v1/content/items/{}:reject",
	"POST /v1/content/items/{}:publish",
	"POST /v1/content/items/{}:unpublish",
	"POST /v1/content/items/{}:rollback",
	"GET /v1/content/items/{}/versions",
	"GET /v1/public/content/{}",
	"GET /v1/public/search",
	"GET /openapi.json",
	"GET /docs",
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// buildTamkeen compiles the command once per test binary run.
var buildTamkeen = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tamkeen-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tamkeen")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// devProcess is a running `tamkeen dev` subprocess.
type devProcess struct {
	cmd    *exec.Cmd
	url    string
	opsURL string
	stdout string
	stderr *bytes.Buffer
}

// startDev runs `tamkeen dev` on dataDir and a free port and waits for it
// to print its URL.
func startDev(t *testing.T, dataDir string) *devProcess {
	t.Helper()
	bin, err := buildTamkeen()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TAMKEEN_DEV_CLIENT_SECRET=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &devProcess{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	deadline := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("tamkeen dev exited before it was ready; stdout:\n%s\nstderr:\n%s", out.String(), p.stderr)
			}
			out.WriteString(line + "\n")
			if u, found := strings.CutPrefix(line, "Tamkeen is running at "); found {
				p.url = u
			}
			if u, found := strings.CutPrefix(line, "  operations     "); found {
				p.opsURL = strings.Fields(u)[0]
			}
			if line == "Press Ctrl-C to stop." {
				p.stdout = out.String()
				go func() {
					for range lines {
					}
				}()
				return p
			}
		case <-deadline:
			t.Fatalf("tamkeen dev not ready after 60 s; stdout:\n%s\nstderr:\n%s", out.String(), p.stderr)
		}
	}
}

// stop sends SIGINT and returns the exit code.
func (p *devProcess) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("tamkeen dev did not stop within 30 s of SIGINT; stderr:\n%s", p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestDevOnCleanDataDirServesAndStopsOnSIGINT(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the tamkeen binary")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	p := startDev(t, dataDir)

	// The operators' endpoints are on --ops-addr, not the API port.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := get(t, p.opsURL+path); code != http.StatusOK {
			t.Errorf("GET ops %s = %d %s; want 200", path, code, body)
		}
		if code, _ := get(t, p.url+path); code != http.StatusNotFound {
			t.Errorf("GET API %s = %d; want 404 (served on the ops listener only)", path, code)
		}
	}

	code, body := get(t, p.url+"/openapi.json")
	if code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d; want 200", code)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	listed := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			listed[strings.ToUpper(method)+" "+pathParam.ReplaceAllString(path, "{}")] = true
		}
	}
	for _, r := range designRoutes {
		if !listed[r] {
			t.Errorf("/openapi.json does not list %s (DESIGN.md section 7)", r)
		}
	}

	secretLine := regexp.MustCompile(`demo client +demo-ministry, secret (\S+)`)
	m := secretLine.FindStringSubmatch(p.stdout)
	if m == nil {
		t.Fatalf("stdout does not print the demo client's secret:\n%s", p.stdout)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status after SIGINT = %d; want 0; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), `"msg":"tamkeen dev stopped"`) {
		t.Errorf("no clean-stop log line; stderr:\n%s", p.stderr)
	}

	// A restart on the same data dir keeps the data: the same demo secret,
	// and the databases migrate as no-ops.
	p2 := startDev(t, dataDir)
	if m2 := secretLine.FindStringSubmatch(p2.stdout); m2 == nil || m2[1] != m[1] {
		t.Errorf("demo secret after restart = %v; want %q kept", m2, m[1])
	}
	if code, body := get(t, p2.opsURL+"/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz after restart = %d %s; want 200", code, body)
	}
	if code := p2.stop(t); code != 0 {
		t.Fatalf("exit status after second SIGINT = %d; want 0; stderr:\n%s", code, p2.stderr)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (every logger
// of the in-process dev server writes to it).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logLines parses the JSON log lines in s.
func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// startDevInProcess runs runDev in this process with logs captured;
// extra flags override the defaults.
func startDevInProcess(t *testing.T, extra ...string) (url string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	env := func(string) (string, bool) { return "", false }
	go func() {
		args := append([]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"}, extra...)
		done <- runDev(ctx, args, env, pw, logs)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Tamkeen is running at "); ok {
			url = u
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if url == "" {
		cancel()
		t.Fatalf("dev did not start: %v\nlogs:\n%s", <-done, logs)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("runDev returned %v after cancel; want nil", err)
		}
	})
	return url, logs
}

// TestDevInboxIsLoopbackOnly: with the gateway bound to a non-loopback
// interface address of this machine, /dev/inbox (every SMS, one-time codes
// included) is refused to a client connecting from that address, and the
// rest of the API still answers it.
func TestDevInboxIsLoopbackOnly(t *testing.T) {
	var ip net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip = n.IP
			break
		}
	}
	if ip == nil {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	url, _ := startDevInProcess(t, "--http-addr", net.JoinHostPort(ip.String(), "0"))
	resp, err := http.Get(url + "/dev/inbox?to=%2B970599000000")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("/dev/inbox from %s = %d %s %s; want a 403 problem", ip, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if code, body := get(t, url+"/openapi.json"); code != http.StatusOK {
		t.Errorf("/openapi.json from %s = %d %s; want 200", ip, code, body)
	}
}

func TestDevOneTraceIDFromGatewayToService(t *testing.T) {
	url, logs := startDevInProcess(t)

	// A public route (no token needed): the content enabler's search.
	req, err := http.NewRequest(http.MethodGet, url+"/v1/public/search?q=%D8%AC%D9%88%D8%A7%D8%B2&lang=ar", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "trace-test-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/public/search = %d; want 200", resp.StatusCode)
	}

	var gatewayTrace string
	deadline := time.Now().Add(5 * time.Second)
	for gatewayTrace == "" && time.Now().Before(deadline) {
		for _, l := range logLines(t, logs.String()) {
			if l["service"] == "gateway" && l["request_id"] == "trace-test-1" {
				gatewayTrace, _ = l["trace_id"].(string)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if gatewayTrace == "" {
		t.Fatalf("no gateway access log line with request_id trace-test-1 and a trace_id; logs:\n%s", logs)
	}
	found := false
	for _, l := range logLines(t, logs.String()) {
		if l["service"] == "content" && l["method"] == "/tamkeen.content.v1.ContentService/SearchPublicContent" {
			found = true
			if l["trace_id"] != gatewayTrace {
				t.Errorf("content service logged trace_id %v; gateway logged %s; want one trace", l["trace_id"], gatewayTrace)
			}
		}
	}
	if !found {
		t.Errorf("the content service logged no SearchPublicContent call; logs:\n%s", logs)
	}
	if strings.Contains(logs.String(), "%D8%AC") || strings.Contains(logs.String(), "جواز") {
		t.Error("the query string reached the logs")
	}
}

func TestDevErrorsAreProblemJSON(t *testing.T) {
	url, _ := startDevInProcess(t)
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		field              string
	}{
		"bad field type":   {"POST", "/v1/citizens", `{"national_id": 401234567}`, 400, "national_id"},
		"unknown field":    {"POST", "/v1/citizens", `{"nationl_id": "123"}`, 400, "nationl_id"},
		"unknown route":    {"GET", "/v1/nothing-here", "", 404, ""},
		"no such content":  {"GET", "/v1/public/content/how-to-renew-a-passport?lang=ar", "", 404, ""},
		"no token":         {"GET", "/v1/payments/pay_123", "", 401, ""},
		"method not known": {"DELETE", "/v1/payments", "", 405, ""},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct {
				Status int `json:"status"`
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if resp.StatusCode != tc.status || p.Status != tc.status {
				t.Errorf("status = %d (body %d); want %d", resp.StatusCode, p.Status, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q; want application/problem+json", ct)
			}
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors = %+v; want the bad field %q named", p.Errors, tc.field)
			}
		})
	}
}

// TestDevRefusesADataDirInUse: a second tamkeen dev on a data dir another
// one holds fails at once, before it opens anything there (it used to open
// the NATS store and fail only at the listeners).
func TestDevRefusesADataDirInUse(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	err = runDevWith(context.Background(), devHooks{}, []string{"--data-dir", dir, "--http-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"},
		func(string) (string, bool) { return "", false }, io.Discard, &stderr)
	if !errors.Is(err, errDataDirInUse) {
		t.Fatalf("second tamkeen dev: %v; want errDataDirInUse", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats")); !os.IsNotExist(err) {
		t.Errorf("the refused tamkeen dev created %s/nats (stat: %v); want nothing opened", dir, err)
	}
	// Released, the same dir locks again.
	unlock()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again()
}
