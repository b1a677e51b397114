package content

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Publication triggers, the trigger label of
// tamkeen_content_publications_total.
const (
	triggerNow       = "now"       // PublishItem without a future time
	triggerScheduled = "scheduled" // the scheduler, at publish_at
)

// metrics are the content enabler's own instruments. Items by state are
// not among them: content_items has no index on state, so a count per
// scrape would read the whole table.
type metrics struct {
	publications *prometheus.CounterVec
	expiries     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.publications, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_content_publications_total",
		Help: "Item versions made public, by trigger (now, scheduled); committed only.",
	}, []string{"trigger"})); err != nil {
		return nil, err
	}
	if m.expiries, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tamkeen_content_expiries_total",
		Help: "Published items taken down by the scheduler at their expiry; committed only.",
	})); err != nil {
		return nil, err
	}
	for _, tr := range []string{triggerNow, triggerScheduled} {
		m.publications.WithLabelValues(tr)
	}
	return m, nil
}
