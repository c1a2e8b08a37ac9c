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
		healthCollector{l},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// healthCollector exports Ledger.Health: why the ledger is degraded, and
// each witness's failures.
type healthCollector struct{ l *ledger.Ledger }

var (
	degradedDesc = prometheus.NewDesc("acdledger_degraded",
		"1 while the ledger is degraded for this reason: storage (not admitting; retried by itself), witness_quorum (no checkpoint can be published).", []string{"reason"}, nil)
	witnessUpDesc = prometheus.NewDesc("acdledger_witness_up",
		"0 while the witness's last request failed, else 1.", []string{"witness"}, nil)
	witnessFailDesc = prometheus.NewDesc("acdledger_witness_failures_total",
		"Requests to the witness that failed (error, timeout or an HTTP status other than 200 and 409).", []string{"witness"}, nil)
	recoveriesDesc = prometheus.NewDesc("acdledger_storage_recoveries_total",
		"Times admission resumed by itself after a storage failure.", nil, nil)
)

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- degradedDesc
	ch <- witnessUpDesc
	ch <- witnessFailDesc
	ch <- recoveriesDesc
}

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.l.Health()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(degradedDesc, prometheus.GaugeValue, b(h.Admitting != nil), "storage")
	ch <- prometheus.MustNewConstMetric(degradedDesc, prometheus.GaugeValue, b(h.QuorumLost), "witness_quorum")
	for _, w := range h.Witnesses {
		ch <- prometheus.MustNewConstMetric(witnessUpDesc, prometheus.GaugeValue, b(w.Failing == ""), w.Name)
		ch <- prometheus.MustNewConstMetric(witnessFailDesc, prometheus.CounterValue, float64(w.Failures), w.Name)
	}
	ch <- prometheus.MustNewConstMetric(recoveriesDesc, prometheus.CounterValue, float64(h.Recoveries))
}
