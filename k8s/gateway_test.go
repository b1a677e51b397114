package k8s_test

import (
	"bytes"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	cnpgv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// gatewayDBFile is where the gateway and its migration Job read the
// database URL: the key uri of the Secret pg-gateway-app, which
// CloudNativePG makes for the pg-gateway cluster.
const gatewayDBFile = "/var/run/secrets/tamkeen/db/uri"

// renderKubectl renders an overlay with `kubectl kustomize` and decodes it
// as render does; ok is false when kubectl is not installed.
func renderKubectl(t *testing.T, overlay string) (_ rendered, ok bool) {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		return rendered{}, false
	}
	out, err := exec.Command("kubectl", "kustomize", filepath.Join("overlays", overlay)).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", overlay, err)
	}
	var objs [][]byte
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, j)
	}
	return decode(t, overlay+" (kubectl kustomize)", objs), true
}

// renderBoth renders every overlay with the Kustomize library and, when
// it is installed, with `kubectl kustomize` too.
func renderBoth(t *testing.T) []rendered {
	t.Helper()
	var renders []rendered
	for _, o := range overlays {
		renders = append(renders, render(t, o))
		if r, ok := renderKubectl(t, o); ok {
			renders = append(renders, r)
		}
	}
	if len(renders) == len(overlays) {
		t.Log("kubectl is not installed: checked the Kustomize library's rendering only")
	}
	return renders
}

// containerEnv is a container's environment as the pod sees it: its
// ConfigMaps' data, then its env entries; a Downward API value reads
// "fieldRef:<path>" and a Secret key "secretKeyRef:<name>/<key>".
func containerEnv(t *testing.T, r rendered, c corev1.Container) map[string]string {
	t.Helper()
	cfg := map[string]map[string]string{}
	for _, o := range r.all("ConfigMap") {
		cfg[o.name] = o.obj.(*corev1.ConfigMap).Data
	}
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		data, ok := cfg[ef.ConfigMapRef.Name]
		if !ok {
			t.Fatalf("%s: container %s uses ConfigMap %s, which is not rendered", r.overlay, c.Name, ef.ConfigMapRef.Name)
		}
		for k, v := range data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secretKeyRef:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

// mountedSecret is the Secret whose volume the container mounts at file's
// directory, and whether the mount is read-only; "" when none is.
func mountedSecret(spec corev1.PodSpec, c corev1.Container, file string) (secret string, readOnly bool) {
	for _, m := range c.VolumeMounts {
		if m.MountPath != path.Dir(file) {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				return v.Secret.SecretName, m.ReadOnly
			}
		}
	}
	return "", false
}

// clusterPodLabels are the labels of a CloudNativePG cluster's instances.
func clusterPodLabels(name string, c *cnpgv1.Cluster) map[string]string {
	lbls := map[string]string{"cnpg.io/cluster": name}
	if c.Spec.InheritedMetadata != nil {
		for k, v := range c.Spec.InheritedMetadata.Labels {
			lbls[k] = v
		}
	}
	return lbls
}

// connects reports whether the overlay's NetworkPolicies let a pod with
// labels from open a connection to port of a pod with labels to in the
// same namespace: an egress rule of a policy selecting from admits it, and
// an ingress rule of a policy selecting to admits it.
func connects(t *testing.T, r rendered, from, to map[string]string, port int) (egress, ingress bool) {
	t.Helper()
	admits := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, pod map[string]string) bool {
		portOK := len(ports) == 0
		for _, p := range ports {
			portOK = portOK || p.Port == nil || p.Port.IntValue() == port
		}
		if !portOK {
			return false
		}
		if len(peers) == 0 {
			return true
		}
		for _, peer := range peers {
			if peer.PodSelector != nil && peer.NamespaceSelector == nil && selects(t, peer.PodSelector, pod) {
				return true
			}
		}
		return false
	}
	for _, o := range r.all("NetworkPolicy") {
		np := o.obj.(*networkingv1.NetworkPolicy)
		if selects(t, &np.Spec.PodSelector, from) {
			for _, e := range np.Spec.Egress {
				egress = egress || admits(e.To, e.Ports, to)
			}
		}
		if selects(t, &np.Spec.PodSelector, to) {
			for _, in := range np.Spec.Ingress {
				ingress = ingress || admits(in.From, in.Ports, from)
			}
		}
	}
	return egress, ingress
}

// TestGatewaySecurityServer: every overlay, as the Kustomize library and
// (when installed) `kubectl kustomize` render it, provisions the gateway's
// own database and runs the gateway with the security server's duties on:
//   - a CloudNativePG cluster pg-gateway (database and owner gateway; at
//     the DR site a replica cluster of the primary's);
//   - a migration Job gateway-migrate (`tamkeen migrate --service
//     gateway`, the tamkeen image, the URL from pg-gateway-app), except at
//     the DR site, whose databases are replicas;
//   - the gateway reading the URL from pg-gateway-app (read-only mount,
//     TAMKEEN_DB_ENGINE=postgres), with TAMKEEN_ENFORCE_RIGHTS,
//     TAMKEEN_AUDIT and TAMKEEN_METERING true, one audit chain per
//     replica (TAMKEEN_AUDIT_CHAIN = the pod's name, Downward API),
//     time-stamping not turned off and done by the signature enabler
//     (TAMKEEN_SIGNATURE_ADDR = signature:9090: the gateway asks its
//     Signature backend for the audit chain's time-stamps), and a rate
//     limit for each route class;
//   - NetworkPolicies that let the gateway and its migration Job reach
//     pg-gateway on 5432, and the gateway no other database.
//
// TestSecurityParity (tools/tamkeen) holds these settings to `tamkeen
// dev`'s; this test holds the manifests to the wiring they need.
func TestGatewaySecurityServer(t *testing.T) {
	for _, r := range renderBoth(t) {
		dr := strings.HasPrefix(r.overlay, "dr")
		var gwPod, dbPod, jobPod map[string]string
		otherDBs := map[string]map[string]string{}
		for _, o := range r.all("Cluster") {
			c := o.obj.(*cnpgv1.Cluster)
			if o.name != "pg-gateway" {
				otherDBs[o.name] = clusterPodLabels(o.name, c)
				continue
			}
			dbPod = clusterPodLabels(o.name, c)
			var database, owner string
			switch b := c.Spec.Bootstrap; {
			case b == nil:
			case dr && b.Recovery != nil:
				database, owner = b.Recovery.Database, b.Recovery.Owner
			case !dr && b.InitDB != nil:
				database, owner = b.InitDB.Database, b.InitDB.Owner
			}
			if database != "gateway" || owner != "gateway" {
				t.Errorf("%s: pg-gateway bootstraps database %q owned by %q; want gateway, gateway", r.overlay, database, owner)
			}
			if dbPod["tamkeen.gov.ps/tier"] != "database" || dbPod["tamkeen.gov.ps/database"] != "gateway" {
				t.Errorf("%s: pg-gateway's pods are labelled %v; want tier database, database gateway", r.overlay, dbPod)
			}
		}
		if dbPod == nil {
			t.Errorf("%s: no CloudNativePG Cluster pg-gateway (the gateway's rights, audit log and usage)", r.overlay)
		}

		jobs := 0
		for _, o := range r.all("Job") {
			if o.name != "gateway-migrate" {
				continue
			}
			jobs++
			spec := o.obj.(*batchv1.Job).Spec.Template
			jobPod = spec.Labels
			c := spec.Spec.Containers[0]
			env := containerEnv(t, r, c)
			if !strings.HasPrefix(c.Image, "registry.gov.ps/tamkeen/tamkeen:") || !slices.Equal(c.Args, []string{"migrate", "--service", "gateway"}) {
				t.Errorf("%s: Job gateway-migrate runs %s %v; want the tamkeen image with migrate --service gateway", r.overlay, c.Image, c.Args)
			}
			if env["TAMKEEN_DB_ENGINE"] != "postgres" || env["TAMKEEN_DB_DSN_FILE"] != gatewayDBFile {
				t.Errorf("%s: Job gateway-migrate has TAMKEEN_DB_ENGINE=%q TAMKEEN_DB_DSN_FILE=%q; want postgres, %s",
					r.overlay, env["TAMKEEN_DB_ENGINE"], env["TAMKEEN_DB_DSN_FILE"], gatewayDBFile)
			}
			if s, ro := mountedSecret(spec.Spec, c, gatewayDBFile); s != "pg-gateway-app" || !ro {
				t.Errorf("%s: Job gateway-migrate mounts Secret %q (read-only %v) at %s; want pg-gateway-app, read-only", r.overlay, s, ro, path.Dir(gatewayDBFile))
			}
		}
		if want := map[bool]int{false: 1, true: 0}[dr]; jobs != want {
			t.Errorf("%s: %d Jobs gateway-migrate; want %d", r.overlay, jobs, want)
		}

		for _, o := range r.all("Deployment") {
			if o.name != "gateway" {
				continue
			}
			spec := o.obj.(*appsv1.Deployment).Spec.Template
			gwPod = spec.Labels
			c := spec.Spec.Containers[0]
			env := containerEnv(t, r, c)
			for k, want := range map[string]string{
				"TAMKEEN_DB_ENGINE": "postgres", "TAMKEEN_DB_DSN_FILE": gatewayDBFile,
				"TAMKEEN_ENFORCE_RIGHTS": "true", "TAMKEEN_AUDIT": "true", "TAMKEEN_METERING": "true",
				"TAMKEEN_AUDIT_CHAIN": "fieldRef:metadata.name", "TAMKEEN_SIGNATURE_ADDR": "signature:9090",
			} {
				if env[k] != want {
					t.Errorf("%s: gateway has %s=%q; want %q", r.overlay, k, env[k], want)
				}
			}
			if s, ro := mountedSecret(spec.Spec, c, gatewayDBFile); s != "pg-gateway-app" || !ro {
				t.Errorf("%s: gateway mounts Secret %q (read-only %v) at %s; want pg-gateway-app, read-only", r.overlay, s, ro, path.Dir(gatewayDBFile))
			}
			if v := env["TAMKEEN_AUDIT_STAMP_EVERY"]; strings.HasPrefix(v, "-") {
				t.Errorf("%s: gateway has TAMKEEN_AUDIT_STAMP_EVERY=%s: the audit chain is never time-stamped", r.overlay, v)
			}
			classes := map[string]bool{}
			for _, e := range strings.Split(env["TAMKEEN_RATE_LIMITS"], ",") {
				class, _, _ := strings.Cut(strings.TrimSpace(e), "=")
				classes[class] = true
			}
			for _, class := range []string{"read", "write", "public"} {
				if !classes[class] {
					t.Errorf("%s: gateway TAMKEEN_RATE_LIMITS=%q sets no %s limit", r.overlay, env["TAMKEEN_RATE_LIMITS"], class)
				}
			}
		}
		if gwPod == nil || dbPod == nil {
			continue
		}

		if e, i := connects(t, r, gwPod, dbPod, 5432); !e || !i {
			t.Errorf("%s: gateway → pg-gateway:5432 egress %v, ingress %v; want both allowed", r.overlay, e, i)
		}
		if jobPod != nil {
			if e, i := connects(t, r, jobPod, dbPod, 5432); !e || !i {
				t.Errorf("%s: gateway-migrate → pg-gateway:5432 egress %v, ingress %v; want both allowed", r.overlay, e, i)
			}
		}
		if len(otherDBs) == 0 {
			t.Errorf("%s: no enabler databases to check the gateway is kept from", r.overlay)
		}
		for name, pod := range otherDBs {
			if e, i := connects(t, r, gwPod, pod, 5432); e || i {
				t.Errorf("%s: the gateway may reach %s:5432 (egress %v, ingress %v); want its own database only", r.overlay, name, e, i)
			}
		}
	}
}
