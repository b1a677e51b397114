package signature

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tamkeen/tamkeen/libs/telemetry"
)

// Signature kinds, the kind label of tamkeen_signature_signatures_total:
// a citizen's own signature, or an organisation's seal (a client's).
const (
	kindCitizen = "citizen"
	kindSeal    = "seal"
)

// Time-stamp uses, the use label of tamkeen_signature_timestamps_total:
// the signature time-stamp of a CAdES/PAdES-B-T signature, or an RFC 3161
// request to the TSA (the gateway's audit stamping among them).
const (
	tsUseSignature = "signature"
	tsUseRequest   = "request"
)

// metrics are the signature enabler's own instruments; labels come from
// the closed sets above and the two formats.
type metrics struct {
	signatures *prometheus.CounterVec
	timestamps *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{}
	var err error
	if m.signatures, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_signature_signatures_total",
		Help: "Documents signed and stored, by format (cades, pades) and kind (citizen, seal).",
	}, []string{"format", "kind"})); err != nil {
		return nil, err
	}
	if m.timestamps, err = telemetry.RegisterOrReuse(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tamkeen_signature_timestamps_total",
		Help: "RFC 3161 time-stamp tokens issued by the TSA, by use (signature, request).",
	}, []string{"use"})); err != nil {
		return nil, err
	}
	for _, f := range []string{FormatCAdES, FormatPAdES} {
		for _, k := range []string{kindCitizen, kindSeal} {
			m.signatures.WithLabelValues(f, k)
		}
	}
	for _, u := range []string{tsUseSignature, tsUseRequest} {
		m.timestamps.WithLabelValues(u)
	}
	// The CRL's age is read at scrape time; a process hosts one signature
	// enabler, so the latest one built reports it.
	c := &crlCollector{s: s, desc: prometheus.NewDesc("tamkeen_signature_crl_age_seconds",
		"Seconds since the thisUpdate of the current CRL (absent before the PKI has one).", nil, nil)}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		reg.Unregister(are.ExistingCollector)
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// crlCollector reports the current CRL's age: now − thisUpdate, one
// primary-key lookup per scrape.
type crlCollector struct {
	s    *Service
	desc *prometheus.Desc
}

func (c *crlCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *crlCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	thisUpdate, err := latestCRLUpdate(ctx, c.s.DB)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err != nil {
		c.s.Logger.Warn("signature: CRL age unavailable", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, c.s.Now().Sub(thisUpdate).Seconds())
}

// signed counts one stored signature.
func (m *metrics) signed(format string, p *principal) {
	kind := kindSeal
	if p.isCitizen() {
		kind = kindCitizen
	}
	m.signatures.WithLabelValues(format, kind).Inc()
}
