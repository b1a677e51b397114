package k8s_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	nackv1beta2 "github.com/nats-io/nack/pkg/jetstream/apis/jetstream/v1beta2"
	"github.com/nats-io/nats-server/v2/server"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/tamkeen/tamkeen/k8s"
)

// overlays are the deployable variants; each renders the whole platform.
var overlays = []string{"dev", "prod", "dr"}

// enablers are the five services (DESIGN.md §1).
var enablers = []string{"auth", "notification", "signature", "payment", "content"}

// object is one rendered manifest, strictly decoded into its API type.
type object struct {
	kind, name string
	raw        []byte // JSON
	obj        any
}

// rendered is an overlay's output, by kind.
type rendered struct {
	overlay string
	objects []object
}

func (r rendered) all(kind string) []object {
	var out []object
	for _, o := range r.objects {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// newTyped returns the Go type an apiVersion/kind decodes into; nil for a
// kind the platform does not expect (which fails the test).
func newTyped(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "batch/v1/Job":
		return &batchv1.Job{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}
	case "postgresql.cnpg.io/v1/Cluster":
		return &cnpgv1.Cluster{}
	case "postgresql.cnpg.io/v1/ScheduledBackup":
		return &cnpgv1.ScheduledBackup{}
	case "jetstream.nats.io/v1beta2/Stream":
		return &nackv1beta2.Stream{}
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	}
	return nil
}

// render builds an overlay with k8s.Render (the Kustomize library that
// `kubectl kustomize` embeds) and strictly decodes every object.
func render(t *testing.T, overlay string) rendered {
	t.Helper()
	objs, err := k8s.Render(filepath.Join("overlays", overlay))
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, overlay, objs)
}

// decode strictly decodes each JSON object into its API type: a field the
// type does not have, a duplicate field or a wrong case fails.
func decode(t *testing.T, overlay string, objs [][]byte) rendered {
	t.Helper()
	out := rendered{overlay: overlay}
	for _, j := range objs {
		var tm struct {
			metav1.TypeMeta
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
			t.Fatal(err)
		}
		name := tm.Metadata.Name
		typed := newTyped(tm.APIVersion, tm.Kind)
		if typed == nil {
			t.Errorf("%s: %s %s/%s is a kind the tests do not know", overlay, tm.APIVersion, tm.Kind, name)
			continue
		}
		strict, err := sigsjson.UnmarshalStrict(j, typed, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
		if err == nil && len(strict) > 0 {
			err = fmt.Errorf("%v", strict)
		}
		if err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v", overlay, tm.Kind, name, err)
			continue
		}
		out.objects = append(out.objects, object{kind: tm.Kind, name: name, raw: j, obj: typed})
	}
	return out
}

// renderAll renders every overlay once per test binary.
func renderAll(t *testing.T) []rendered {
	t.Helper()
	var out []rendered
	for _, o := range overlays {
		out = append(out, render(t, o))
	}
	return out
}

// TestKubectlKustomize: `kubectl kustomize` renders every overlay to the
// same objects as the library the other tests use.
func TestKubectlKustomize(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl is not installed; the Kustomize library renders the overlays in the other tests")
	}
	for _, r := range renderAll(t) {
		out, err := exec.Command("kubectl", "kustomize", filepath.Join("overlays", r.overlay)).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl kustomize %s: %v\n%s", r.overlay, err, out)
			continue
		}
		var kinds []string
		for _, doc := range bytes.Split(out, []byte("\n---\n")) {
			var tm struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, tm.Kind+"/"+tm.Metadata.Name)
		}
		var want []string
		for _, o := range r.objects {
			want = append(want, o.kind+"/"+o.name)
		}
		sort.Strings(kinds)
		sort.Strings(want)
		if !slices.Equal(kinds, want) {
			t.Errorf("%s: kubectl kustomize renders %v; the library %v", r.overlay, kinds, want)
		}
	}
}

// TestEveryOverlayHasThePlatform: each overlay holds each enabler and the
// gateway (Deployment, Service, ServiceAccount, ConfigMap), NATS, one
// PostgreSQL cluster and one migration Job (not at the DR site) per enabler
// and for the gateway, the Ingress, the default deny, the alert rules and
// the Grafana dashboard.
func TestEveryOverlayHasThePlatform(t *testing.T) {
	for _, r := range renderAll(t) {
		names := map[string]bool{}
		for _, o := range r.objects {
			names[o.kind+"/"+o.name] = true
		}
		var want []string
		for _, s := range append(slices.Clone(enablers), "gateway") {
			want = append(want, "Deployment/"+s, "Service/"+s, "ServiceAccount/"+s)
		}
		for _, s := range append(slices.Clone(enablers), "gateway") {
			want = append(want, "Cluster/pg-"+s)
			if r.overlay != "dr" {
				want = append(want, "Job/"+s+"-migrate")
			}
		}
		want = append(want, "StatefulSet/nats", "Service/nats", "Ingress/gateway", "NetworkPolicy/default-deny", "Namespace/tamkeen",
			"PrometheusRule/tamkeen", "ConfigMap/grafana-dashboards-tamkeen")
		for _, w := range want {
			if !names[w] {
				t.Errorf("%s: no %s", r.overlay, w)
			}
		}
		cms := 0
		for _, o := range r.all("ConfigMap") {
			if strings.HasSuffix(o.name, "-config") || strings.Contains(o.name, "-config-") {
				cms++
			}
		}
		if cms != 7 {
			t.Errorf("%s: %d service ConfigMaps; want 7 (five enablers, gateway, NATS)", r.overlay, cms)
		}
	}
}

// podSpec is a workload's pod template.
type podSpec struct {
	kind, name string
	labels     map[string]string
	spec       corev1.PodSpec
	replicas   *int32
}

func pods(r rendered) []podSpec {
	var out []podSpec
	for _, o := range r.objects {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			out = append(out, podSpec{o.kind, o.name, v.Spec.Template.Labels, v.Spec.Template.Spec, v.Spec.Replicas})
		case *appsv1.StatefulSet:
			out = append(out, podSpec{o.kind, o.name, v.Spec.Template.Labels, v.Spec.Template.Spec, v.Spec.Replicas})
		case *batchv1.Job:
			out = append(out, podSpec{o.kind, o.name, v.Spec.Template.Labels, v.Spec.Template.Spec, nil})
		}
	}
	return out
}

// TestPolicyImagesPinned: no image is :latest or untagged.
func TestPolicyImagesPinned(t *testing.T) {
	tag := regexp.MustCompile(`^[^:@]+(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
	check := func(overlay, where, image string) {
		if !tag.MatchString(image) || (!strings.Contains(image, ":") && !strings.Contains(image, "@")) ||
			strings.HasSuffix(image, ":latest") {
			t.Errorf("%s: %s image %q is not pinned to a version", overlay, where, image)
		}
	}
	for _, r := range renderAll(t) {
		for _, p := range pods(r) {
			for _, c := range append(slices.Clone(p.spec.InitContainers), p.spec.Containers...) {
				check(r.overlay, p.kind+"/"+p.name, c.Image)
			}
		}
		for _, o := range r.all("Cluster") {
			check(r.overlay, "Cluster/"+o.name, o.obj.(*cnpgv1.Cluster).Spec.ImageName)
		}
	}
}

// TestPolicyProbesAndResources: every long-running container has start-up,
// liveness and readiness probes; every container has CPU and memory
// requests and limits; the PostgreSQL clusters have resources too.
func TestPolicyProbesAndResources(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, p := range pods(r) {
			for _, c := range p.spec.Containers {
				where := fmt.Sprintf("%s: %s/%s container %s", r.overlay, p.kind, p.name, c.Name)
				if p.kind != "Job" && (c.StartupProbe == nil || c.LivenessProbe == nil || c.ReadinessProbe == nil) {
					t.Errorf("%s lacks a start-up, liveness or readiness probe", where)
				}
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					if _, ok := c.Resources.Limits[res]; !ok {
						t.Errorf("%s has no %s limit", where, res)
					}
					if _, ok := c.Resources.Requests[res]; !ok {
						t.Errorf("%s has no %s request", where, res)
					}
				}
			}
		}
		for _, o := range r.all("Cluster") {
			c := o.obj.(*cnpgv1.Cluster)
			if c.Spec.Resources.Limits.Memory().IsZero() || c.Spec.Resources.Requests.Cpu().IsZero() {
				t.Errorf("%s: Cluster %s has no resources", r.overlay, o.name)
			}
		}
	}
}

// TestPolicyNonRootReadOnly: every pod runs as non-root with the default
// seccomp profile; every container has a read-only root file system, no
// privilege escalation and no capabilities.
func TestPolicyNonRootReadOnly(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, p := range pods(r) {
			ps := p.spec.SecurityContext
			if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 ||
				ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("%s: %s/%s pod is not non-root with RuntimeDefault seccomp", r.overlay, p.kind, p.name)
			}
			if p.spec.AutomountServiceAccountToken == nil || *p.spec.AutomountServiceAccountToken {
				t.Errorf("%s: %s/%s mounts a service account token it does not need", r.overlay, p.kind, p.name)
			}
			for _, c := range append(slices.Clone(p.spec.InitContainers), p.spec.Containers...) {
				sc := c.SecurityContext
				ok := sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem &&
					sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation &&
					(sc.Privileged == nil || !*sc.Privileged) &&
					sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL") && len(sc.Capabilities.Add) == 0
				if !ok {
					t.Errorf("%s: %s/%s container %s is not read-only, unprivileged with ALL capabilities dropped", r.overlay, p.kind, p.name, c.Name)
				}
			}
		}
	}
}

// selects reports whether sel matches lbls.
func selects(t *testing.T, sel *metav1.LabelSelector, lbls map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return s.Matches(labels.Set(lbls))
}

// TestPolicyNetworkPolicies: a default deny selects every pod (ingress and
// egress), and every pod — the PostgreSQL instances too — is selected by
// at least one policy that allows its traffic; only the gateway admits
// traffic from the ingress controller.
func TestPolicyNetworkPolicies(t *testing.T) {
	for _, r := range renderAll(t) {
		var nps []*networkingv1.NetworkPolicy
		for _, o := range r.all("NetworkPolicy") {
			nps = append(nps, o.obj.(*networkingv1.NetworkPolicy))
		}
		type target struct {
			where  string
			labels map[string]string
		}
		var targets []target
		for _, p := range pods(r) {
			targets = append(targets, target{p.kind + "/" + p.name, p.labels})
		}
		for _, o := range r.all("Cluster") {
			c := o.obj.(*cnpgv1.Cluster)
			lbls := map[string]string{"cnpg.io/cluster": o.name}
			if c.Spec.InheritedMetadata != nil {
				for k, v := range c.Spec.InheritedMetadata.Labels {
					lbls[k] = v
				}
			}
			targets = append(targets, target{"Cluster/" + o.name, lbls})
		}
		for _, tg := range targets {
			denied, allowed := false, false
			for _, np := range nps {
				if !selects(t, &np.Spec.PodSelector, tg.labels) {
					continue
				}
				if len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 && len(np.Spec.PolicyTypes) == 2 {
					denied = true
				}
				if np.Name != "allow-dns" && (len(np.Spec.Ingress) > 0 || len(np.Spec.Egress) > 0) {
					allowed = true
				}
			}
			if !denied || !allowed {
				t.Errorf("%s: %s: selected by the default deny %v, by an allowing policy %v; want both", r.overlay, tg.where, denied, allowed)
			}
		}
		// Only the gateway's pods admit the ingress controller.
		for _, np := range nps {
			for _, in := range np.Spec.Ingress {
				for _, peer := range in.From {
					if peer.NamespaceSelector != nil && peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] == "ingress-nginx" &&
						np.Spec.PodSelector.MatchLabels["tamkeen.gov.ps/tier"] != "gateway" {
						t.Errorf("%s: NetworkPolicy %s admits the ingress controller to non-gateway pods", r.overlay, np.Name)
					}
				}
			}
		}
	}
}

// TestPolicyPDBAndHPA: every Deployment that runs has a PodDisruptionBudget
// selecting its pods and an HPA scaling it; the DR site's Deployments are
// scaled to zero (standby) until the fail-over drill.
func TestPolicyPDBAndHPA(t *testing.T) {
	for _, r := range renderAll(t) {
		for _, o := range r.all("Deployment") {
			d := o.obj.(*appsv1.Deployment)
			running := d.Spec.Replicas == nil || *d.Spec.Replicas > 0
			if r.overlay == "dr" {
				if running {
					t.Errorf("dr: Deployment %s runs %v replicas; the standby site runs none", o.name, d.Spec.Replicas)
				}
				continue
			}
			hasPDB, hasHPA := false, false
			for _, p := range r.all("PodDisruptionBudget") {
				if selects(t, p.obj.(*policyv1.PodDisruptionBudget).Spec.Selector, d.Spec.Template.Labels) {
					hasPDB = true
				}
			}
			for _, h := range r.all("HorizontalPodAutoscaler") {
				ref := h.obj.(*autoscalingv2.HorizontalPodAutoscaler).Spec.ScaleTargetRef
				if ref.Kind == "Deployment" && ref.Name == o.name {
					hasHPA = true
				}
			}
			if !hasPDB || !hasHPA {
				t.Errorf("%s: Deployment %s has a PDB %v and an HPA %v; want both", r.overlay, o.name, hasPDB, hasHPA)
			}
		}
	}
}

// secretName matches settings that hold secrets.
var secretName = regexp.MustCompile(`(?i)(key|secret|password|passwd|pin|token|dsn|creds|credential)$`)

// TestPolicyNoSecretValues: no Secret is rendered; a secret setting is
// never a literal in a ConfigMap or an env value (only *_FILE paths or
// secretKeyRef); nothing looks like a key, a password or a token.
func TestPolicyNoSecretValues(t *testing.T) {
	leak := regexp.MustCompile(`-----BEGIN|(?i)password=|postgres(ql)?://[^/\s]*:[^@\s]*@|eyJ[A-Za-z0-9_-]{10,}\.`)
	for _, r := range renderAll(t) {
		for _, o := range r.objects {
			if o.kind == "Secret" {
				t.Errorf("%s: Secret %s is rendered; secrets are created in the cluster, never committed", r.overlay, o.name)
			}
			if m := leak.Find(o.raw); m != nil {
				t.Errorf("%s: %s %s holds %q", r.overlay, o.kind, o.name, m)
			}
		}
		for _, o := range r.all("ConfigMap") {
			for k, v := range o.obj.(*corev1.ConfigMap).Data {
				// A setting that names a file (the gateway's --xroad-key is
				// the path of its TLS key) is no secret; the file is in a
				// mounted Secret (TestGatewayXRoad checks which).
				if secretName.MatchString(k) && !strings.HasPrefix(v, "/var/run/secrets/") {
					t.Errorf("%s: ConfigMap %s sets the secret %s; use a Secret and %s_FILE", r.overlay, o.name, k, k)
				}
			}
		}
		for _, p := range pods(r) {
			for _, c := range p.spec.Containers {
				for _, e := range c.Env {
					if secretName.MatchString(e.Name) && e.Value != "" {
						t.Errorf("%s: %s/%s sets %s to a literal; use a Secret", r.overlay, p.kind, p.name, e.Name)
					}
				}
			}
		}
	}
}

// TestServiceConfigs: every enabler reads its database URL and keys from
// files mounted from Secrets, connects to NATS, does not migrate at
// start-up (the migration Job does), and sets its stream replicas to
// match the NATS cluster (three, one in dev).
func TestServiceConfigs(t *testing.T) {
	for _, r := range renderAll(t) {
		cfg := map[string]map[string]string{}
		for _, o := range r.all("ConfigMap") {
			cfg[o.name] = o.obj.(*corev1.ConfigMap).Data
		}
		wantReplicas := "3"
		if r.overlay == "dev" {
			wantReplicas = "1"
		}
		for _, o := range r.all("Deployment") {
			d := o.obj.(*appsv1.Deployment)
			c := d.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef == nil {
					continue
				}
				data, ok := cfg[ef.ConfigMapRef.Name]
				if !ok {
					t.Fatalf("%s: Deployment %s uses ConfigMap %s, which is not rendered", r.overlay, o.name, ef.ConfigMapRef.Name)
				}
				for k, v := range data {
					env[k] = v
				}
			}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			for k := range env {
				if !strings.HasPrefix(k, "TAMKEEN_") {
					t.Errorf("%s: %s sets %s, which no Tamkeen binary reads", r.overlay, o.name, k)
				}
			}
			if o.name == "gateway" {
				for _, s := range enablers {
					if env["TAMKEEN_"+strings.ToUpper(s)+"_ADDR"] != s+":9090" {
						t.Errorf("%s: gateway reaches %s at %q; want %s:9090", r.overlay, s, env["TAMKEEN_"+strings.ToUpper(s)+"_ADDR"], s)
					}
				}
				continue
			}
			for k, want := range map[string]string{
				"TAMKEEN_DB_ENGINE": "postgres", "TAMKEEN_MIGRATE": "false", "TAMKEEN_NATS_URL": "nats://nats:4222",
				"TAMKEEN_STREAM_REPLICAS": wantReplicas, "TAMKEEN_DB_DSN_FILE": "/var/run/secrets/tamkeen/db/uri",
				"TAMKEEN_GRPC_ADDR": "0.0.0.0:9090", "TAMKEEN_METRICS_ADDR": "0.0.0.0:9464",
			} {
				if env[k] != want {
					t.Errorf("%s: %s has %s=%q; want %q", r.overlay, o.name, k, env[k], want)
				}
			}
			if (o.name == "auth" || o.name == "signature") && env["TAMKEEN_KEY_ENCRYPTION_KEY_FILE"] == "" {
				t.Errorf("%s: %s has no key-encryption key file", r.overlay, o.name)
			}
			// Auth seals citizens' identities to signature's identity key.
			if o.name == "auth" && env["TAMKEEN_IDENTITY_RECIPIENT_KEY_FILE"] != "/var/run/secrets/tamkeen/keys/identity-recipient-key" {
				t.Errorf("%s: auth has TAMKEEN_IDENTITY_RECIPIENT_KEY_FILE=%q; want the auth-keys file identity-recipient-key", r.overlay, env["TAMKEEN_IDENTITY_RECIPIENT_KEY_FILE"])
			}
			if o.name == "signature" && env["TAMKEEN_IDENTITY_KEY_FILE"] != "/var/run/secrets/tamkeen/keys/identity-key" {
				t.Errorf("%s: signature has TAMKEEN_IDENTITY_KEY_FILE=%q; want the signature-keys file identity-key", r.overlay, env["TAMKEEN_IDENTITY_KEY_FILE"])
			}
			// Without a callback key, webhook endpoints answer 412.
			if o.name == "notification" && env["TAMKEEN_CALLBACK_KEY_FILE"] != "/var/run/secrets/tamkeen/keys/callback-key" {
				t.Errorf("%s: notification has TAMKEEN_CALLBACK_KEY_FILE=%q; want the notification-keys file callback-key", r.overlay, env["TAMKEEN_CALLBACK_KEY_FILE"])
			}
		}
	}
}

// TestNATSConfig: each overlay's nats.conf parses with the nats-server it
// runs, with JetStream and encryption at rest on; prod and dr cluster three
// servers; dr connects to the primary as a leaf node in its own domain.
func TestNATSConfig(t *testing.T) {
	t.Setenv("POD_NAME", "nats-0")
	t.Setenv("JS_KEY", "a-test-key-not-a-secret")
	for _, r := range renderAll(t) {
		var conf string
		for _, o := range r.all("ConfigMap") {
			if strings.HasPrefix(o.name, "nats-config") {
				conf = o.obj.(*corev1.ConfigMap).Data["nats.conf"]
			}
		}
		if conf == "" {
			t.Fatalf("%s: no nats.conf", r.overlay)
		}
		path := filepath.Join(t.TempDir(), "nats.conf")
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Errorf("%s: nats.conf: %v", r.overlay, err)
			continue
		}
		if !opts.JetStream || opts.StoreDir != "/data" || opts.JetStreamKey == "" || opts.JetStreamCipher != server.ChaCha {
			t.Errorf("%s: JetStream %v store %q encrypted %v; want JetStream on /data with ChaCha20 at rest", r.overlay, opts.JetStream, opts.StoreDir, opts.JetStreamKey != "")
		}
		routes := len(opts.Routes)
		switch r.overlay {
		case "dev":
			if routes != 0 {
				t.Errorf("dev: %d cluster routes; want a single server", routes)
			}
		default:
			if routes != 3 || opts.Cluster.Name == "" {
				t.Errorf("%s: %d routes in cluster %q; want 3", r.overlay, routes, opts.Cluster.Name)
			}
		}
		if r.overlay == "dr" && (opts.JetStreamDomain != "dr" || len(opts.LeafNode.Remotes) != 1) {
			t.Errorf("dr: domain %q with %d leaf remotes; want domain dr and one remote (the primary)", opts.JetStreamDomain, len(opts.LeafNode.Remotes))
		}
		if r.overlay == "prod" && (opts.JetStreamDomain != "primary" || opts.LeafNode.Port == 0) {
			t.Errorf("prod: domain %q, leaf node port %d; want domain primary listening for the DR site", opts.JetStreamDomain, opts.LeafNode.Port)
		}
		for _, o := range r.all("StatefulSet") {
			ss := o.obj.(*appsv1.StatefulSet)
			want := int32(3)
			if r.overlay == "dev" {
				want = 1
			}
			if ss.Spec.Replicas == nil || *ss.Spec.Replicas != want || len(ss.Spec.VolumeClaimTemplates) == 0 {
				t.Errorf("%s: NATS runs %v servers; want %d with persistent volumes", r.overlay, ss.Spec.Replicas, want)
			}
		}
	}
}

// TestPostgresClusters: prod and dr run three instances per cluster with
// backups to an object store and a daily ScheduledBackup; dev runs one;
// dr's clusters are replica clusters of the primary's, restored from its
// backups, and the DR site mirrors every event stream with three replicas.
func TestPostgresClusters(t *testing.T) {
	for _, r := range renderAll(t) {
		scheduled := map[string]bool{}
		for _, o := range r.all("ScheduledBackup") {
			scheduled[o.obj.(*cnpgv1.ScheduledBackup).Spec.Cluster.Name] = true
		}
		for _, o := range r.all("Cluster") {
			c := o.obj.(*cnpgv1.Cluster)
			switch r.overlay {
			case "dev":
				if c.Spec.Instances != 1 {
					t.Errorf("dev: %s has %d instances; want 1", o.name, c.Spec.Instances)
				}
			default:
				if c.Spec.Instances != 3 || c.Spec.Backup == nil || c.Spec.Backup.BarmanObjectStore == nil || !scheduled[o.name] {
					t.Errorf("%s: %s has %d instances, backup %v, scheduled %v; want 3 with object-store and scheduled backups",
						r.overlay, o.name, c.Spec.Instances, c.Spec.Backup != nil, scheduled[o.name])
				}
				if c.Spec.StorageConfiguration.Size == "" {
					t.Errorf("%s: %s has no persistent storage size", r.overlay, o.name)
				}
			}
			if r.overlay == "dr" {
				ok := c.Spec.ReplicaCluster != nil && c.Spec.ReplicaCluster.Enabled != nil && *c.Spec.ReplicaCluster.Enabled &&
					c.Spec.Bootstrap != nil && c.Spec.Bootstrap.Recovery != nil && c.Spec.Bootstrap.InitDB == nil &&
					len(c.Spec.ExternalClusters) == 1 && c.Spec.ExternalClusters[0].Name == c.Spec.ReplicaCluster.Source
				if !ok {
					t.Errorf("dr: %s is not a replica cluster recovering from the primary's object store", o.name)
				}
			}
		}
		if r.overlay != "dr" {
			if n := len(r.all("Stream")); n != 0 {
				t.Errorf("%s: %d NACK Streams; the enablers create their own streams", r.overlay, n)
			}
			continue
		}
		mirrored := map[string]bool{}
		for _, o := range r.all("Stream") {
			s := o.obj.(*nackv1beta2.Stream)
			if s.Spec.Mirror == nil || s.Spec.Mirror.Name != s.Spec.Name || s.Spec.Replicas != 3 ||
				s.Spec.Mirror.ExternalAPIPrefix != "$JS.primary.API" || len(s.Spec.Subjects) != 0 {
				t.Errorf("dr: Stream %s is not an R3 mirror of the primary's %s", o.name, s.Spec.Name)
			}
			mirrored[s.Spec.Name] = true
		}
		for _, s := range enablers {
			if !mirrored[strings.ToUpper(s)] {
				t.Errorf("dr: the %s event stream is not mirrored", strings.ToUpper(s))
			}
		}
	}
}

// TestProdHighAvailability: in prod every Deployment runs three replicas,
// never two of one kind on a node, spread over zones, and rolls with no
// pod unavailable.
func TestProdHighAvailability(t *testing.T) {
	r := render(t, "prod")
	for _, o := range r.all("Deployment") {
		d := o.obj.(*appsv1.Deployment)
		spec := d.Spec.Template.Spec
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("prod: %s runs %v replicas; want 3", o.name, d.Spec.Replicas)
		}
		if spec.Affinity == nil || spec.Affinity.PodAntiAffinity == nil ||
			len(spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("prod: %s has no required pod anti-affinity", o.name)
		}
		if len(spec.TopologySpreadConstraints) == 0 || spec.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.DoNotSchedule {
			t.Errorf("prod: %s is not spread over zones", o.name)
		}
		if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("prod: %s may take pods away during a rollout; want maxUnavailable 0", o.name)
		}
	}
	for _, o := range r.all("HorizontalPodAutoscaler") {
		if h := o.obj.(*autoscalingv2.HorizontalPodAutoscaler); h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 3 {
			t.Errorf("prod: HPA %s may scale below 3", o.name)
		}
	}
}

// TestImagesMatchDeploy: the images the manifests run are the binaries
// deploy/images.txt builds.
func TestImagesMatchDeploy(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "images.txt"))
	if err != nil {
		t.Fatal(err)
	}
	built := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			built["registry.gov.ps/tamkeen/"+f[0]] = true
		}
	}
	r := render(t, "prod")
	for _, p := range pods(r) {
		for _, c := range p.spec.Containers {
			repo, _, _ := strings.Cut(c.Image, ":")
			if strings.HasPrefix(repo, "registry.gov.ps/tamkeen/") && !built[repo] {
				t.Errorf("%s/%s runs %s, which deploy/images.txt does not build", p.kind, p.name, c.Image)
			}
		}
	}
}

// TestGatewayOpsPort: the gateway's /metrics, /healthz, /readyz and pprof
// are on its operations listener (8081, TAMKEEN_OPS_ADDR): the probes and
// Prometheus use it, the Service (which the Ingress routes "/" to) does
// not expose it, and only the monitoring namespace may reach it, while
// the ingress controller and the enablers reach 8080 only.
func TestGatewayOpsPort(t *testing.T) {
	for _, r := range renderAll(t) {
		cfg := map[string]map[string]string{}
		for _, o := range r.all("ConfigMap") {
			cfg[o.name] = o.obj.(*corev1.ConfigMap).Data
		}
		for _, o := range r.all("Deployment") {
			if o.name != "gateway" {
				continue
			}
			d := o.obj.(*appsv1.Deployment)
			c := d.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil {
					for k, v := range cfg[ef.ConfigMapRef.Name] {
						env[k] = v
					}
				}
			}
			if env["TAMKEEN_OPS_ADDR"] != "0.0.0.0:8081" {
				t.Errorf("%s: gateway TAMKEEN_OPS_ADDR = %q; want 0.0.0.0:8081", r.overlay, env["TAMKEEN_OPS_ADDR"])
			}
			opsPort := false
			for _, p := range c.Ports {
				if p.Name == "ops" && p.ContainerPort == 8081 {
					opsPort = true
				}
			}
			if !opsPort {
				t.Errorf("%s: gateway container has no port ops 8081", r.overlay)
			}
			for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != "ops" {
					t.Errorf("%s: gateway %s probe %+v; want an HTTP GET on port ops", r.overlay, name, p)
				}
			}
			if got := d.Spec.Template.Annotations["prometheus.io/port"]; got != "8081" {
				t.Errorf("%s: gateway prometheus.io/port = %q; want 8081", r.overlay, got)
			}
		}
		for _, o := range r.all("Service") {
			if o.name != "gateway" {
				continue
			}
			for _, p := range o.obj.(*corev1.Service).Spec.Ports {
				if p.Port == 8081 || p.TargetPort.String() == "ops" || p.TargetPort.IntValue() == 8081 {
					t.Errorf("%s: Service gateway exposes the ops port: %+v", r.overlay, p)
				}
			}
		}
		for _, o := range r.all("NetworkPolicy") {
			np := o.obj.(*networkingv1.NetworkPolicy)
			if !selects(t, &np.Spec.PodSelector, map[string]string{"tamkeen.gov.ps/tier": "gateway", "app.kubernetes.io/name": "gateway"}) {
				continue
			}
			for _, in := range np.Spec.Ingress {
				monitoring := len(in.From) > 0
				for _, peer := range in.From {
					if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
						monitoring = false
					}
				}
				if len(in.Ports) == 0 {
					t.Errorf("%s: NetworkPolicy %s admits %v to every gateway port", r.overlay, np.Name, in.From)
				}
				for _, p := range in.Ports {
					if p.Port == nil {
						continue
					}
					if p.Port.IntValue() == 8081 && !monitoring {
						t.Errorf("%s: NetworkPolicy %s admits %v to the gateway's ops port", r.overlay, np.Name, in.From)
					}
					if p.Port.IntValue() == 8080 && monitoring {
						t.Errorf("%s: NetworkPolicy %s admits monitoring to the API port; want the ops port 8081", r.overlay, np.Name)
					}
				}
			}
		}
	}
}

// TestGatewayReachesAuthPages: in every overlay the gateway proxies the
// issuer's /oauth2/ paths to auth's operations listener (TAMKEEN_OIDC_URL
// = http://auth:9464, a port auth's Service exposes), and the network
// policies let the gateway reach that port of auth's pods and of no other
// enabler's.
func TestGatewayReachesAuthPages(t *testing.T) {
	gatewayPod := map[string]string{"tamkeen.gov.ps/tier": "gateway", "app.kubernetes.io/name": "gateway"}
	enablerPod := func(name string) map[string]string {
		return map[string]string{"tamkeen.gov.ps/tier": "enabler", "app.kubernetes.io/name": name}
	}
	for _, r := range renderAll(t) {
		cfg := map[string]map[string]string{}
		for _, o := range r.all("ConfigMap") {
			cfg[o.name] = o.obj.(*corev1.ConfigMap).Data
		}
		for _, o := range r.all("Deployment") {
			if o.name != "gateway" {
				continue
			}
			env := map[string]string{}
			for _, ef := range o.obj.(*appsv1.Deployment).Spec.Template.Spec.Containers[0].EnvFrom {
				if ef.ConfigMapRef != nil {
					for k, v := range cfg[ef.ConfigMapRef.Name] {
						env[k] = v
					}
				}
			}
			if env["TAMKEEN_OIDC_URL"] != "http://auth:9464" {
				t.Errorf("%s: gateway TAMKEEN_OIDC_URL = %q; want http://auth:9464 (auth's operations listener)", r.overlay, env["TAMKEEN_OIDC_URL"])
			}
		}
		exposed := false
		for _, o := range r.all("Service") {
			if o.name != "auth" {
				continue
			}
			for _, p := range o.obj.(*corev1.Service).Spec.Ports {
				exposed = exposed || p.Port == 9464
			}
		}
		if !exposed {
			t.Errorf("%s: Service auth does not expose port 9464", r.overlay)
		}
		// egress reports whether a policy of the gateway lets it reach
		// port 9464 of pod; ingress whether one of pod admits the gateway.
		var egress, ingress func(pod map[string]string) bool
		admits := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, pod map[string]string) bool {
			portOK := len(ports) == 0
			for _, p := range ports {
				portOK = portOK || p.Port == nil || p.Port.IntValue() == 9464
			}
			if !portOK {
				return false
			}
			for _, peer := range peers {
				if peer.PodSelector != nil && peer.NamespaceSelector == nil && selects(t, peer.PodSelector, pod) {
					return true
				}
			}
			return false
		}
		egress = func(pod map[string]string) bool {
			for _, o := range r.all("NetworkPolicy") {
				np := o.obj.(*networkingv1.NetworkPolicy)
				if !selects(t, &np.Spec.PodSelector, gatewayPod) {
					continue
				}
				for _, e := range np.Spec.Egress {
					if admits(e.To, e.Ports, pod) {
						return true
					}
				}
			}
			return false
		}
		ingress = func(pod map[string]string) bool {
			for _, o := range r.all("NetworkPolicy") {
				np := o.obj.(*networkingv1.NetworkPolicy)
				if !selects(t, &np.Spec.PodSelector, pod) {
					continue
				}
				for _, in := range np.Spec.Ingress {
					if admits(in.From, in.Ports, gatewayPod) {
						return true
					}
				}
			}
			return false
		}
		if !egress(enablerPod("auth")) || !ingress(enablerPod("auth")) {
			t.Errorf("%s: gateway → auth:9464 egress %v, ingress %v; want both allowed", r.overlay, egress(enablerPod("auth")), ingress(enablerPod("auth")))
		}
		for _, s := range enablers[1:] {
			if egress(enablerPod(s)) || ingress(enablerPod(s)) {
				t.Errorf("%s: the gateway may reach %s's operations port 9464; want auth's only", r.overlay, s)
			}
		}
	}
}

// TestMonitoringInEveryOverlay: each overlay ships base/monitoring as
// written: the PrometheusRule in namespace tamkeen with the rule groups
// promtool tests (monitoring_test.go), and every dashboard JSON in one
// ConfigMap the Grafana sidecar finds by its grafana_dashboard label.
func TestMonitoringInEveryOverlay(t *testing.T) {
	base := loadRules(t)
	dashboards, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("no dashboards in %s: %v", dashboardDir, err)
	}
	for _, r := range renderAll(t) {
		rules := r.all("PrometheusRule")
		if len(rules) != 1 {
			t.Errorf("%s: %d PrometheusRules; want 1", r.overlay, len(rules))
		}
		for _, o := range rules {
			pr := o.obj.(*monitoringv1.PrometheusRule)
			if pr.Namespace != "tamkeen" || !reflect.DeepEqual(pr.Spec, base.Spec) {
				t.Errorf("%s: PrometheusRule %s in namespace %q differs from %s", r.overlay, o.name, pr.Namespace, ruleFile)
			}
		}
		found := false
		for _, o := range r.all("ConfigMap") {
			cm := o.obj.(*corev1.ConfigMap)
			if cm.Labels["grafana_dashboard"] == "" {
				continue
			}
			found = true
			if o.name != "grafana-dashboards-tamkeen" || cm.Labels["grafana_dashboard"] != "1" {
				t.Errorf("%s: ConfigMap %s labelled grafana_dashboard=%q; want grafana-dashboards-tamkeen, \"1\"", r.overlay, o.name, cm.Labels["grafana_dashboard"])
			}
			for _, f := range dashboards {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if cm.Data[filepath.Base(f)] != string(b) {
					t.Errorf("%s: ConfigMap %s does not hold %s as written", r.overlay, o.name, f)
				}
			}
			if len(cm.Data) != len(dashboards) {
				t.Errorf("%s: ConfigMap %s holds %d files; want the %d dashboards", r.overlay, o.name, len(cm.Data), len(dashboards))
			}
		}
		if !found {
			t.Errorf("%s: no ConfigMap labelled grafana_dashboard", r.overlay)
		}
	}
}
