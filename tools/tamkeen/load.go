package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

const loadUsage = `Usage: tamkeen load <scenario> [flags]
Drives the public HTTP API as ministries and citizens do and prints the rate,
the latency percentiles and the answers by HTTP status.

Scenarios (each prepares what it needs first, e.g. a citizen with a password):
  token            client-credentials tokens at /oauth2/token
  login            citizens' password logins (POST /v1/auth/login)
  read             an authenticated read (GET /v1/payments/{id})
  payment          payment creation with an Idempotency-Key (POST /v1/payments)
  payment-confirm  create a payment and pay it on the sandbox checkout
  sms              one SMS each (POST /v1/notifications/sms), new numbers
  bulk             a bulk SMS job of --bulk-size recipients, until finished
  public-read      a published content page, no token
  search           the public search, no token
  mixed            read, payment, sms, token, public-read and search mixed
References (the limit beside a figure; see docs/benchmarks.md):
  ref-healthz        GET /healthz on --ops-url
  ref-sqlite-commit  one-row SQLite transactions, as the services commit
  ref-argon2id       argon2id with auth's production parameters, no I/O
  ref-grpc-read      the read scenario's call, straight to payment's gRPC (--grpc-addr)

-c N workers send one request after another (closed loop); with --rate R
requests start at R per second whatever the answers (open loop, at most -c
in flight) and latency counts from when each should have started.

On Linux it also prints how busy the machine's cores were during the run and
how many cores each process used (the enablers, the gateway, PostgreSQL's
backends summed, this run), read from /proc: on a machine whose cores the load
generator shares, that tells a rate limited by the machine from one limited by
waiting.
`

// loadConfig is the command line of `tamkeen load`.
type loadConfig struct {
	BaseURL      string        `flag:"base-url" env:"LOAD_BASE_URL" default:"http://127.0.0.1:8080" usage:"the gateway's URL"`
	OpsURL       string        `flag:"ops-url" env:"LOAD_OPS_URL" default:"http://127.0.0.1:8081" usage:"the gateway's operations URL (ref-healthz)"`
	ClientID     string        `flag:"client-id" env:"LOAD_CLIENT_ID" default:"demo-ministry" usage:"the ministry app's client id"`
	ClientSecret string        `flag:"client-secret" env:"LOAD_CLIENT_SECRET" secret:"true" usage:"its secret (default: the demo client's, kept in --data-dir by tamkeen dev)"`
	DataDir      string        `flag:"data-dir" default:"./.data" usage:"tamkeen dev's data dir, where the demo client's secret is kept"`
	Concurrency  int           `flag:"c" env:"LOAD_CONCURRENCY" default:"8" usage:"workers (closed loop), or most requests in flight with --rate"`
	Rate         float64       `flag:"rate" env:"LOAD_RATE" usage:"requests started per second (open loop); 0: closed loop"`
	Duration     time.Duration `flag:"duration" env:"LOAD_DURATION" default:"10s" usage:"how long to send"`
	SourceAddrs  int           `flag:"source-addrs" env:"LOAD_SOURCE_ADDRS" usage:"spread the workers over this many source addresses 127.0.0.2… (loopback gateways limit public routes per address); 0: the system's choice"`
	BulkSize     int           `flag:"bulk-size" env:"LOAD_BULK_SIZE" default:"1000" usage:"recipients per bulk job (bulk)"`
	GRPCAddr     string        `flag:"grpc-addr" env:"LOAD_GRPC_ADDR" usage:"the payment enabler's gRPC address (ref-grpc-read)"`
	Progress     bool          `flag:"progress" env:"LOAD_PROGRESS" default:"true" usage:"print a progress line on stderr every second"`
	outputFlag
}

// Validate reports what is wrong with the load settings.
func (c loadConfig) Validate() error {
	var p config.Problems
	p.HTTPURL("base-url", c.BaseURL, true)
	p.HTTPURL("ops-url", c.OpsURL, true)
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		p.Add("c", "must be between 1 and 10000")
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		p.Add("rate", "must be 0 (closed loop) or a positive rate")
	}
	if c.Duration <= 0 {
		p.Add("duration", "must be positive")
	}
	if c.SourceAddrs < 0 || c.SourceAddrs > 250 {
		p.Add("source-addrs", "must be between 0 and 250")
	}
	if c.BulkSize < 1 || c.BulkSize > 50000 {
		p.Add("bulk-size", "must be between 1 and 50000 (the API's limit per job)")
	}
	return p.Err()
}

// outcome is how one operation ended: its HTTP status (or "transport",
// "ok", "error" for the references), whether that is the scenario's
// success, and how many items it carried (bulk: its recipients).
type outcome struct {
	status string
	ok     bool
	items  int
}

// httpOutcome is the outcome of an HTTP answer: ok when want has it.
func httpOutcome(code int, want ...int) outcome {
	return outcome{status: strconv.Itoa(code), ok: slices.Contains(want, code), items: 1}
}

// transportFailure is the outcome of a request that got no answer.
var transportFailure = outcome{status: "transport"}

// op is one operation of a scenario, run by worker w.
type op func(ctx context.Context, w *worker) outcome

// worker is one sender: its own HTTP client (bound to its source address)
// and a sequence number for unique values.
type worker struct {
	id     int
	client *http.Client
	seq    int
}

// next returns a number no other operation of this run uses.
func (w *worker) next() int {
	w.seq++
	return w.id*100_000_000 + w.seq
}

// loadResult is what a run measured: the final table, and -o json.
type loadResult struct {
	Scenario    string         `json:"scenario"`
	BaseURL     string         `json:"base_url,omitempty"`
	Mode        string         `json:"mode"`
	Concurrency int            `json:"concurrency"`
	TargetRate  float64        `json:"target_rate,omitempty"`
	Seconds     float64        `json:"seconds"`
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`
	Errors      int            `json:"errors"`
	Rate        float64        `json:"rate"`
	OKRate      float64        `json:"ok_rate"`
	Items       int            `json:"items,omitempty"`
	ItemRate    float64        `json:"item_rate,omitempty"`
	P50ms       float64        `json:"p50_ms"`
	P90ms       float64        `json:"p90_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	Statuses    map[string]int `json:"statuses"`
	// CPU is where the machine's cores went during the run (Linux).
	CPU *cpuShare `json:"cpu,omitempty"`
}

// recorder collects the outcomes of a run from every worker.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	statuses  map[string]int
	ok        int
	items     int
	done      atomic.Int64
	failed    atomic.Int64
}

func (r *recorder) add(o outcome, d time.Duration) {
	r.done.Add(1)
	if !o.ok {
		r.failed.Add(1)
	}
	r.mu.Lock()
	r.latencies = append(r.latencies, d)
	r.statuses[o.status]++
	if o.ok {
		r.ok++
		r.items += o.items
	}
	r.mu.Unlock()
}

// percentile is the q-quantile of sorted (nearest rank), in milliseconds.
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func runLoad(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fmt.Fprint(stdout, loadUsage)
			return nil
		}
		return usageError(stderr, loadUsage, "tamkeen load needs a scenario")
	}
	name := args[0]
	sc, ok := loadScenarios[name]
	if !ok {
		return usageError(stderr, loadUsage, fmt.Sprintf("unknown load scenario %q", name))
	}
	var cfg loadConfig
	if err := parseFlags(&cfg, "tamkeen load "+name, args[1:], lookupEnv, stderr); err != nil {
		return err
	}
	if sc.needsSecret && cfg.ClientSecret == "" {
		var err error
		if cfg.ClientSecret, err = keptDemoSecret(cfg); err != nil {
			return err
		}
	}
	var progress io.Writer
	if cfg.Progress {
		progress = stderr
	}
	res, err := runScenario(ctx, name, sc, cfg, progress)
	if err != nil {
		return err
	}
	if cfg.asJSON() {
		return writeJSON(stdout, res)
	}
	return writeLoadTable(stdout, res)
}

// keptDemoSecret reads the demo client's secret that tamkeen dev keeps
// in its data dir.
func keptDemoSecret(cfg loadConfig) (string, error) {
	if cfg.ClientID != demo.ClientID {
		return "", configProblem("client-secret", "required for a client other than "+demo.ClientID)
	}
	b, err := os.ReadFile(secretFile(cfg.DataDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", configProblem("client-secret", fmt.Sprintf("not given, and no demo client secret in %s (give --client-secret or tamkeen dev's --data-dir)", cfg.DataDir))
		}
		return "", fmt.Errorf("demo client secret: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// newWorkers makes n workers; with sourceAddrs > 0 and a loopback
// target, worker i sends from 127.0.0.(2 + i mod sourceAddrs).
func newWorkers(n int, cfg loadConfig) []*worker {
	ws := make([]*worker, n)
	for i := range ws {
		var local net.IP
		if cfg.SourceAddrs > 0 && loopbackTarget(cfg.BaseURL) {
			local = net.IPv4(127, 0, 0, byte(2+i%cfg.SourceAddrs))
		}
		ws[i] = &worker{id: i + 1, client: newLoadClient(local)}
	}
	return ws
}

// loopbackTarget reports whether base is on this machine's IPv4
// loopback, where any 127.0.0.x can be a source address.
func loopbackTarget(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || ip != nil && ip.IsLoopback() && ip.To4() != nil
}

// newLoadClient is an HTTP client that keeps its connections and, when
// local is set, sends from that address.
func newLoadClient(local net.IP) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConns: 4, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
	return &http.Client{
		Transport: tr, Timeout: 60 * time.Second,
		// The checkout answers 303 to the ministry's return URL, which
		// is not ours to load.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// runScenario prepares the scenario, runs it for cfg.Duration and returns
// what it measured. progress, when not nil, gets a line every second.
func runScenario(ctx context.Context, name string, sc loadScenario, cfg loadConfig, progress io.Writer) (loadResult, error) {
	workers := newWorkers(cfg.Concurrency, cfg)
	defer func() {
		for _, w := range workers {
			w.client.CloseIdleConnections()
		}
	}()
	// The preparation sends from an address of its own, so that it takes
	// nothing from the workers' per-address budgets (nor from the
	// system's address, which the gateway itself may use).
	var prepAddr net.IP
	if cfg.SourceAddrs > 0 && loopbackTarget(cfg.BaseURL) {
		prepAddr = net.IPv4(127, 0, 0, byte(2+cfg.SourceAddrs))
	}
	setupClient := newLoadClient(prepAddr)
	defer setupClient.CloseIdleConnections()
	env := &loadEnv{cfg: cfg, client: setupClient}
	do, cleanup, err := sc.setup(ctx, env)
	if err != nil {
		return loadResult{}, fmt.Errorf("prepare %s: %w", name, err)
	}
	if cleanup != nil {
		defer cleanup()
	}

	rec := &recorder{statuses: map[string]int{}}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpuBefore, cpuOK := sampleCPU()
	start := time.Now()
	deadline := start.Add(cfg.Duration)
	var wg sync.WaitGroup
	var tick atomic.Int64
	interval := time.Duration(0)
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				began := time.Now()
				if interval > 0 {
					// Open loop: the i-th request is due at start + i×interval
					// whether or not the earlier ones were answered; its
					// latency counts from then (no coordinated omission).
					due := start.Add(time.Duration(tick.Add(1)-1) * interval)
					if !due.Before(deadline) {
						return
					}
					if wait := time.Until(due); wait > 0 {
						select {
						case <-time.After(wait):
						case <-runCtx.Done():
							return
						}
					}
					began = due
				} else if !began.Before(deadline) {
					return
				}
				o := do(runCtx, w)
				if runCtx.Err() != nil && !o.ok {
					return // interrupted, not an answer
				}
				rec.add(o, time.Since(began))
			}
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last int64
		line := func(now time.Time, rate string) {
			d := rec.done.Load()
			if progress != nil {
				if rate == "" {
					rate = fmt.Sprintf("%7d/s", d-last)
				}
				fmt.Fprintf(progress, "%s %5.1fs  %8d done  %s  %6d errors\n", name, now.Sub(start).Seconds(), d, rate, rec.failed.Load())
			}
			last = d
		}
		for {
			select {
			case <-stopProgress:
				line(time.Now(), "finished") // the last line, however short the run
				return
			case now := <-t.C:
				if now.After(deadline) {
					cancelAfterGrace(cancel, deadline, cfg.Duration)
				}
				line(now, "")
			}
		}
	}()
	wg.Wait()
	close(stopProgress)
	<-progressDone
	wall := time.Since(start)
	var cpu *cpuShare
	if cpuAfter, ok := sampleCPU(); ok && cpuOK {
		cpu = cpuBetween(cpuBefore, cpuAfter, wall.Seconds(), os.Getpid())
	}
	elapsed := wall
	if elapsed < cfg.Duration && ctx.Err() == nil {
		elapsed = cfg.Duration
	}

	sort.Slice(rec.latencies, func(i, j int) bool { return rec.latencies[i] < rec.latencies[j] })
	n := len(rec.latencies)
	res := loadResult{
		Scenario: name, Mode: "closed", Concurrency: cfg.Concurrency, Seconds: elapsed.Seconds(),
		Requests: n, OK: rec.ok, Errors: n - rec.ok, Statuses: rec.statuses,
		P50ms: percentile(rec.latencies, 0.50), P90ms: percentile(rec.latencies, 0.90),
		P99ms: percentile(rec.latencies, 0.99), MaxMs: percentile(rec.latencies, 1),
		CPU: cpu,
	}
	if sc.http {
		res.BaseURL = cfg.BaseURL
	}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "open", cfg.Rate
	}
	res.Rate = float64(n) / elapsed.Seconds()
	res.OKRate = float64(rec.ok) / elapsed.Seconds()
	if rec.items != rec.ok {
		res.Items, res.ItemRate = rec.items, float64(rec.items)/elapsed.Seconds()
	}
	return res, ctx.Err()
}

// cancelAfterGrace stops the operations still running well past the end
// (a bulk job that never finishes): the run waits for those in flight
// at the deadline (a large bulk job takes minutes) for up to 15 minutes,
// or the run's length if longer.
func cancelAfterGrace(cancel context.CancelFunc, deadline time.Time, d time.Duration) {
	if time.Since(deadline) > max(15*time.Minute, d) {
		cancel()
	}
}

// writeLoadTable prints a run's figures and its answers by status.
func writeLoadTable(w io.Writer, r loadResult) error {
	mode := fmt.Sprintf("c=%d", r.Concurrency)
	if r.Mode == "open" {
		mode = fmt.Sprintf("rate=%g/s, ≤%d in flight", r.TargetRate, r.Concurrency)
	}
	header := []string{"SCENARIO", "MODE", "SECONDS", "REQUESTS", "OK", "RATE/S", "P50 MS", "P90 MS", "P99 MS", "MAX MS"}
	row := []string{r.Scenario, mode, fmt.Sprintf("%.1f", r.Seconds), strconv.Itoa(r.Requests), strconv.Itoa(r.OK),
		fmt.Sprintf("%.1f", r.OKRate), fmt.Sprintf("%.2f", r.P50ms), fmt.Sprintf("%.2f", r.P90ms),
		fmt.Sprintf("%.2f", r.P99ms), fmt.Sprintf("%.2f", r.MaxMs)}
	if err := writeTable(w, header, [][]string{row}); err != nil {
		return err
	}
	if r.Items > 0 {
		fmt.Fprintf(w, "\nitems: %d (%.1f/s)\n", r.Items, r.ItemRate)
	}
	statuses := make([]string, 0, len(r.Statuses))
	for s := range r.Statuses {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	rows := make([][]string, 0, len(statuses))
	for _, s := range statuses {
		rows = append(rows, []string{s, strconv.Itoa(r.Statuses[s])})
	}
	fmt.Fprintln(w)
	if err := writeTable(w, []string{"STATUS", "COUNT"}, rows); err != nil {
		return err
	}
	if r.CPU == nil {
		return nil
	}
	fmt.Fprintf(w, "\ncores busy: %.2f of %d\n", r.CPU.BusyCores, r.CPU.Cores)
	rows = rows[:0]
	for _, p := range r.CPU.Processes {
		rows = append(rows, []string{p.Name, fmt.Sprintf("%.2f", p.Cores)})
	}
	return writeTable(w, []string{"PROCESS", "CORES"}, rows)
}

// loadTempDir is a directory for a reference's files, removed by the
// returned function.
func loadTempDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "tamkeen-load-")
	if err != nil {
		return "", nil, err
	}
	return filepath.Clean(dir), func() { os.RemoveAll(dir) }, nil
}
