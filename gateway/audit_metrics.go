package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/store"
	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Names of the audit log's gauges, read at scrape time.
const (
	metricAuditHeadAge      = "gateway_audit_chain_head_age_seconds"
	metricAuditTimestampLag = "gateway_audit_timestamp_lag_seconds"
)

// auditScrapeTimeout bounds the two primary-key look-ups a scrape runs.
const auditScrapeTimeout = 2 * time.Second

// newAuditCollector reports the gateway's own audit chain from its
// database, so that the values hold across restarts and replicas: how old
// the newest record is, and how long the oldest record that no time-stamp
// covers yet has waited (a stamp over seq N covers every record up to N).
// It is registered only when the audit log is on; the lag only when the
// head is time-stamped (a signature backend is configured).
func newAuditCollector(rc *recorder) *telemetry.ScrapeCollector {
	headAge := prometheus.NewDesc(metricAuditHeadAge,
		"Seconds since the time of the newest record of this gateway's audit chain (absent while the chain is empty or the audit log is off).", nil, nil)
	lag := prometheus.NewDesc(metricAuditTimestampLag,
		"Seconds the oldest audit record not yet covered by an RFC 3161 time-stamp has waited; 0 when none waits (absent when time-stamping is off).", nil, nil)
	return &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{headAge, lag}, Timeout: auditScrapeTimeout,
		Read: func(ctx context.Context, ch chan<- prometheus.Metric) { rc.collectAudit(ctx, ch, headAge, lag) }}
}

// collectAudit reads the head's time and the first unstamped record's
// time.
func (rc *recorder) collectAudit(ctx context.Context, ch chan<- prometheus.Metric, headAge, lag *prometheus.Desc) {
	now := rc.now()
	var headUS int64
	err := rc.db.QueryRowContext(ctx, `SELECT a.at_us FROM gateway_audit_heads h
JOIN gateway_audit a ON a.chain = h.chain AND a.seq = h.seq WHERE h.chain = $1`, rc.chain).Scan(&headUS)
	switch {
	case store.IsNoRows(err):
	case err != nil:
		rc.auditMetricsUnavailable(err)
		return
	default:
		ch <- prometheus.MustNewConstMetric(headAge, prometheus.GaugeValue, ageSeconds(now, headUS))
	}
	if rc.sig == nil {
		return
	}
	var waitingUS int64
	err = rc.db.QueryRowContext(ctx, `SELECT a.at_us FROM gateway_audit a WHERE a.chain = $1
AND a.seq = (SELECT COALESCE(MAX(s.seq), 0) + 1 FROM gateway_audit_stamps s WHERE s.chain = $1)`, rc.chain).Scan(&waitingUS)
	switch {
	case store.IsNoRows(err):
		ch <- prometheus.MustNewConstMetric(lag, prometheus.GaugeValue, 0)
	case err != nil:
		rc.auditMetricsUnavailable(err)
	default:
		ch <- prometheus.MustNewConstMetric(lag, prometheus.GaugeValue, ageSeconds(now, waitingUS))
	}
}

func (rc *recorder) auditMetricsUnavailable(err error) {
	rc.logger.Warn("gateway: audit metrics unavailable", slog.String("error", err.Error()))
}

// ageSeconds is now − the Unix microseconds us, never negative (replicas'
// clocks differ a little).
func ageSeconds(now time.Time, us int64) float64 {
	return max(now.Sub(time.UnixMicro(us)).Seconds(), 0)
}

// registerAuditMetrics registers rc's collector on reg, replacing one a
// previous recorder registered there; a failure is logged, not fatal: the
// audit log works uncounted.
func registerAuditMetrics(reg prometheus.Registerer, rc *recorder) {
	if err := telemetry.RegisterReplacing(reg, newAuditCollector(rc)); err != nil {
		rc.logger.Warn("gateway: audit metrics not registered", slog.String("error", err.Error()))
	}
}
