package scheduler

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	runs      *prometheus.CounterVec
	events    *prometheus.CounterVec
	conflicts prometheus.Counter
	stale     prometheus.Counter
	published prometheus.Counter
	loads     prometheus.Counter
	handedOn  prometheus.Counter
	ahead     *prometheus.CounterVec
	// liveDropped: live events not published.
	liveDropped prometheus.Counter
	heldLocks   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		runs:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ia_scheduler_runs_total", Help: "Runs submitted and finished, by status."}, []string{"status"}),
		events:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ia_scheduler_events_total", Help: "Run events applied, by type."}, []string{"type"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_conflicts_total", Help: "Optimistic-concurrency conflicts retried."}),
		stale:     prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_stale_events_total", Help: "Duplicate or late events dropped."}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_outbox_published_total", Help: "Outbox messages published to the broker."}),
		loads: prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_run_loads_total",
			Help: "Run states read back from the store for an event: not in this scheduler's memory, or behind the store."}),
		handedOn: prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_completions_handed_on_total",
			Help: "Completions applied by the scheduler that decided their task, handed on to it over the direct lane."}),
		ahead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ia_scheduler_completions_ahead_total",
			Help: "Completions ahead of their run's state (their task published before its decision committed), offered again (held) or, after the hold, dropped."}, []string{"outcome"}),
		liveDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "ia_scheduler_live_events_dropped_total",
			Help: "Live run events not published to the hot state (its queue full, or the hot state failing); watchers re-read the store."}),
		heldLocks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ia_scheduler_held_run_locks_total",
			Help: "Run locks held between two decisions (Postgres): used by the next decision, or released unused when the hold expired."}, []string{"outcome"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.runs, m.events, m.conflicts, m.stale, m.published, m.loads, m.handedOn, m.ahead, m.liveDropped, m.heldLocks} {
			_ = reg.Register(c)
		}
	}
	return m
}
