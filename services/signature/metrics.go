package signature

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	in := telemetry.NewInstruments(reg)
	m := &metrics{
		signatures: in.CounterVec("tamkeen_signature_signatures_total",
			"Documents signed and stored, by format (cades, pades) and kind (citizen, seal).",
			[]string{"format", "kind"}, []string{FormatCAdES, FormatPAdES}, []string{kindCitizen, kindSeal}),
		timestamps: in.CounterVec("tamkeen_signature_timestamps_total",
			"RFC 3161 time-stamp tokens issued by the TSA, by use (signature, request).",
			[]string{"use"}, []string{tsUseSignature, tsUseRequest}),
	}
	// The CRL's age and the certificates' expiry are read at scrape time;
	// a process hosts one signature enabler, so the latest one built
	// reports them.
	in.Replacing(newPKICollector(s))
	if err := in.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// pkiRoles are the PKI objects whose certificates' expiry is exported: the
// closed set of the role label.
func pkiRoles() []string { return []string{objRoot, objIssuing, objTSA, objOCSP} }

// newPKICollector reports the current CRL's age (now − thisUpdate, one
// primary-key lookup per scrape) and the notAfter of the PKI's
// certificates (four small rows per scrape).
func newPKICollector(s *Service) *telemetry.ScrapeCollector {
	crlAge := prometheus.NewDesc("tamkeen_signature_crl_age_seconds",
		"Seconds since the thisUpdate of the current CRL (absent before the PKI has one).", nil, nil)
	expiry := prometheus.NewDesc("tamkeen_signature_certificate_expiry_timestamp_seconds",
		"Unix time of the notAfter of each certificate the PKI holds, by role (root, issuing, tsa, ocsp; absent before pki init).", []string{"role"}, nil)
	return &telemetry.ScrapeCollector{Descs: []*prometheus.Desc{crlAge, expiry}, Timeout: 2 * time.Second,
		Read: func(ctx context.Context, ch chan<- prometheus.Metric) {
			thisUpdate, err := latestCRLUpdate(ctx, s.DB)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				s.Logger.Warn("signature: CRL age unavailable", "err", err)
			default:
				ch <- prometheus.MustNewConstMetric(crlAge, prometheus.GaugeValue, s.Now().Sub(thisUpdate).Seconds())
			}
			err = pkiObjects(ctx, s.DB, func(o pkiObject, der []byte) error {
				if !slices.Contains(pkiRoles(), o.name) {
					return nil
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return fmt.Errorf("PKI object %s: %w", o.name, err)
				}
				ch <- prometheus.MustNewConstMetric(expiry, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), o.name)
				return nil
			})
			if err != nil {
				s.Logger.Warn("signature: certificate expiry unavailable", "err", err)
			}
		}}
}

// signed counts one stored signature.
func (m *metrics) signed(format string, p *principal) {
	kind := kindSeal
	if p.isCitizen() {
		kind = kindCitizen
	}
	m.signatures.WithLabelValues(format, kind).Inc()
}
