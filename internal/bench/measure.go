package bench

import (
	"context"
	"fmt"
	"time"
)

// phase accumulates one figure source (a workload, or the raw chain) over
// the rounds.
type phase struct {
	hops, firsts []time.Duration
	load         Load
}

func (p *phase) add(l Load) {
	p.load.Runs += l.Runs
	p.load.Steps += l.Steps
	p.load.Elapsed += l.Elapsed
}

func (p *phase) figures() Figures {
	f := Figures{Hops: len(p.hops)}
	f.HopP50, f.HopP99 = percentile(p.hops, 50), percentile(p.hops, 99)
	f.FirstP50, f.FirstP99 = percentile(p.firsts, 50), percentile(p.firsts, 99)
	if s := p.load.Elapsed.Seconds(); s > 0 {
		f.RunsPerSec = float64(p.load.Runs) / s
		f.StepsPerSec = float64(p.load.Steps) / s
	}
	return f
}

// share is round i's part of n split into rounds parts.
func share(n, rounds, i int) int {
	s := n / rounds
	if i < n%rounds {
		s++
	}
	return s
}

// RunTarget measures cfg's workloads on t and the raw broker chain under t,
// in cfg.Rounds rounds: each round makes its share of one-at-a-time runs of
// every workload and of the raw chain, then the saturated slices follow in
// the same alternation.
func RunTarget(ctx context.Context, cfg Config, t Target) (rows []Row, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p := cfg.Progress
	fmt.Fprintf(p, "%s: opening engine and raw broker\n", t.Name)
	h, err := OpenEngine(ctx, t, cfg.Workloads...)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := h.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
			err = fmt.Errorf("closing engine: %w", cerr)
		}
	}()
	raw, err := OpenRaw(ctx, t)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := raw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("closing raw broker: %w", cerr)
		}
	}()

	ws := cfg.Workloads
	eng := make([]phase, len(ws))
	// rp is the raw chain; rawFan[j] the raw fan-out of workload j's width
	// (fan-outs only), whose hops stand beside the workload's.
	var rp, dp phase // dp: the durable raw chain, when the target has Postgres
	rawFan := make([]phase, len(ws))
	for _, w := range ws {
		if _, err := h.Serial(ctx, w, warmupRuns); err != nil {
			return nil, fmt.Errorf("%s: warm-up: %w", w.Name, err)
		}
	}
	if _, _, err := raw.Serial(ctx, warmupRuns); err != nil {
		return nil, fmt.Errorf("raw: warm-up: %w", err)
	}
	if raw.Durable() {
		if _, err := raw.DurableSerial(ctx, warmupRuns); err != nil {
			return nil, fmt.Errorf("raw durable chain: warm-up: %w", err)
		}
	}

	fmt.Fprintf(p, "%s: %d runs of each workload and %d raw chains one at a time, in %d rounds\n", t.Name, cfg.Runs, cfg.Runs, cfg.Rounds)
	for i := range cfg.Rounds {
		n := share(cfg.Runs, cfg.Rounds, i)
		if n == 0 {
			break
		}
		for j, w := range ws {
			samples, err := h.Serial(ctx, w, n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.Name, err)
			}
			for _, s := range samples {
				eng[j].hops = append(eng[j].hops, s.Hops...)
				eng[j].firsts = append(eng[j].firsts, s.First)
			}
		}
		hops, firsts, err := raw.Serial(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("raw: %w", err)
		}
		rp.hops, rp.firsts = append(rp.hops, hops...), append(rp.firsts, firsts...)
		if raw.Durable() {
			hops, err := raw.DurableSerial(ctx, n)
			if err != nil {
				return nil, fmt.Errorf("raw durable chain: %w", err)
			}
			dp.hops = append(dp.hops, hops...)
		}
		for j, w := range ws {
			if w.Width == 0 {
				continue
			}
			hops, err := raw.FanSerial(ctx, n, w.Width)
			if err != nil {
				return nil, fmt.Errorf("raw fan-out: %w", err)
			}
			rawFan[j].hops = append(rawFan[j].hops, hops...)
		}
		fmt.Fprintf(p, "  round %d/%d: hop p50 %s (raw chain %s)\n", i+1, cfg.Rounds, hopSummary(ws, eng), ms(percentile(rp.hops, 50)))
	}

	slice := cfg.Duration / time.Duration(cfg.Rounds)
	fmt.Fprintf(p, "%s: %d runs in flight, %d slices of %s per workload and for the raw chain\n", t.Name, cfg.Concurrency, cfg.Rounds, slice)
	for i := range cfg.Rounds {
		for j, w := range ws {
			l, err := h.Saturate(ctx, w, cfg.Concurrency, slice, 0, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.Name, err)
			}
			eng[j].add(l)
			fmt.Fprintf(p, "  round %d/%d %s: %.0f steps/s\n", i+1, cfg.Rounds, w.Name, float64(l.Steps)/l.Elapsed.Seconds())
		}
		l, err := raw.Saturate(ctx, cfg.Concurrency, slice, nil)
		if err != nil {
			return nil, fmt.Errorf("raw: %w", err)
		}
		rp.add(l)
		fmt.Fprintf(p, "  round %d/%d raw: %.0f steps/s\n", i+1, cfg.Rounds, float64(l.Steps)/l.Elapsed.Seconds())
	}

	rf := rp.figures()
	for j, w := range ws {
		f, r := eng[j].figures(), rf
		if w.Width > 0 {
			// The same steps/s and first step as the raw chain; the hop of
			// a raw fan-out of the same width.
			ff := rawFan[j].figures()
			r.HopP50, r.HopP99, r.Hops = ff.HopP50, ff.HopP99, ff.Hops
		}
		fmt.Fprintf(p, "%s %s: %.0f steps/s, hop p50 %s (raw %.0f steps/s, %s)\n", t.Name, w.Name, f.StepsPerSec, ms(f.HopP50), r.StepsPerSec, ms(r.HopP50))
		row := Row{Target: t.Name, Workload: w.Name, Engine: f, Raw: r}
		if w.Width == 0 {
			row.Durable = dp.figures()
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func hopSummary(ws []Workload, eng []phase) string {
	s := ""
	for j, w := range ws {
		if j > 0 {
			s += ", "
		}
		s += w.Name + " " + ms(percentile(eng[j].hops, 50))
	}
	return s
}
