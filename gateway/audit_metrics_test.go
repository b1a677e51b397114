package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tamkeen/tamkeen/gateway"
	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/store/storetest"
)

// scrapeGauge returns the value of the unlabelled sample name on the ops
// listener's /metrics, and whether it is there.
func scrapeGauge(t *testing.T, s *stack, name string) (float64, bool) {
	t.Helper()
	_, body := s.opsGet(t, "/metrics")
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), name+" ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s %q: %v", name, v, err)
		}
		return f, true
	}
	return 0, false
}

// TestAuditMetricsFollowTheChain drives calls through the gateway with
// the audit log on and a real TSA, on a frozen clock, and reads the two
// audit gauges from the ops listener: the head's age and the time-stamp
// lag grow with the clock, a time-stamp of the head brings the lag to 0,
// and the next record starts it again.
func TestAuditMetricsFollowTheChain(t *testing.T) {
	t.Parallel()
	const headAge, lag = "gateway_audit_chain_head_age_seconds", "gateway_audit_timestamp_lag_seconds"
	tsa := newTestTSA(t)
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		migrate(t, db)
		s := newStack(t, stackOpts{noNATS: true, db: db, tsa: tsa,
			cfg: gateway.Config{Audit: true, AuditStampEvery: 1000, AuditStampInterval: 24 * time.Hour}})
		want := func(name string, w float64) {
			t.Helper()
			got, ok := scrapeGauge(t, s, name)
			if !ok || math.Abs(got-w) > 0.01 {
				t.Errorf("%s = %v (present %v); want %v", name, got, ok, w)
			}
		}
		if v, ok := scrapeGauge(t, s, headAge); ok {
			t.Errorf("%s = %v with an empty chain; want it absent", headAge, v)
		}
		want(lag, 0)

		s.clock.Freeze()
		auditCalls(t, s, 5)
		s.clock.Advance(90 * time.Second)
		want(headAge, 90)
		want(lag, 90)

		if _, err := s.gw.StampAudit(context.Background()); err != nil {
			t.Fatalf("StampAudit: %v", err)
		}
		want(lag, 0)
		want(headAge, 90)

		s.clock.Advance(30 * time.Second)
		auditCalls(t, s, 1)
		s.clock.Advance(10 * time.Second)
		want(headAge, 10)
		want(lag, 10)
	})
}

// TestAuditMetricsAbsentWhenAuditIsOff: with metering alone there is no
// chain, and neither gauge is exported.
func TestAuditMetricsAbsentWhenAuditIsOff(t *testing.T) {
	t.Parallel()
	db := migrate(t, storetest.SQLite(t))
	s := newStack(t, stackOpts{noNATS: true, db: db, cfg: gateway.Config{Metering: true}})
	auditCalls(t, s, 3)
	for _, name := range []string{"gateway_audit_chain_head_age_seconds", "gateway_audit_timestamp_lag_seconds"} {
		if v, ok := scrapeGauge(t, s, name); ok {
			t.Errorf("%s = %v with the audit log off; want it absent", name, v)
		}
	}
}
