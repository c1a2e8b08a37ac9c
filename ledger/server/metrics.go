package server

import (
	"context"

	"github.com/acdledger/acdledger/ledger"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	appended    prometheus.Counter
	rejected    *prometheus.CounterVec
	integration prometheus.Histogram
	corrupt     prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, l *ledger.Ledger) *metrics {
	m := &metrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acdledger_appended_total", Help: "Entries admitted and durably sequenced."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acdledger_rejected_total", Help: "Envelopes refused, by admission rule (or http for malformed requests)."}, []string{"rule"}),
		integration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "acdledger_publication_seconds", Help: "From admission to a published checkpoint covering the entry.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "acdledger_integrity_failures_total", Help: "Requests for a log file that did not match the signed checkpoint (not served; admission stopped)."}),
	}
	reg.MustRegister(m.appended, m.rejected, m.integration, m.corrupt,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "acdledger_entries", Help: "Entries admitted so far (tree size once published)."},
			func() float64 { return float64(l.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "acdledger_checkpoint_size", Help: "Tree size of the latest published checkpoint."},
			func() float64 { return float64(l.PublishedSize(context.Background())) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
