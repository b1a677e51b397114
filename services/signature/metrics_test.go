package signature

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	signaturev1 "github.com/tamkeen/tamkeen/proto/tamkeen/signature/v1"
)

// TestMetrics signs through the gRPC API and reads the counters, then
// issues a CRL and moves the clock: the CRL's age follows it.
func TestMetrics(t *testing.T) {
	h := newHarness(t, nil, nil)
	reg := h.svc.Registry
	const crlAge = "tamkeen_signature_crl_age_seconds"
	if n := testutil.CollectAndCount(reg, crlAge); n != 0 {
		t.Errorf("%s before any CRL: %d series; want none", crlAge, n)
	}

	cred := h.newCredential(t, "cit_m", "")
	h.sign(t, "cit_m", cred.CredentialId, []byte("a contract"), FormatCAdES)
	h.sign(t, "cit_m", cred.CredentialId, minimalPDF("a permit"), FormatPAdES)
	h.sign(t, "cit_m", cred.CredentialId, []byte("another contract"), FormatCAdES)

	m := h.svc.metrics
	for _, tc := range []struct {
		format, kind string
		want         float64
	}{
		{FormatCAdES, kindCitizen, 2}, {FormatPAdES, kindCitizen, 1}, {FormatCAdES, kindSeal, 0}, {FormatPAdES, kindSeal, 0},
	} {
		if got := testutil.ToFloat64(m.signatures.WithLabelValues(tc.format, tc.kind)); got != tc.want {
			t.Errorf("signatures{format=%s,kind=%s} = %v; want %v", tc.format, tc.kind, got, tc.want)
		}
	}
	var stored int
	if err := h.db.QueryRow(`SELECT COUNT(*) FROM signatures`).Scan(&stored); err != nil || stored != 3 {
		t.Errorf("signatures stored = %d, %v; want 3", stored, err)
	}
	if got := testutil.ToFloat64(m.timestamps.WithLabelValues(tsUseSignature)); got != 3 {
		t.Errorf("timestamps{use=signature} = %v; want 3 (one per B-T signature)", got)
	}
	if n := testutil.CollectAndCount(reg, "tamkeen_signature_signatures_total"); n != 4 {
		t.Errorf("signatures series = %d; want 4 (2 formats × 2 kinds)", n)
	}

	if _, err := h.client.GetCrl(context.Background(), &signaturev1.GetCrlRequest{}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(90 * time.Second)
	if n := testutil.CollectAndCount(reg, crlAge); n != 1 {
		t.Fatalf("%s after a CRL: %d series; want 1", crlAge, n)
	}
	if got := gaugeValue(t, h, crlAge); got != 90 {
		t.Errorf("%s = %v; want 90 (the clock moved 90 s past thisUpdate)", crlAge, got)
	}
}

func gaugeValue(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	fams, err := h.svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestMetricsCertificateExpiry signs once (which loads the PKI) and reads
// tamkeen_signature_certificate_expiry_timestamp_seconds: one series per
// role, each the notAfter of the certificate the enabler itself loaded.
func TestMetricsCertificateExpiry(t *testing.T) {
	h := newHarness(t, nil, nil)
	cred := h.newCredential(t, "cit_x", "")
	h.sign(t, "cit_x", cred.CredentialId, []byte("a contract"), FormatCAdES)
	a, err := h.svc.ca(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		objRoot: float64(a.root.NotAfter.Unix()), objIssuing: float64(a.issuing.NotAfter.Unix()),
		objTSA: float64(a.tsa.NotAfter.Unix()), objOCSP: float64(a.ocsp.NotAfter.Unix()),
	}
	fams, err := h.svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "tamkeen_signature_certificate_expiry_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "role" {
				t.Fatalf("labels %v; want role alone", m.GetLabel())
			}
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("certificate expiry = %v; want %v", got, want)
	}
	if problems, err := testutil.GatherAndLint(h.svc.Registry, "tamkeen_signature_certificate_expiry_timestamp_seconds", "tamkeen_signature_crl_age_seconds"); err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", problems, err)
	}
	for role, v := range got {
		if v <= float64(h.clock.Now().Unix()) {
			t.Errorf("%s certificate expires at %v, not after now (%v)", role, v, h.clock.Now().Unix())
		}
	}
}
