package signature

import (
	"context"
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
