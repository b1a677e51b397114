package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/store"
)

// Names of the audit log's gauges, read at scrape time.
const (
	metricAuditHeadAge      = "gateway_audit_chain_head_age_seconds"
	metricAuditTimestampLag = "gateway_audit_timestamp_lag_seconds"
)

// auditScrapeTimeout bounds the two primary-key look-ups a scrape runs.
const auditScrapeTimeout = 2 * time.Second

// auditCollector reports the gateway's own audit chain from its database,
// so that the values hold across restarts and replicas: how old the
// newest record is, and how long the oldest record that no time-stamp
// covers yet has waited (a stamp over seq N covers every record up to N).
// It is registered only when the audit log is on; the lag only when the
// head is time-stamped (a signature backend is configured).
type auditCollector struct {
	rc      *recorder
	headAge *prometheus.Desc
	lag     *prometheus.Desc
}

func newAuditCollector(rc *recorder) *auditCollector {
	return &auditCollector{rc: rc,
		headAge: prometheus.NewDesc(metricAuditHeadAge,
			"Seconds since the time of the newest record of this gateway's audit chain (absent while the chain is empty or the audit log is off).", nil, nil),
		lag: prometheus.NewDesc(metricAuditTimestampLag,
			"Seconds the oldest audit record not yet covered by an RFC 3161 time-stamp has waited; 0 when none waits (absent when time-stamping is off).", nil, nil),
	}
}

// Describe sends the two descriptions.
func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.headAge
	ch <- c.lag
}

// Collect reads the head's time and the first unstamped record's time.
func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), auditScrapeTimeout)
	defer cancel()
	now := c.rc.now()
	var headUS int64
	err := c.rc.db.QueryRowContext(ctx, `SELECT a.at_us FROM gateway_audit_heads h
JOIN gateway_audit a ON a.chain = h.chain AND a.seq = h.seq WHERE h.chain = $1`, c.rc.chain).Scan(&headUS)
	switch {
	case store.IsNoRows(err):
	case err != nil:
		c.warn(err)
		return
	default:
		ch <- prometheus.MustNewConstMetric(c.headAge, prometheus.GaugeValue, ageSeconds(now, headUS))
	}
	if c.rc.sig == nil {
		return
	}
	var waitingUS int64
	err = c.rc.db.QueryRowContext(ctx, `SELECT a.at_us FROM gateway_audit a WHERE a.chain = $1
AND a.seq = (SELECT COALESCE(MAX(s.seq), 0) + 1 FROM gateway_audit_stamps s WHERE s.chain = $1)`, c.rc.chain).Scan(&waitingUS)
	switch {
	case store.IsNoRows(err):
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, 0)
	case err != nil:
		c.warn(err)
	default:
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, ageSeconds(now, waitingUS))
	}
}

func (c *auditCollector) warn(err error) {
	c.rc.logger.Warn("gateway: audit metrics unavailable", slog.String("error", err.Error()))
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
	c := newAuditCollector(rc)
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		err = reg.Register(c)
	}
	if err != nil {
		rc.logger.Warn("gateway: audit metrics not registered", slog.String("error", err.Error()))
	}
}
