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
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		publications: in.CounterVec("tamkeen_content_publications_total",
			"Item versions made public, by trigger (now, scheduled); committed only.",
			[]string{"trigger"}, []string{triggerNow, triggerScheduled}),
		expiries: in.Counter("tamkeen_content_expiries_total",
			"Published items taken down by the scheduler at their expiry; committed only."),
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
