package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	steps       *prometheus.HistogramVec
	completions *prometheus.CounterVec
}

// Completion paths, the "path" label of ia_worker_completions_total.
const (
	pathLocal  = "local"  // handed to the scheduler of this process
	pathBroker = "broker" // published on the events queue
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ia_worker_step_duration_seconds",
			Help:    "Duration of step attempts executed by this worker, by class and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 12),
		}, []string{"class", "outcome"}),
		completions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ia_worker_completions_total",
			Help: "Step completions delivered, by path: local (to the scheduler in this process) or broker (the events queue).",
		}, []string{"path"}),
	}
	if reg != nil {
		_ = reg.Register(m.steps)
		_ = reg.Register(m.completions)
	}
	return m
}

func (m *metrics) observe(class, outcome string, d time.Duration) {
	m.steps.WithLabelValues(class, outcome).Observe(d.Seconds())
}
