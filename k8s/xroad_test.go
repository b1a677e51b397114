package k8s_test

import (
	"path"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestGatewayXRoad: in prod and dr (components/xroad) the gateway serves
// the X-Road provider listener — TAMKEEN_XROAD_ADDR 0.0.0.0:8443, a
// container port xroad, its certificate, key and client CA read from files
// in mounted Secrets (gateway-xroad-tls, xroad-security-server-ca), the
// secret for auth from Secret gateway-secret, which auth reads as its
// --gateway-secret; Service gateway-xroad reaches port xroad and the
// Ingress does not; exactly one NetworkPolicy admits anyone to port 8443
// of the gateway pods, and it admits only the security server's pods in
// namespace xroad. dev has none of it (the listener is off). Both
// renderings, the library's and kubectl's when installed.
func TestGatewayXRoad(t *testing.T) {
	for _, r := range renderBoth(t) {
		on := !strings.HasPrefix(r.overlay, "dev")
		deployments := map[string]*appsv1.Deployment{}
		for _, o := range r.all("Deployment") {
			deployments[o.name] = o.obj.(*appsv1.Deployment)
		}
		gw, auth := deployments["gateway"], deployments["auth"]
		if gw == nil || auth == nil {
			t.Fatalf("%s: no gateway or auth Deployment", r.overlay)
		}
		gc, ac := gw.Spec.Template.Spec.Containers[0], auth.Spec.Template.Spec.Containers[0]
		genv, aenv := containerEnv(t, r, gc), containerEnv(t, r, ac)
		if !on {
			for k := range genv {
				if strings.HasPrefix(k, "TAMKEEN_XROAD_") {
					t.Errorf("%s: gateway sets %s; want the X-Road listener off in dev", r.overlay, k)
				}
			}
		} else if genv["TAMKEEN_XROAD_ADDR"] != "0.0.0.0:8443" {
			t.Errorf("%s: gateway TAMKEEN_XROAD_ADDR = %q; want 0.0.0.0:8443", r.overlay, genv["TAMKEEN_XROAD_ADDR"])
		}

		// secretOf names the Secret whose mount holds file in pod spec.
		secretOf := func(spec corev1.PodSpec, c corev1.Container, file string) string {
			for _, m := range c.VolumeMounts {
				if path.Dir(file) != m.MountPath {
					continue
				}
				for _, v := range spec.Volumes {
					if v.Name == m.Name && v.Secret != nil && m.ReadOnly {
						return v.Secret.SecretName
					}
				}
			}
			return ""
		}
		if on {
			for env, secret := range map[string]string{
				"TAMKEEN_XROAD_CERT":                "gateway-xroad-tls",
				"TAMKEEN_XROAD_KEY":                 "gateway-xroad-tls",
				"TAMKEEN_XROAD_CLIENT_CA":           "xroad-security-server-ca",
				"TAMKEEN_XROAD_GATEWAY_SECRET_FILE": "gateway-secret",
			} {
				if got := secretOf(gw.Spec.Template.Spec, gc, genv[env]); genv[env] == "" || got != secret {
					t.Errorf("%s: gateway %s = %q in Secret %q; want a read-only mount of Secret %s", r.overlay, env, genv[env], got, secret)
				}
			}
			if got := secretOf(auth.Spec.Template.Spec, ac, aenv["TAMKEEN_GATEWAY_SECRET_FILE"]); got != "gateway-secret" {
				t.Errorf("%s: auth TAMKEEN_GATEWAY_SECRET_FILE = %q in Secret %q; want Secret gateway-secret, the gateway's", r.overlay, aenv["TAMKEEN_GATEWAY_SECRET_FILE"], got)
			}
		}
		port := false
		for _, p := range gc.Ports {
			port = port || (p.Name == "xroad" && p.ContainerPort == 8443)
		}
		if port != on {
			t.Errorf("%s: gateway container port xroad 8443: %v; want %v", r.overlay, port, on)
		}

		service := false
		for _, o := range r.all("Service") {
			for _, p := range o.obj.(*corev1.Service).Spec.Ports {
				if p.TargetPort.String() != "xroad" && p.TargetPort.IntValue() != 8443 {
					continue
				}
				if o.name != "gateway-xroad" {
					t.Errorf("%s: Service %s exposes the X-Road listener; want only gateway-xroad", r.overlay, o.name)
				}
				service = true
			}
		}
		if service != on {
			t.Errorf("%s: Service gateway-xroad present: %v; want %v", r.overlay, service, on)
		}
		for _, o := range r.all("Ingress") {
			for _, rule := range o.obj.(*networkingv1.Ingress).Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, p := range rule.HTTP.Paths {
					if p.Backend.Service != nil && p.Backend.Service.Name == "gateway-xroad" {
						t.Errorf("%s: Ingress %s routes to gateway-xroad; the security server connects directly", r.overlay, o.name)
					}
				}
			}
		}

		admitting := 0
		gwLabels := gw.Spec.Template.Labels
		for _, o := range r.all("NetworkPolicy") {
			np := o.obj.(*networkingv1.NetworkPolicy)
			if !selects(t, &np.Spec.PodSelector, gwLabels) {
				continue
			}
			for _, in := range np.Spec.Ingress {
				reaches := len(in.Ports) == 0
				for _, p := range in.Ports {
					reaches = reaches || p.Port == nil || p.Port.IntValue() == 8443 || p.Port.String() == "xroad"
				}
				if !reaches {
					continue
				}
				admitting++
				for _, peer := range in.From {
					ns, pod := peer.NamespaceSelector, peer.PodSelector
					if peer.IPBlock != nil || ns == nil || pod == nil || ns.MatchLabels["kubernetes.io/metadata.name"] != "xroad" ||
						pod.MatchLabels["app.kubernetes.io/name"] != "xroad-security-server" || len(ns.MatchExpressions)+len(pod.MatchExpressions) > 0 {
						t.Errorf("%s: NetworkPolicy %s admits %+v to the X-Road port; want only the security server's pods in namespace xroad", r.overlay, np.Name, peer)
					}
				}
				if len(in.From) == 0 {
					t.Errorf("%s: NetworkPolicy %s admits everyone to the X-Road port", r.overlay, np.Name)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[on]; admitting != want {
			t.Errorf("%s: %d NetworkPolicy rules admit traffic to the gateway's port 8443; want %d", r.overlay, admitting, want)
		}
	}
}
