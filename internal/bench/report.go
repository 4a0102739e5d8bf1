package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Goal is a target from the performance issue for one kind of target.
type Goal struct {
	HopP50      time.Duration
	StepsPerSec float64
	First       time.Duration
	// FloorRaw is the raw 10-step chain's steps/s on the project's machine
	// kind (../shared/reference/perf-floors.md): the machine the targets
	// were set for. The engine/raw ratio times FloorRaw is what the engine
	// would do there, whatever speed this machine has at the moment.
	FloorRaw float64
	// FloorHop is the raw chain's hop p50 there (0: none; asynq's raw hop
	// is its poll interval, not a floor). A chain's engine/raw hop ratio
	// times FloorHop is the engine's hop there.
	FloorHop time.Duration
	// FloorDurableHop is a durable step's floor there: the raw hop plus
	// one Postgres commit (BEGIN/INSERT/COMMIT p50), as perf-floors.md sums
	// them. The engine's hop holds both a broker trip and a commit, and the
	// two need not be as fast as each other on this machine at the moment:
	// engine/durable raw × FloorDurableHop scales each by its own baseline.
	FloorDurableHop time.Duration
}

// GoalFor returns the targets for a target name: embedded hop p50
// ≤ 0.5 ms and ≥ 15,000 steps/s; distributed hop p50 ≤ 1.5 ms and ≥ 4,000
// steps/s; the first step within 5 ms on an idle system for both.
func GoalFor(target string) Goal {
	switch {
	case strings.HasPrefix(target, "embedded"):
		// No FloorHop: this raw chain reaches its in-process server over an
		// in-memory pipe, as the engine does, not over TCP as the floor's
		// in-process figure was taken, so the hops do not compare.
		return Goal{HopP50: 500 * time.Microsecond, StepsPerSec: 15000, First: 5 * time.Millisecond, FloorRaw: 44000}
	case strings.Contains(target, QueueAsynq):
		return Goal{HopP50: 1500 * time.Microsecond, StepsPerSec: 4000, First: 5 * time.Millisecond, FloorRaw: 13000}
	}
	return Goal{HopP50: 1500 * time.Microsecond, StepsPerSec: 4000, First: 5 * time.Millisecond, FloorRaw: 38000, FloorHop: 300 * time.Microsecond,
		FloorDurableHop: 610 * time.Microsecond}
}

// Print writes the report as a table, then the targets met and missed.
func (r *Report) Print(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "ia bench: %s; %d serial runs per workload, %d runs in flight for %s, worker concurrency %d\n",
		r.Started.Format("2006-01-02 15:04 MST"), c.Runs, c.Concurrency, c.Duration, c.WorkerConcurrency)
	fmt.Fprintf(w, "raw = bare %d-step task chain on the same broker (publish → consume → publish next → ack), no store;\n", RawChainSteps)
	fmt.Fprintf(w, "a fan-out's raw hop: as many bare tasks published together, from the publish to each one's start;\n")
	fmt.Fprintf(w, "durable raw (on Postgres) = the raw chain committing one row to Postgres per step before it publishes the next;\n")
	fmt.Fprintf(w, "engine and raw take turns in %d rounds, so their ratio compares the same machine\n\n", c.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tworkload\tmetric\tengine\traw\tengine/raw\t")
	for _, row := range r.Rows {
		e, raw := row.Engine, row.Raw
		chain := strings.HasPrefix(row.Workload, "chain")
		type line struct {
			metric string
			e, r   string
			ratio  float64
		}
		lines := []line{
			{"runs/s", rate(e.RunsPerSec), rate(raw.RunsPerSec), e.RunsPerSec / raw.RunsPerSec},
			{"steps/s", rate(e.StepsPerSec), rate(raw.StepsPerSec), e.StepsPerSec / raw.StepsPerSec},
			{"hop p50", ms(e.HopP50), ms(raw.HopP50), ratio(e.HopP50, raw.HopP50)},
			{"hop p99", ms(e.HopP99), ms(raw.HopP99), ratio(e.HopP99, raw.HopP99)},
			{"first step p50", ms(e.FirstP50), ms(raw.FirstP50), ratio(e.FirstP50, raw.FirstP50)},
			{"first step p99", ms(e.FirstP99), ms(raw.FirstP99), ratio(e.FirstP99, raw.FirstP99)},
		}
		if d := row.Durable; d.Hops > 0 {
			lines = slices.Insert(lines, 4,
				line{"hop p50 / durable raw", ms(e.HopP50), ms(d.HopP50), ratio(e.HopP50, d.HopP50)},
				line{"hop p99 / durable raw", ms(e.HopP99), ms(d.HopP99), ratio(e.HopP99, d.HopP99)})
		}
		for i, l := range lines {
			rawCol, ratioCol := l.r, fmt.Sprintf("%.2f", l.ratio)
			if i == 0 && !chain {
				// A raw chain is not a fan-out run; only steps compare.
				rawCol, ratioCol = "-", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", row.Target, row.Workload, l.metric, l.e, rawCol, ratioCol)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\ntargets (from the performance issue):")
	for _, row := range r.Rows {
		g := GoalFor(row.Target)
		e := row.Engine
		hop := fmt.Sprintf("hop p50 %s ≤ %s: %s", ms(e.HopP50), ms(g.HopP50), verdict(e.HopP50 <= g.HopP50))
		if !strings.HasPrefix(row.Workload, "chain") {
			// The hop target is a chain's: a fan-out's hop p50 is the wait of
			// the middle one of many tasks started together, which is set by
			// throughput (the raw fan-out alone may take longer than the goal).
			hop = fmt.Sprintf("hop p50 %s (raw fan-out %s, %.2f×; the hop target is the chain's)", ms(e.HopP50), ms(row.Raw.HopP50),
				ratio(e.HopP50, row.Raw.HopP50))
		}
		fmt.Fprintf(w, "  %-18s %-10s %s; steps/s %s ≥ %s: %s; first step %s ≤ %s: %s\n", row.Target, row.Workload, hop,
			rate(e.StepsPerSec), rate(g.StepsPerSec), verdict(e.StepsPerSec >= g.StepsPerSec),
			ms(e.FirstP50), ms(g.First), verdict(e.FirstP50 <= g.First))
		if row.Raw.StepsPerSec > 0 {
			at := e.StepsPerSec / row.Raw.StepsPerSec * g.FloorRaw
			fmt.Fprintf(w, "  %-18s %-10s at the reference floor (raw %s steps/s; here %s): engine/raw × floor = %s ≥ %s: %s\n", "", "",
				rate(g.FloorRaw), rate(row.Raw.StepsPerSec), rate(at), rate(g.StepsPerSec), verdict(at >= g.StepsPerSec))
		}
		if g.FloorHop > 0 && row.Raw.HopP50 > 0 && strings.HasPrefix(row.Workload, "chain") {
			at := time.Duration(ratio(e.HopP50, row.Raw.HopP50) * float64(g.FloorHop))
			fmt.Fprintf(w, "  %-18s %-10s at the reference floor (raw hop %s; here %s): engine/raw × floor = %s ≤ %s: %s\n", "", "",
				ms(g.FloorHop), ms(row.Raw.HopP50), ms(at), ms(g.HopP50), verdict(at <= g.HopP50))
		}
		if g.FloorDurableHop > 0 && row.Durable.HopP50 > 0 {
			at := time.Duration(ratio(e.HopP50, row.Durable.HopP50) * float64(g.FloorDurableHop))
			fmt.Fprintf(w, "  %-18s %-10s at the reference floor (durable raw hop %s; here %s): engine/durable raw × floor = %s ≤ %s: %s\n", "", "",
				ms(g.FloorDurableHop), ms(row.Durable.HopP50), ms(at), ms(g.HopP50), verdict(at <= g.HopP50))
		}
	}
	return nil
}

func rate(v float64) string { return fmt.Sprintf("%.0f", v) }

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
