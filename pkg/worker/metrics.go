package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	steps *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ia_worker_step_duration_seconds",
		Help:    "Duration of step attempts executed by this worker, by class and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 12),
	}, []string{"class", "outcome"})}
	if reg != nil {
		_ = reg.Register(m.steps)
	}
	return m
}

func (m *metrics) observe(class, outcome string, d time.Duration) {
	m.steps.WithLabelValues(class, outcome).Observe(d.Seconds())
}
