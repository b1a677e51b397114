package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/config"
	"github.com/tamkeen/tamkeen/libs/jwks"
	"github.com/tamkeen/tamkeen/tools/distributed"
)

// gatewayShape is what one way of running Tamkeen gives its gateway, as far
// as security goes: its configuration (with the defaults the gateway
// applies) and what that configuration stands on.
type gatewayShape struct {
	name string
	// production marks the shapes citizens' data runs on (the prod and dr
	// overlays), held to the rows that only production must meet too.
	production bool
	cfg        gateway.Config
	// db is the gateway's database (rights, audit log, usage); "" none.
	db string
	// tsa is who time-stamps the audit chain; "" nobody known.
	tsa string
	// nats is the NATS the rate limiter and the ended-sessions bucket use;
	// "" none.
	nats string
	// chainPerReplica: no two replicas write one audit chain.
	chainPerReplica bool
	// opsSeparate: /metrics, /readyz and pprof are on a listener of their
	// own, never the API port.
	opsSeparate bool
	// problems are what makes the shape's settings unusable (an unknown
	// variable, a value the gateway refuses).
	problems []string
}

// parityRow is one security-relevant setting: how each shape shows it
// and when a shape is weaker on it than `tamkeen dev`.
type parityRow struct {
	name string
	show func(s gatewayShape) string
	// weaker says how s is weaker than dev; "" when it is not.
	weaker func(dev, s gatewayShape) string
	// productionOnly rows hold the production shapes only, and to a fixed
	// rule rather than to dev (dev runs test-only pages by design).
	productionOnly bool
}

// parityRows are the settings TestSecurityParity compares. Every shape
// other than `tamkeen dev` itself must be at least as strict as dev on
// each (the security server's duties, issue 16 item 1):
//
//   - access rights enforced (deny by default);
//   - the gateway's own database configured (rights, audit, usage need it);
//   - the audit log on;
//   - one audit chain per replica (two replicas on one chain fork it);
//   - the audit chain time-stamped by the signature enabler's TSA, at least
//     as often (records and interval) as in dev;
//   - usage metered;
//   - a rate limit for every route class dev limits;
//   - NATS configured (the replicas' shared rate limits and the bucket of
//     ended sessions whose tokens are refused);
//   - the operations listener (/metrics, /readyz, pprof) apart from the
//     API port;
//   - trusted proxies no wider than dev's (none), except a private
//     (RFC 1918 or ULA) network of at most 2^16 addresses: the ingress
//     controllers' pod network, which docs/operations.md §3 asks each
//     site to set; a public range would let anyone write the client
//     address that throttles and the audit log use;
//   - access tokens no longer-lived than dev accepts;
//   - ended sessions remembered at least as long;
//   - access rights reloaded at least as often;
//   - request bodies and header read time no larger than dev's;
//
// and the production overlays (prod, dr) proxy no sandbox checkout.
var parityRows = []parityRow{
	{
		name: "access rights enforced",
		show: func(s gatewayShape) string { return yesNo(s.cfg.EnforceRights) },
		weaker: func(dev, s gatewayShape) string {
			return unless(!dev.cfg.EnforceRights || s.cfg.EnforceRights, "rights are not enforced (TAMKEEN_ENFORCE_RIGHTS)")
		},
	},
	{
		name: "gateway database",
		show: func(s gatewayShape) string { return cmp.Or(s.db, "none") },
		weaker: func(dev, s gatewayShape) string {
			return unless(dev.db == "" || s.db != "", "no gateway database (TAMKEEN_DB_ENGINE, TAMKEEN_DB_DSN_FILE, its Secret)")
		},
	},
	{
		name: "audit log",
		show: func(s gatewayShape) string { return yesNo(s.cfg.Audit) },
		weaker: func(dev, s gatewayShape) string {
			return unless(!dev.cfg.Audit || s.cfg.Audit, "the audit log is off (TAMKEEN_AUDIT)")
		},
	},
	{
		name: "audit chain per replica",
		show: func(s gatewayShape) string {
			return fmt.Sprintf("%s (%s)", yesNo(s.chainPerReplica), s.cfg.AuditChain)
		},
		weaker: func(dev, s gatewayShape) string {
			return unless(!dev.chainPerReplica || s.chainPerReplica, "replicas share the audit chain "+strconv.Quote(s.cfg.AuditChain)+" (TAMKEEN_AUDIT_CHAIN from the pod name)")
		},
	},
	{
		name: "audit time-stamped",
		show: func(s gatewayShape) string {
			if !stamps(s) {
				return "no"
			}
			return fmt.Sprintf("every %d records or %v, by %s", s.cfg.AuditStampEvery, s.cfg.AuditStampInterval, s.tsa)
		},
		weaker: func(dev, s gatewayShape) string {
			switch {
			case !stamps(dev):
				return ""
			case !stamps(s):
				return "the audit chain is not time-stamped by the signature enabler (TAMKEEN_AUDIT_STAMP_EVERY, TAMKEEN_SIGNATURE_ADDR)"
			case s.cfg.AuditStampEvery > dev.cfg.AuditStampEvery || s.cfg.AuditStampInterval > dev.cfg.AuditStampInterval:
				return fmt.Sprintf("time-stamps every %d records or %v; dev every %d or %v",
					s.cfg.AuditStampEvery, s.cfg.AuditStampInterval, dev.cfg.AuditStampEvery, dev.cfg.AuditStampInterval)
			}
			return ""
		},
	},
	{
		name: "usage metered",
		show: func(s gatewayShape) string { return yesNo(s.cfg.Metering) },
		weaker: func(dev, s gatewayShape) string {
			return unless(!dev.cfg.Metering || s.cfg.Metering, "usage is not metered (TAMKEEN_METERING)")
		},
	},
	{
		name: "rate limits",
		show: func(s gatewayShape) string { return cmp.Or(strings.Join(s.cfg.RateLimits, ","), "none") },
		weaker: func(dev, s gatewayShape) string {
			want, _ := gateway.ParseRateLimits(dev.cfg.RateLimits)
			got, err := gateway.ParseRateLimits(s.cfg.RateLimits)
			if err != nil {
				return err.Error()
			}
			var missing []string
			for class := range want {
				if _, ok := got[class]; !ok {
					missing = append(missing, class)
				}
			}
			sort.Strings(missing)
			return unless(len(missing) == 0, "no rate limit for "+strings.Join(missing, ", ")+" (TAMKEEN_RATE_LIMITS)")
		},
	},
	{
		name: "NATS (shared limits, ended sessions)",
		show: func(s gatewayShape) string { return cmp.Or(s.nats, "none") },
		weaker: func(dev, s gatewayShape) string {
			return unless(dev.nats == "" || s.nats != "", "no NATS: rate limits not shared, ended sessions' tokens accepted (TAMKEEN_NATS_URL)")
		},
	},
	{
		name: "ops listener apart from the API",
		show: func(s gatewayShape) string {
			return fmt.Sprintf("%s (api %s, ops %s)", yesNo(s.opsSeparate), s.cfg.HTTPAddr, s.cfg.OpsAddr)
		},
		weaker: func(dev, s gatewayShape) string {
			return unless(!dev.opsSeparate || s.opsSeparate, "/metrics, /readyz and pprof share the API port (TAMKEEN_OPS_ADDR)")
		},
	},
	{
		name: "trusted proxies",
		show: func(s gatewayShape) string { return cmp.Or(strings.Join(s.cfg.TrustedProxies, ","), "none") },
		weaker: func(dev, s gatewayShape) string {
			var wider []string
			for _, p := range prefixes(s.cfg.TrustedProxies) {
				if !covered(p, prefixes(dev.cfg.TrustedProxies)) && !podNetwork(p) {
					wider = append(wider, p.String())
				}
			}
			return unless(len(wider) == 0, "trusts "+strings.Join(wider, ", ")+" to name the client (TAMKEEN_TRUSTED_PROXIES)")
		},
	},
	{
		name: "max access-token lifetime",
		show: func(s gatewayShape) string { return s.cfg.MaxTokenLifetime.String() },
		weaker: func(dev, s gatewayShape) string {
			return unless(s.cfg.MaxTokenLifetime <= dev.cfg.MaxTokenLifetime, "accepts tokens living "+s.cfg.MaxTokenLifetime.String()+" (TAMKEEN_MAX_TOKEN_LIFETIME)")
		},
	},
	{
		name: "ended sessions remembered",
		show: func(s gatewayShape) string { return s.cfg.RevokedSessionsTTL.String() },
		weaker: func(dev, s gatewayShape) string {
			return unless(s.cfg.RevokedSessionsTTL >= dev.cfg.RevokedSessionsTTL, "forgets ended sessions after "+s.cfg.RevokedSessionsTTL.String()+" (TAMKEEN_REVOKED_SESSIONS_TTL)")
		},
	},
	{
		name: "rights reloaded every",
		show: func(s gatewayShape) string { return s.cfg.RightsRefresh.String() },
		weaker: func(dev, s gatewayShape) string {
			return unless(s.cfg.RightsRefresh <= dev.cfg.RightsRefresh, "a revoked right holds for "+s.cfg.RightsRefresh.String()+" (TAMKEEN_RIGHTS_REFRESH)")
		},
	},
	{
		name: "request limits (body, raw, headers)",
		show: func(s gatewayShape) string {
			return fmt.Sprintf("%d B, %d B, %v", s.cfg.MaxBodyBytes, s.cfg.RawBodyBytes, s.cfg.ReadHeaderTimeout)
		},
		weaker: func(dev, s gatewayShape) string {
			return unless(s.cfg.MaxBodyBytes <= dev.cfg.MaxBodyBytes && s.cfg.RawBodyBytes <= dev.cfg.RawBodyBytes &&
				s.cfg.ReadHeaderTimeout <= dev.cfg.ReadHeaderTimeout,
				"accepts larger bodies or slower headers than dev (TAMKEEN_MAX_BODY_BYTES, TAMKEEN_RAW_BODY_BYTES, TAMKEEN_READ_HEADER_TIMEOUT)")
		},
	},
	{
		name:           "sandbox checkout proxied",
		productionOnly: true,
		show:           func(s gatewayShape) string { return cmp.Or(s.cfg.SandboxURL, "no") },
		weaker: func(_, s gatewayShape) string {
			return unless(s.cfg.SandboxURL == "", "production proxies the test acquirer's checkout (TAMKEEN_SANDBOX_URL)")
		},
	},
}

// unless returns msg when ok is false.
func unless(ok bool, msg string) string {
	if ok {
		return ""
	}
	return msg
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// stamps reports whether s time-stamps its audit chain with a known TSA.
func stamps(s gatewayShape) bool {
	return s.cfg.Audit && s.cfg.AuditStampEvery >= 0 && s.cfg.AuditStampInterval > 0 && s.tsa != ""
}

// prefixes parses trusted proxies as the gateway does (a bare address is
// a single-address prefix); Validate has refused anything else already.
func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// covered reports whether p lies inside one of in.
func covered(p netip.Prefix, in []netip.Prefix) bool {
	for _, q := range in {
		if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// podNetwork reports whether p is a private network of at most 2^16
// addresses (a cluster's ingress controller pods).
func podNetwork(p netip.Prefix) bool {
	return p.Addr().IsPrivate() && p.Addr().BitLen()-p.Bits() <= 16
}

// normalized is cfg with the defaults the gateway applies to zero fields
// (gateway.New), for the fields the rows compare.
func normalized(cfg gateway.Config) gateway.Config {
	cfg.AuditChain = cmp.Or(cfg.AuditChain, gateway.DefaultAuditChain)
	cfg.AuditStampEvery = cmp.Or(cfg.AuditStampEvery, gateway.DefaultAuditStampEvery)
	cfg.AuditStampInterval = cmp.Or(cfg.AuditStampInterval, gateway.DefaultAuditStampInterval)
	cfg.MaxTokenLifetime = cmp.Or(cfg.MaxTokenLifetime, jwks.DefaultMaxLifetime)
	cfg.RevokedSessionsTTL = cmp.Or(cfg.RevokedSessionsTTL, gateway.DefaultRevokedSessionsTTL)
	cfg.RightsRefresh = cmp.Or(cfg.RightsRefresh, gateway.DefaultRightsRefresh)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, gateway.DefaultMaxBodyBytes)
	cfg.RawBodyBytes = cmp.Or(cfg.RawBodyBytes, gateway.DefaultRawBodyBytes)
	cfg.ReadHeaderTimeout = cmp.Or(cfg.ReadHeaderTimeout, gateway.DefaultReadHeaderTimeout)
	cfg.HTTPAddr = cmp.Or(cfg.HTTPAddr, gateway.DefaultHTTPAddr)
	cfg.OpsAddr = cmp.Or(cfg.OpsAddr, gateway.DefaultOpsAddr)
	return cfg
}

// opsApart reports whether the two listen addresses are different
// listeners: different ports, or both port 0 (each listener gets its own).
func opsApart(api, ops string) bool {
	_, ap, err1 := net.SplitHostPort(api)
	_, op, err2 := net.SplitHostPort(ops)
	return err1 == nil && err2 == nil && (ap != op || ap == "0")
}

// mirroredEnv is every variable gateway.Settings reads (X and, for a
// secret, X_FILE is listed as X).
func mirroredEnv(t *testing.T) map[string]bool {
	t.Helper()
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	if err := config.Register(fs, &gateway.Settings{}); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		out[config.EnvPrefix+strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))] = true
	})
	return out
}

// binaryEnv is every variable the gateway binary reads, from `gateway
// -help` ("(env X)" or "(env X or X_FILE)").
func binaryEnv(t *testing.T, root string) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "run", "./gateway/cmd/gateway", "-help")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gateway -help: %v\n%s", err, out)
	}
	env := map[string]bool{}
	for _, m := range regexp.MustCompile(`\(env (TAMKEEN_[A-Z0-9_]+)(?: or (TAMKEEN_[A-Z0-9_]+))?\)`).FindAllStringSubmatch(string(out), -1) {
		env[m[1]] = true
		if m[2] != "" {
			env[m[2]] = true
		}
	}
	if len(env) < 10 {
		t.Fatalf("gateway -help lists %d variables; want its whole configuration:\n%s", len(env), out)
	}
	return env
}

// envSite is what a shape's environment stands on outside the variables.
type envSite struct {
	production bool
	// database names the database whose URL the file holds; "" none.
	database func(file string) string
	// signature names the signature enabler at addr; "" when none is.
	signature func(addr string) string
	// perReplica reports whether the chain value names one replica.
	perReplica func(chain string) bool
}

// envShape reads a gateway's TAMKEEN_… environment as cmd/gateway does
// (libs/config with the same flags and defaults, then Config.Validate),
// with file settings (…_FILE) left to site to judge.
func envShape(name string, env map[string]string, known map[string]bool, site envSite) gatewayShape {
	s := gatewayShape{name: name, production: site.production}
	files := map[string]string{}
	for k, v := range env {
		if !known[k] {
			s.problems = append(s.problems, k+" is not a setting of the gateway binary")
		}
		if strings.HasSuffix(k, "_FILE") {
			files[strings.TrimSuffix(k, "_FILE")] = v
		}
	}
	var set gateway.Settings
	lookup := func(k string) (string, bool) {
		if strings.HasSuffix(k, "_FILE") {
			return "", false // judged by site: the file is in the pod, not here
		}
		v, ok := env[k]
		return v, ok
	}
	if err := config.Load(&set, nil, nil, lookup); err != nil {
		s.problems = append(s.problems, err.Error())
	}
	if f := files["TAMKEEN_XROAD_GATEWAY_SECRET"]; f != "" && set.Gateway.XRoadGatewaySecret == "" {
		// The X-Road listener's secret for auth is a file of the pod
		// (Secret gateway-secret; k8s TestGatewayXRoad checks the mount):
		// stand in a value of the length the operator must create.
		set.Gateway.XRoadGatewaySecret = strings.Repeat("x", 32)
	}
	if err := set.Gateway.Validate(); err != nil {
		s.problems = append(s.problems, err.Error())
	}
	s.cfg = normalized(set.Gateway)
	if set.DBEngine == "postgres" || set.DBEngine == "sqlite" {
		if set.DBDSN != "" {
			s.db = set.DBEngine + " (URL in the environment)"
		} else if f := files["TAMKEEN_DB_DSN"]; f != "" {
			if db := site.database(f); db != "" {
				s.db = set.DBEngine + ", " + db
			}
		}
	}
	if sig := site.signature(set.Signature); sig != "" {
		s.tsa = sig
	}
	s.nats = set.NATSURL
	s.chainPerReplica = site.perReplica(s.cfg.AuditChain)
	s.opsSeparate = opsApart(s.cfg.HTTPAddr, s.cfg.OpsAddr)
	return s
}

// renderedObject is the part of a rendered manifest the parity test reads.
type renderedObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
	Spec json.RawMessage   `json:"spec"`
}

// podTemplate is a Deployment's pod template, as far as the test reads it.
type podTemplate struct {
	Template struct {
		Spec struct {
			Containers []struct {
				Name    string `json:"name"`
				EnvFrom []struct {
					ConfigMapRef *struct {
						Name string `json:"name"`
					} `json:"configMapRef"`
				} `json:"envFrom"`
				Env []struct {
					Name      string `json:"name"`
					Value     string `json:"value"`
					ValueFrom *struct {
						FieldRef *struct {
							FieldPath string `json:"fieldPath"`
						} `json:"fieldRef"`
					} `json:"valueFrom"`
				} `json:"env"`
				VolumeMounts []struct {
					Name      string `json:"name"`
					MountPath string `json:"mountPath"`
				} `json:"volumeMounts"`
			} `json:"containers"`
			Volumes []struct {
				Name   string `json:"name"`
				Secret *struct {
					SecretName string `json:"secretName"`
				} `json:"secret"`
			} `json:"volumes"`
		} `json:"spec"`
	} `json:"template"`
}

// overlayGateway renders a k8s overlay with the k8s module's renderer
// (k8s.Render: the Kustomize library `kubectl kustomize` embeds, as
// k8s/manifests_test.go renders) and returns the gateway container's
// environment (its ConfigMaps, then its env; a Downward API value reads
// "fieldRef:<path>") and the site it runs on.
func overlayGateway(t *testing.T, root, overlay string) (map[string]string, envSite) {
	t.Helper()
	cmd := exec.Command("go", "run", "./k8s/cmd/render", filepath.Join("k8s", "overlays", overlay))
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("render %s: %v\n%s", overlay, err, stderr.Bytes())
	}
	var list struct {
		Items []renderedObject `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatalf("render %s: %v", overlay, err)
	}
	objects := map[string]renderedObject{}
	for _, o := range list.Items {
		objects[o.Kind+"/"+o.Metadata.Name] = o
	}
	gw, ok := objects["Deployment/gateway"]
	if !ok {
		t.Fatalf("%s: no Deployment gateway", overlay)
	}
	var pod podTemplate
	if err := json.Unmarshal(gw.Spec, &pod); err != nil {
		t.Fatal(err)
	}
	spec := pod.Template.Spec
	if len(spec.Containers) == 0 {
		t.Fatalf("%s: the gateway Deployment has no container", overlay)
	}
	c := spec.Containers[0]
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		cm, ok := objects["ConfigMap/"+ef.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("%s: the gateway uses ConfigMap %s, which is not rendered", overlay, ef.ConfigMapRef.Name)
		}
		maps.Copy(env, cm.Data)
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom != nil:
			env[e.Name] = "valueFrom" // a Secret or ConfigMap key: not a literal
		default:
			env[e.Name] = e.Value
		}
	}
	site := envSite{
		production: overlay == "prod" || overlay == "dr",
		// The URL file must come from CloudNativePG's Secret of the
		// pg-gateway cluster this overlay runs.
		database: func(file string) string {
			if _, ok := objects["Cluster/pg-gateway"]; !ok {
				return ""
			}
			for _, m := range c.VolumeMounts {
				if m.MountPath != path.Dir(file) || path.Base(file) != "uri" {
					continue
				}
				for _, v := range spec.Volumes {
					if v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == "pg-gateway-app" {
						return "Cluster pg-gateway (Secret pg-gateway-app)"
					}
				}
			}
			return ""
		},
		// The gateway asks its Signature backend for the audit chain's
		// time-stamps: that must be the signature enabler's Service.
		signature: func(addr string) string {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host != "signature" {
				return ""
			}
			svc, ok := objects["Service/signature"]
			if !ok {
				return ""
			}
			var s struct {
				Ports []struct {
					Port int `json:"port"`
				} `json:"ports"`
			}
			if err := json.Unmarshal(svc.Spec, &s); err != nil {
				return ""
			}
			for _, p := range s.Ports {
				if strconv.Itoa(p.Port) == port {
					return "signature enabler (Service " + addr + ")"
				}
			}
			return ""
		},
		// Replicas come and go with the HPA: only the pod's own name (or
		// uid) keeps their chains apart.
		perReplica: func(chain string) bool {
			return chain == "fieldRef:metadata.name" || chain == "fieldRef:metadata.uid"
		},
	}
	return env, site
}

// TestSecurityParity states the security-relevant settings of every way
// Tamkeen runs — `tamkeen dev` (its gateway.Config, captured through the
// devHooks.gateway hook), `make run-distributed` (distributed.GatewayEnv,
// the gateway process's environment) and the k8s overlays dev, prod and
// dr (the gateway container's environment as rendered) — side by side in
// the test's log, and fails when any of them is weaker than `tamkeen dev`
// on one of parityRows (the list and its reasons are there), or when a
// shape sets a variable the gateway binary does not read.
func TestSecurityParity(t *testing.T) {
	root, err := distributed.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	known := binaryEnv(t, root)
	mirror := mirroredEnv(t)
	for k := range known {
		if !mirror[strings.TrimSuffix(k, "_FILE")] {
			t.Errorf("gateway -help lists %s, which gateway.Settings does not read", k)
		}
	}
	for k := range mirror {
		if !known[k] {
			t.Errorf("gateway.Settings reads %s, which the gateway binary does not", k)
		}
	}

	// tamkeen dev: the configuration it gives gateway.New.
	var devCfg *gateway.Config
	startDevHooks(t, t.TempDir(), devHooks{gateway: func(c *gateway.Config) {
		cp := *c
		devCfg = &cp
	}}, nil)
	if devCfg == nil {
		t.Fatal("tamkeen dev started without calling the gateway hook")
	}
	dev := gatewayShape{
		name: "tamkeen dev",
		cfg:  normalized(*devCfg),
		// gateway.New refuses rights, audit and metering without
		// Deps.DB, and dev started with them.
		db:   map[bool]string{true: "sqlite, gateway.db in the data dir"}[devCfg.EnforceRights || devCfg.Audit || devCfg.Metering],
		tsa:  "signature enabler (in process)",
		nats: "embedded NATS",
		// One gateway in the process.
		chainPerReplica: true,
		opsSeparate:     opsApart(cmp.Or(devCfg.HTTPAddr, gateway.DefaultHTTPAddr), cmp.Or(devCfg.OpsAddr, gateway.DefaultOpsAddr)),
	}

	// run-distributed: the gateway process's environment, with the
	// addresses a topology would pick.
	addrs := distributed.GatewayAddrs{
		HTTP: "127.0.0.1:18080", Ops: "127.0.0.1:18081", NATS: "nats://127.0.0.1:14222",
		DBURLFile: filepath.Join(t.TempDir(), "secrets", "gateway-db-uri"),
		Services:  map[string]string{}, ServiceOps: map[string]string{},
	}
	for i, s := range distributed.Services() {
		addrs.Services[s] = fmt.Sprintf("127.0.0.1:%d", 19091+i)
		addrs.ServiceOps[s] = fmt.Sprintf("127.0.0.1:%d", 19464+i)
	}
	distSite := envSite{
		database: func(file string) string {
			return unless(file != addrs.DBURLFile, "database <prefix>gateway (URL in "+filepath.Base(file)+")")
		},
		signature: func(addr string) string {
			return unless(addr != addrs.Services["signature"], "signature process ("+addr+")")
		},
		// One gateway process.
		perReplica: func(string) bool { return true },
	}
	distEnv := distributed.GatewayEnv(addrs)
	shapes := []gatewayShape{dev, envShape("run-distributed", distEnv, known, distSite)}

	overlayEnv := map[string]map[string]string{}
	overlaySite := map[string]envSite{}
	for _, o := range []string{"dev", "prod", "dr"} {
		env, site := overlayGateway(t, root, o)
		overlayEnv[o], overlaySite[o] = env, site
		shapes = append(shapes, envShape("k8s "+o, env, known, site))
	}

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "setting")
	for _, s := range shapes {
		fmt.Fprint(tw, "\t"+s.name)
	}
	fmt.Fprintln(tw)
	for _, row := range parityRows {
		fmt.Fprint(tw, row.name)
		for _, s := range shapes {
			fmt.Fprint(tw, "\t"+row.show(s))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("the gateway's security settings, by shape (rows: parityRows):\n%s", table.String())

	for _, s := range shapes[1:] {
		for _, p := range s.problems {
			t.Errorf("%s: %s", s.name, p)
		}
		for _, w := range weaknesses(dev, s) {
			t.Errorf("%s is weaker than tamkeen dev: %s", s.name, w)
		}
	}

	// The comparison itself: each of these edits of the prod overlay's
	// gateway (and run-distributed's) makes it weaker on the named row.
	t.Run("catches a weaker shape", func(t *testing.T) {
		if w := weaknesses(dev, envShape("k8s prod", overlayEnv["prod"], known, overlaySite["prod"])); len(w) > 0 {
			t.Skip("prod is weaker than dev already (above); the edits would not show what each row catches")
		}
		// An empty TAMKEEN_NATS_URL takes the default (as the binary
		// does), so no edit of the environment turns NATS off.
		edits := []struct {
			row  string
			edit func(env map[string]string)
			// also are rows the edit weakens as a consequence.
			also []string
		}{
			{"access rights enforced", func(env map[string]string) { env["TAMKEEN_ENFORCE_RIGHTS"] = "false" }, nil},
			{"gateway database", func(env map[string]string) { delete(env, "TAMKEEN_DB_DSN_FILE") }, nil},
			{"gateway database", func(env map[string]string) { env["TAMKEEN_DB_DSN_FILE"] = "/var/run/secrets/tamkeen/other/uri" }, nil},
			{"audit log", func(env map[string]string) { delete(env, "TAMKEEN_AUDIT") }, []string{"audit time-stamped"}},
			{"audit chain per replica", func(env map[string]string) { env["TAMKEEN_AUDIT_CHAIN"] = "gateway" }, nil},
			{"audit time-stamped", func(env map[string]string) { env["TAMKEEN_AUDIT_STAMP_EVERY"] = "-1" }, nil},
			{"audit time-stamped", func(env map[string]string) { env["TAMKEEN_AUDIT_STAMP_INTERVAL"] = "1h" }, nil},
			{"audit time-stamped", func(env map[string]string) { env["TAMKEEN_SIGNATURE_ADDR"] = "content:9090" }, nil},
			{"usage metered", func(env map[string]string) { delete(env, "TAMKEEN_METERING") }, nil},
			{"rate limits", func(env map[string]string) { env["TAMKEEN_RATE_LIMITS"] = "read=100/200,write=50/100" }, nil},
			{"ops listener apart from the API", func(env map[string]string) { env["TAMKEEN_OPS_ADDR"] = env["TAMKEEN_HTTP_ADDR"] }, nil},
			{"trusted proxies", func(env map[string]string) { env["TAMKEEN_TRUSTED_PROXIES"] = "0.0.0.0/0" }, nil},
			{"trusted proxies", func(env map[string]string) { env["TAMKEEN_TRUSTED_PROXIES"] = "10.0.0.0/8" }, nil},
			{"max access-token lifetime", func(env map[string]string) { env["TAMKEEN_MAX_TOKEN_LIFETIME"] = "24h" }, nil},
			{"ended sessions remembered", func(env map[string]string) { env["TAMKEEN_REVOKED_SESSIONS_TTL"] = "1m" }, nil},
			{"rights reloaded every", func(env map[string]string) { env["TAMKEEN_RIGHTS_REFRESH"] = "10m" }, nil},
			{"request limits (body, raw, headers)", func(env map[string]string) { env["TAMKEEN_MAX_BODY_BYTES"] = "1073741824" }, nil},
			{"sandbox checkout proxied", func(env map[string]string) { env["TAMKEEN_SANDBOX_URL"] = "http://payment:9464" }, nil},
		}
		for _, e := range edits {
			env := maps.Clone(overlayEnv["prod"])
			e.edit(env)
			got := weaknesses(dev, envShape("k8s prod (edited)", env, known, overlaySite["prod"]))
			var rows []string
			for _, w := range got {
				row, _, _ := strings.Cut(w, ": ")
				rows = append(rows, row)
			}
			if want := append([]string{e.row}, e.also...); !slices.Equal(rows, want) {
				t.Errorf("prod edited for %q: weaknesses %q; want rows %q", e.row, got, want)
			}
		}
		// A private network of at most 2^16 addresses (the ingress
		// controllers' pods) may be trusted; a variable the gateway does
		// not read is refused.
		env := maps.Clone(overlayEnv["prod"])
		env["TAMKEEN_TRUSTED_PROXIES"] = "10.42.0.0/16"
		if got := weaknesses(dev, envShape("k8s prod (ingress pods trusted)", env, known, overlaySite["prod"])); len(got) != 0 {
			t.Errorf("prod trusting 10.42.0.0/16: weaknesses %q; want none", got)
		}
		env = maps.Clone(distEnv)
		env["TAMKEEN_AUDITS"] = "true"
		if s := envShape("run-distributed (edited)", env, known, distSite); len(s.problems) != 1 {
			t.Errorf("TAMKEEN_AUDITS set: problems %q; want one (not a setting of the gateway binary)", s.problems)
		}
	})
}

// weaknesses lists, as "row: reason", every row on which s is weaker than
// dev.
func weaknesses(dev, s gatewayShape) []string {
	var out []string
	for _, row := range parityRows {
		if row.productionOnly && !s.production {
			continue
		}
		if w := row.weaker(dev, s); w != "" {
			out = append(out, row.name+": "+w)
		}
	}
	return out
}
