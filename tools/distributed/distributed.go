// Package distributed runs Tamkeen in its production shape on one machine:
// the five enabler binaries and the gateway as separate processes, one
// PostgreSQL database per service (migrated by `tamkeen migrate`, as the
// Kubernetes migration Jobs do), and a NATS server with JetStream on a free
// port. Every process gets the same TAMKEEN_… configuration its container
// gets from k8s/ (secrets as *_FILE paths, migrations off at start-up), so
// that the production topology is exercised without a cluster.
//
// `make run-distributed` runs it until Ctrl-C (cmd/run-distributed); the
// smoke test in this package drives it end to end, kills and restarts
// service processes, and counts the events in the streams.
package distributed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tamkeen/tamkeen/libs/natsembed"
	"github.com/tamkeen/tamkeen/libs/scope"
	"github.com/tamkeen/tamkeen/tools/internal/demo"
)

// Services lists the five enablers in start-up order. Each is the binary
// services/<name>/cmd/<name>.
func Services() []string {
	return []string{"auth", "notification", "signature", "payment", "content"}
}

// Gateway is the gateway process's name; Tool is the admin tool's.
const (
	Gateway = "gateway"
	Tool    = "tamkeen"
)

// ErrUnknownProcess is returned for a process name the topology does not run.
var ErrUnknownProcess = errors.New("distributed: unknown process")

// ErrNotReady is returned when a process does not answer /readyz in time.
var ErrNotReady = errors.New("distributed: process not ready")

// readyTimeout bounds how long a process may take to answer /readyz 200.
const readyTimeout = 45 * time.Second

// stopTimeout is how long a process has to exit after SIGTERM.
const stopTimeout = 15 * time.Second

// Options configures a topology.
type Options struct {
	// RepoRoot is the directory holding go.work (FindRepoRoot finds it).
	RepoRoot string
	// WorkDir holds the secrets files, the NATS store and the logs. What
	// is in it survives a restart (keys, streams).
	WorkDir string
	// BinDir holds the binaries Build made; empty means WorkDir/bin.
	BinDir string
	// PostgresURL names a role that may create databases, e.g.
	// postgres://tamkeen_test:tamkeen_test@127.0.0.1:5432/postgres?sslmode=disable.
	PostgresURL string
	// DBPrefix starts each service's database name: DBPrefix+"auth", …;
	// empty means "tamkeen_".
	DBPrefix string
	// HTTPAddr is the gateway's listen address; empty means a free port on
	// 127.0.0.1. Its URL is the token issuer.
	HTTPAddr string
	// Output receives every process's log lines prefixed with its name;
	// nil keeps them in WorkDir/logs only.
	Output io.Writer
	// Logger reports the topology's own steps; nil discards them.
	Logger *slog.Logger
	// Env adds or overrides TAMKEEN_… settings of a process, by process
	// name (tests shorten cool-downs with it).
	Env map[string]map[string]string
	// NATSURL is an external NATS server (with JetStream) every process
	// uses; empty starts an embedded one with its store in WorkDir/nats.
	// Stop leaves an external server running (the DR drill fails over
	// from one to another).
	NATSURL string
}

// Topology is a running distributed Tamkeen.
type Topology struct {
	opts  Options
	log   *slog.Logger
	nats  *natsembed.Server // nil with Options.NATSURL
	sms   *SMSSink
	procs map[string]*process
	order []string
	url   string
	// opsAddrs are the processes' operations listeners, by name.
	opsAddrs map[string]string
	natsURL  string
	secret   string
	dsns     map[string]string
	fresh    map[string]bool
	outMu    sync.Mutex
}

// GatewayAddrs are where the gateway of a topology listens and finds the
// others: what its configuration depends on at run time.
type GatewayAddrs struct {
	// HTTP and Ops are the gateway's API and operations listeners; the
	// issuer is http://HTTP.
	HTTP, Ops string
	// NATS is the NATS server's client URL.
	NATS string
	// DBURLFile holds the gateway database's URL.
	DBURLFile string
	// Services are the enablers' gRPC addresses and ServiceOps their
	// operations listeners, by name.
	Services, ServiceOps map[string]string
}

// GatewayEnv is the gateway process's TAMKEEN_… configuration in this
// topology (before Options.Env): the settings k8s/base/gateway gives its
// container, with this machine's addresses. TestSecurityParity
// (tools/tamkeen) holds it to `tamkeen dev`'s gateway.
func GatewayEnv(a GatewayAddrs) map[string]string {
	env := map[string]string{
		"TAMKEEN_HTTP_ADDR": a.HTTP,
		// /healthz, /readyz and /metrics are not on the API port.
		"TAMKEEN_OPS_ADDR": a.Ops,
		"TAMKEEN_ISSUER":   "http://" + a.HTTP,
		"TAMKEEN_NATS_URL": a.NATS,
		// A test environment: the payment process serves the sandbox
		// acquirer's checkout beside its ops endpoints.
		"TAMKEEN_SANDBOX_URL": "http://" + a.ServiceOps["payment"],
		// auth serves its OpenID Provider and hosted sign-in pages beside
		// its ops endpoints; the gateway routes the issuer's /oauth2/ there.
		"TAMKEEN_OIDC_URL": "http://" + a.ServiceOps["auth"],
		// The security server's duties, on as in every shape
		// (TestSecurityParity): access rights enforced, every call in the
		// audit chain time-stamped by the signature enabler's TSA, usage
		// metered, on the gateway's own PostgreSQL database.
		"TAMKEEN_DB_ENGINE":      "postgres",
		"TAMKEEN_DB_DSN_FILE":    a.DBURLFile,
		"TAMKEEN_ENFORCE_RIGHTS": "true",
		"TAMKEEN_AUDIT":          "true",
		"TAMKEEN_AUDIT_CHAIN":    "gateway-0",
		"TAMKEEN_METERING":       "true",
		"TAMKEEN_RATE_LIMITS":    "read=100/200,write=50/100,public=50/100",
	}
	for _, s := range Services() {
		env["TAMKEEN_"+strings.ToUpper(s)+"_ADDR"] = a.Services[s]
	}
	return env
}

// FindRepoRoot walks up from dir to the directory holding go.work.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("distributed: no go.work above the working directory")
		}
		dir = parent
	}
}

// Packages maps each binary's name to its main package, relative to the
// repository root.
func Packages() map[string]string {
	m := map[string]string{Gateway: "./gateway/cmd/gateway", Tool: "./tools/tamkeen"}
	for _, s := range Services() {
		m[s] = "./services/" + s + "/cmd/" + s
	}
	return m
}

// BuildOptions says how Build compiles.
type BuildOptions struct {
	// Image builds as deploy/ builds the container images: static
	// (CGO_ENABLED=0), -trimpath, no VCS stamping, stripped. Without it
	// the build shares the compile cache of `go test` (the smoke test).
	Image bool
}

// Build compiles the five service binaries, the gateway and the tool into
// binDir.
func Build(ctx context.Context, repoRoot, binDir string, opts BuildOptions) error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	// Stripped either way: linking seven binaries without DWARF is much
	// quicker, and -ldflags does not change the compile cache.
	args := []string{"build", "-ldflags=-s -w"}
	env := os.Environ()
	if opts.Image {
		args = append(args, "-trimpath", "-buildvcs=false")
		env = append(env, "CGO_ENABLED=0")
	}
	args = append(args, "-o", binDir+string(filepath.Separator))
	for _, name := range append(Services(), Gateway, Tool) {
		args = append(args, Packages()[name])
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// Start creates the databases, runs the migrations, starts NATS, creates
// the demo client, then every service and the gateway, and returns once
// all answer /readyz. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (_ *Topology, err error) {
	if opts.WorkDir == "" || opts.PostgresURL == "" || opts.RepoRoot == "" {
		return nil, errors.New("distributed: Options.RepoRoot, WorkDir and PostgresURL are required")
	}
	if opts.BinDir == "" {
		opts.BinDir = filepath.Join(opts.WorkDir, "bin")
	}
	if opts.DBPrefix == "" {
		opts.DBPrefix = "tamkeen_"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Topology{opts: opts, log: log, procs: map[string]*process{}, dsns: map[string]string{}, fresh: map[string]bool{}}
	defer func() {
		if err != nil {
			t.Stop()
		}
	}()
	for _, d := range []string{"secrets", "logs", "nats"} {
		if err := os.MkdirAll(filepath.Join(opts.WorkDir, d), 0o700); err != nil {
			return nil, err
		}
	}

	// The gateway's address comes first: its URL is the issuer every
	// service verifies tokens against.
	httpAddr := opts.HTTPAddr
	if httpAddr == "" {
		if httpAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	t.url = "http://" + httpAddr

	if err := t.createDatabases(ctx); err != nil {
		return nil, err
	}
	if err := t.writeSecrets(); err != nil {
		return nil, err
	}
	if t.natsURL = opts.NATSURL; t.natsURL == "" {
		t.nats, err = natsembed.Start(natsembed.Options{
			StoreDir: filepath.Join(opts.WorkDir, "nats"), Listen: true, ServerName: "tamkeen-distributed",
		})
		if err != nil {
			return nil, err
		}
		t.natsURL = t.nats.ClientURL()
		log.Info("nats started", slog.String("url", t.natsURL))
	}
	if t.sms, err = startSMSSink(); err != nil {
		return nil, err
	}

	for _, s := range databases() {
		if err := t.runTool(ctx, t.toolEnv(s), nil, "migrate", "--service", s); err != nil {
			return nil, err
		}
	}
	if err := t.writeIdentityRecipientKey(ctx); err != nil {
		return nil, err
	}
	if t.fresh["signature"] {
		// Production creates the CA once, by hand (docs/operations.md); here
		// a fresh signature database gets one.
		if err := t.runTool(ctx, t.toolEnv("signature"), nil, "pki", "init"); err != nil {
			return nil, err
		}
	}
	if t.secret, err = t.ensureClient(ctx); err != nil {
		return nil, err
	}
	// Deny by default, as in production: the demo ministry may call
	// everything because it was granted so (tamkeen rights grant).
	if err := t.runTool(ctx, t.toolEnv(Gateway), nil, "rights", "grant", "--id", demo.ClientID, "--right", "*"); err != nil {
		return nil, err
	}

	addrs, opsAddrs := map[string]string{}, map[string]string{}
	for _, s := range Services() {
		grpcAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		metricsAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[s], opsAddrs[s] = grpcAddr, metricsAddr
		env := t.serviceEnv(s, grpcAddr, metricsAddr)
		p := &process{name: s, bin: filepath.Join(opts.BinDir, s), env: env, readyURL: "http://" + metricsAddr + "/readyz"}
		t.add(p)
	}
	gwOps, err := freeAddr()
	if err != nil {
		return nil, err
	}
	opsAddrs[Gateway] = gwOps
	t.opsAddrs = opsAddrs
	gwEnv := GatewayEnv(GatewayAddrs{
		HTTP: httpAddr, Ops: gwOps, NATS: t.natsURL, DBURLFile: t.secretFile(Gateway + "-db-uri"),
		Services: addrs, ServiceOps: opsAddrs,
	})
	for k, v := range opts.Env[Gateway] {
		gwEnv[k] = v
	}
	t.add(&process{name: Gateway, bin: filepath.Join(opts.BinDir, Gateway), env: gwEnv, readyURL: "http://" + gwOps + "/readyz"})

	// Services first, then the gateway, whose /readyz checks them all.
	for _, name := range t.order {
		if err := t.start(t.procs[name]); err != nil {
			return nil, err
		}
	}
	for _, name := range t.order {
		if err := t.waitReady(ctx, t.procs[name]); err != nil {
			return nil, err
		}
	}
	log.Info("tamkeen distributed is ready", slog.String("url", t.url))
	return t, nil
}

// URL is the gateway's base URL (and the token issuer).
func (t *Topology) URL() string { return t.url }

// OpsURL is the base URL of a process's operations listener (/healthz,
// /readyz, /metrics): the gateway's --ops-addr, a service's
// --metrics-addr; "" for an unknown name.
func (t *Topology) OpsURL(name string) string {
	if a, ok := t.opsAddrs[name]; ok {
		return "http://" + a
	}
	return ""
}

// NATSURL is the NATS server's client URL.
func (t *Topology) NATSURL() string { return t.natsURL }

// SMS is the stand-in for the operator's HTTP SMS gateway.
func (t *Topology) SMS() *SMSSink { return t.sms }

// ClientSecret is demo.ClientID's secret.
func (t *Topology) ClientSecret() string { return t.secret }

// DSN is the database URL of a service.
func (t *Topology) DSN(service string) string { return t.dsns[service] }

// LogFile is the path of a process's log.
func (t *Topology) LogFile(name string) string {
	return filepath.Join(t.opts.WorkDir, "logs", name+".log")
}

// Processes lists the processes' names in start-up order.
func (t *Topology) Processes() []string { return append([]string(nil), t.order...) }

// Kill ends a process with SIGKILL, as a crash or an OOM kill would: no
// graceful shutdown, whatever was in flight is cut.
func (t *Topology) Kill(name string) error {
	p, ok := t.procs[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownProcess, name)
	}
	return p.signalAndWait(syscall.SIGKILL, stopTimeout)
}

// Restart starts a stopped process again with the same configuration and
// waits until it is ready.
func (t *Topology) Restart(ctx context.Context, name string) error {
	p, ok := t.procs[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownProcess, name)
	}
	if p.running() {
		if err := p.signalAndWait(syscall.SIGTERM, stopTimeout); err != nil {
			return err
		}
	}
	if err := t.start(p); err != nil {
		return err
	}
	return t.waitReady(ctx, p)
}

// Ready reports whether a process answers /readyz with 200.
func (t *Topology) Ready(ctx context.Context, name string) bool {
	p, ok := t.procs[name]
	return ok && readyOnce(ctx, p.readyURL) == nil
}

// Stop ends every process (gateway first, SIGTERM, then SIGKILL after a
// deadline) and then NATS when the topology started it. It is safe to
// call more than once.
func (t *Topology) Stop() {
	for i := len(t.order) - 1; i >= 0; i-- {
		p := t.procs[t.order[i]]
		if p.running() {
			if err := p.signalAndWait(syscall.SIGTERM, stopTimeout); err != nil {
				t.log.Warn("stop", slog.String("process", p.name), slog.Any("error", err))
			}
		}
	}
	if t.nats != nil {
		t.nats.Shutdown()
	}
	if t.sms != nil {
		t.sms.close()
	}
}

// DropDatabases removes the services' databases (tests call it after Stop).
func (t *Topology) DropDatabases(ctx context.Context) error {
	return dropDatabases(ctx, t.opts.PostgresURL, t.opts.DBPrefix)
}

// DropDatabases removes the databases prefix+<service> through the admin URL.
func dropDatabases(ctx context.Context, adminURL, prefix string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(ctx)
	var errs []error
	for _, s := range databases() {
		name := pgx.Identifier{prefix + s}.Sanitize()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ResetDatabases drops the databases of a topology started with prefix.
func ResetDatabases(ctx context.Context, adminURL, prefix string) error {
	if prefix == "" {
		prefix = "tamkeen_"
	}
	return dropDatabases(ctx, adminURL, prefix)
}

// createDatabases makes prefix+<service> for each service that lacks one
// and remembers which are new.
func (t *Topology) createDatabases(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, t.opts.PostgresURL)
	if err != nil {
		return fmt.Errorf("postgres (run deploy/local/ensure-services.sh): %w", err)
	}
	defer conn.Close(ctx)
	for _, s := range databases() {
		name := t.opts.DBPrefix + s
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("create database %s: %w", name, err)
			}
			t.fresh[s] = true
		}
		u, err := url.Parse(t.opts.PostgresURL)
		if err != nil {
			return fmt.Errorf("postgres url: %w", err)
		}
		u.Path = "/" + name
		t.dsns[s] = u.String()
	}
	return nil
}

// databases are the components with a PostgreSQL database of their own:
// every enabler and the gateway (rights, audit log, usage).
func databases() []string { return append(Services(), Gateway) }

// secretFile is where a secret lives, as a Kubernetes Secret volume would
// put it.
func (t *Topology) secretFile(name string) string {
	return filepath.Join(t.opts.WorkDir, "secrets", name)
}

// writeSecrets writes each service's database URL and keeps (or makes)
// the keys: mode 0600 files the processes read through TAMKEEN_…_FILE.
func (t *Topology) writeSecrets() error {
	for _, s := range databases() {
		if err := os.WriteFile(t.secretFile(s+"-db-uri"), []byte(t.dsns[s]+"\n"), 0o600); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		file string
		n    int
	}{{"auth-key-encryption-key", 32}, {"signature-key-encryption-key", 32}, {"signature-identity-key", 32}, {"payment-sandbox-webhook-secret", 32}, {"notification-http-sms-receipt-secret", 32}, {"notification-callback-key", 32}} {
		if _, err := demo.KeptSecret(t.secretFile(k.file), k.n, base64.StdEncoding); err != nil {
			return err
		}
	}
	return nil
}

// writeIdentityRecipientKey gives auth the public half of signature's
// identity key, printed by `tamkeen identity-key public` as an operator
// would (docs/operations.md).
func (t *Topology) writeIdentityRecipientKey(ctx context.Context) error {
	var out bytes.Buffer
	env := map[string]string{"TAMKEEN_IDENTITY_KEY_FILE": t.secretFile("signature-identity-key")}
	if err := t.runTool(ctx, env, &out, "identity-key", "public"); err != nil {
		return err
	}
	return os.WriteFile(t.secretFile("auth-identity-recipient-key"), out.Bytes(), 0o600)
}

// toolEnv is the environment of a `tamkeen` admin command on a service's
// database (what the migration Job and an operator's shell have).
func (t *Topology) toolEnv(service string) map[string]string {
	env := map[string]string{
		"TAMKEEN_DB_ENGINE":   "postgres",
		"TAMKEEN_DB_DSN_FILE": t.secretFile(service + "-db-uri"),
		"TAMKEEN_ISSUER":      t.url,
	}
	switch service {
	case "auth", "signature":
		env["TAMKEEN_KEY_ENCRYPTION_KEY_FILE"] = t.secretFile(service + "-key-encryption-key")
	}
	return env
}

// identityEnv is where the identity keys come from (k8s: the auth-keys
// and signature-keys Secrets): auth seals citizens' identities to the
// public half, signature opens them with the private one.
func (t *Topology) identityEnv(service string, env map[string]string) {
	switch service {
	case "auth":
		env["TAMKEEN_IDENTITY_RECIPIENT_KEY_FILE"] = t.secretFile("auth-identity-recipient-key")
	case "signature":
		env["TAMKEEN_IDENTITY_KEY_FILE"] = t.secretFile("signature-identity-key")
	}
}

// serviceEnv is a service container's configuration (k8s/base/<service>
// ConfigMap and Secret references) with local addresses.
func (t *Topology) serviceEnv(service, grpcAddr, metricsAddr string) map[string]string {
	env := t.toolEnv(service)
	t.identityEnv(service, env)
	env["TAMKEEN_GRPC_ADDR"] = grpcAddr
	env["TAMKEEN_METRICS_ADDR"] = metricsAddr
	env["TAMKEEN_NATS_URL"] = t.natsURL
	// The migration Job ran; replicas do not race to migrate at start-up.
	env["TAMKEEN_MIGRATE"] = "false"
	env["TAMKEEN_INSTANCE"] = service + "-0" // one replica each; a restart frees its own outbox claims
	env["TAMKEEN_STREAM_REPLICAS"] = "1"     // one NATS server here; 3 in k8s
	env["TAMKEEN_LOG_LEVEL"] = "info"
	if service == "notification" {
		// The production HTTP SMS provider, pointed at the operator's
		// stand-in (SMSSink): OTP codes travel the real path.
		env["TAMKEEN_SMS_PROVIDER"] = "http"
		env["TAMKEEN_HTTP_SMS_URL"] = t.sms.URL()
		env["TAMKEEN_HTTP_SMS_RECEIPT_SECRET_FILE"] = t.secretFile("notification-http-sms-receipt-secret")
		// What the callbacks' and webhooks' signing secrets derive from.
		env["TAMKEEN_CALLBACK_KEY_FILE"] = t.secretFile("notification-callback-key")
	}
	if service == "payment" {
		// A test environment: the sandbox acquirer stands in for a bank.
		env["TAMKEEN_SANDBOX"] = "true"
		env["TAMKEEN_SANDBOX_WEBHOOK_SECRET_FILE"] = t.secretFile("payment-sandbox-webhook-secret")
	}
	for k, v := range t.opts.Env[service] {
		env[k] = v
	}
	return env
}

var secretLine = regexp.MustCompile(`(?m)secret:\s*(\S+)`)

// ensureClient creates demo.ClientID with every scope (or, when the auth
// database already has it, rotates its secret) and returns the secret.
func (t *Topology) ensureClient(ctx context.Context) (string, error) {
	var out bytes.Buffer
	env := t.toolEnv("auth")
	err := t.runTool(ctx, env, &out, "clients", "create", "--id", demo.ClientID, "--name", demo.Name, "--ministry", demo.Ministry,
		"--organization", demo.Organization, "--scopes", strings.Join(scope.All(), ","))
	if err != nil && !t.fresh["auth"] {
		out.Reset()
		err = t.runTool(ctx, env, &out, "clients", "rotate-secret", "--id", demo.ClientID)
	}
	if err != nil {
		return "", err
	}
	m := secretLine.FindStringSubmatch(out.String())
	if m == nil {
		return "", errors.New("distributed: tamkeen clients printed no secret")
	}
	return m[1], nil
}

// Tool runs a tamkeen admin command on component's database (an enabler
// or the gateway), as an operator would, and returns what it printed.
func (t *Topology) Tool(ctx context.Context, component string, args ...string) (string, error) {
	var out bytes.Buffer
	err := t.runTool(ctx, t.toolEnv(component), &out, args...)
	return out.String(), err
}

// runTool runs the tamkeen binary with env and args; stdout goes to out
// (when not nil) and the log otherwise.
func (t *Topology) runTool(ctx context.Context, env map[string]string, out io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(t.opts.BinDir, Tool), args...)
	cmd.Env = processEnv(env)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out != nil {
		cmd.Stdout = out
	} else {
		cmd.Stdout = &stderr
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tamkeen %s: %w\n%s", strings.Join(args[:min(2, len(args))], " "), err, stderr.String())
	}
	t.log.Info("tamkeen "+strings.Join(args[:min(3, len(args))], " "), slog.String("output", strings.TrimSpace(stderr.String())))
	return nil
}

// processEnv is a child's whole environment: only what it is given, plus
// PATH, HOME and TMPDIR, so that nothing in the caller's TAMKEEN_…
// variables changes what the topology runs.
func processEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+3)
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// freeAddr is a 127.0.0.1 address with a port nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// process is one child process of the topology.
type process struct {
	name     string
	bin      string
	env      map[string]string
	readyURL string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

func (t *Topology) add(p *process) {
	t.procs[p.name] = p
	t.order = append(t.order, p.name)
}

// start launches p; its stderr and stdout go to its log file (appended,
// so a restart keeps the history) and to Options.Output.
func (t *Topology) start(p *process) error {
	f, err := os.OpenFile(t.LogFile(p.name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	var w io.Writer = f
	if t.opts.Output != nil {
		w = io.MultiWriter(f, &prefixWriter{prefix: "[" + p.name + "] ", out: t.opts.Output, mu: &t.outMu})
	}
	cmd := exec.Command(p.bin)
	cmd.Env = processEnv(p.env)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.log = cmd, done, f
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	t.log.Info("started", slog.String("process", p.name), slog.Int("pid", cmd.Process.Pid))
	return nil
}

// childProcAttr is how every child of the topology is started: in its own
// process group, so that a Ctrl-C in the terminal reaches the topology
// alone, which stops the children in order; and with SIGTERM as its
// parent-death signal, so that a topology killed outright (SIGKILL, a
// crash) does not leave its children running and holding their ports.
// Linux delivers it when the thread that started the child exits; Go's
// runtime keeps its threads for the life of the process (no goroutine
// here locks one to itself), so that is when the topology dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signalAndWait sends sig and waits for the exit; after timeout it kills.
func (p *process) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %s after %s; killed", p.name, timeout, sig)
	}
}

// waitReady polls p's /readyz until 200, the process exits or the
// deadline passes.
func (t *Topology) waitReady(ctx context.Context, p *process) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		if !p.running() {
			return fmt.Errorf("%w: %s exited (see %s)", ErrNotReady, p.name, t.LogFile(p.name))
		}
		if last = readyOnce(ctx, p.readyURL); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %s after %s: %v (see %s)", ErrNotReady, p.name, readyTimeout, last, t.LogFile(p.name))
}

func readyOnce(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// prefixWriter writes each line with a prefix, whole lines at a time.
type prefixWriter struct {
	prefix string
	out    io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.mu.Lock()
		_, err := io.WriteString(w.out, w.prefix+string(w.buf[:i+1]))
		w.mu.Unlock()
		w.buf = w.buf[i+1:]
		if err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

// Tail returns the last n lines of a process's log (for test failures).
func (t *Topology) Tail(name string, n int) string {
	f, err := os.Open(t.LogFile(name))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// Pid is a running process's id, or 0.
func (t *Topology) Pid(name string) int {
	p, ok := t.procs[name]
	if !ok || !p.running() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}
