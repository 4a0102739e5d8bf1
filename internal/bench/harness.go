package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ia-modules/ia-go/internal/engine"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/steps"
)

const (
	// idlePause separates the one-at-a-time runs so each starts on an idle
	// system (asynq subscribers fall back to polling when idle).
	idlePause = 20 * time.Millisecond
	// runTimeout bounds how long one run may take before the bench fails.
	runTimeout = 60 * time.Second
	warmupRuns = 3
)

// Harness is an opened engine with the bench pipelines imported.
type Harness struct {
	Target Target
	Engine *engine.Engine
	// others are the extra schedulers (Target.Schedulers).
	others  []*engine.Engine
	tracker *tracker
	prefix  string
	// versions maps workload names to pipeline version ids.
	versions map[string]string
}

// OpenEngine opens and starts an engine (scheduler and worker) for t and
// imports ws (default Workloads()). Workloads' final step ids must differ.
func OpenEngine(ctx context.Context, t Target, ws ...Workload) (*Harness, error) {
	h := &Harness{Target: t, prefix: cmp.Or(t.Prefix, uniquePrefix()), versions: map[string]string{}}
	if len(ws) == 0 {
		ws = Workloads()
	}
	finals := make([]string, 0, len(ws))
	for _, w := range ws {
		finals = append(finals, w.Final)
	}
	h.tracker = newTracker(finals...)
	reg := steps.Builtins()
	reg.Register(NoopClass, h.tracker.Handler())
	eng, err := engine.Open(ctx, engine.Config{
		DatabaseURL: t.DatabaseURL, QueueURL: t.QueueURL, RedisURL: t.RedisURL, DataDir: t.DataDir, Prefix: h.prefix, Registry: reg,
		Scheduler: true, Worker: true, BrokerCompletions: t.BrokerCompletions, WorkerConcurrency: cmp.Or(t.WorkerConcurrency, DefaultWorkerConcurrency),
	})
	if err != nil {
		h.dropNamespace(context.WithoutCancel(ctx))
		return nil, err
	}
	h.Engine = eng
	for _, w := range ws {
		pv, _, err := eng.Scheduler.PipelineImport(ctx, w.Name, w.Doc)
		if err != nil {
			_ = h.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("importing %s: %w", w.Name, err)
		}
		h.versions[w.Name] = pv.ID
	}
	if err := eng.Start(ctx); err != nil {
		_ = h.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	for range t.Schedulers - 1 {
		o, err := engine.Open(ctx, engine.Config{DatabaseURL: t.DatabaseURL, QueueURL: t.QueueURL, RedisURL: t.RedisURL, Prefix: h.prefix, Registry: reg, Scheduler: true})
		if err == nil {
			h.others = append(h.others, o)
			err = o.Start(ctx)
		}
		if err != nil {
			_ = h.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("another scheduler: %w", err)
		}
	}
	return h, nil
}

// Close stops the engine and drops the target's namespace.
func (h *Harness) Close(ctx context.Context) error {
	stop, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	for _, o := range h.others {
		err = errors.Join(err, o.Close(stop))
	}
	err = errors.Join(err, h.Engine.Close(stop))
	if derr := h.dropNamespace(stop); derr != nil {
		err = errors.Join(err, derr)
	}
	return err
}

// dropNamespace removes what a distributed engine left on the servers.
func (h *Harness) dropNamespace(ctx context.Context) error {
	return engine.Drop(ctx, engine.Config{DatabaseURL: h.Target.DatabaseURL, QueueURL: h.Target.QueueURL, RedisURL: h.Target.RedisURL, Prefix: h.prefix})
}

// Sample is what one run at a time yields.
type Sample struct {
	// First is Submit to the first step's start.
	First time.Duration
	// Hops are step-to-next-step hops, one per step with predecessors.
	Hops []time.Duration
	// Total is Submit to the run's completion in the store.
	Total time.Duration
}

// RunOnce submits one run of w, waits until it has completed in the store
// and reads its hops back from the step attempts.
func (h *Harness) RunOnce(ctx context.Context, w Workload) (Sample, error) {
	st := h.Engine.Store
	submitted := time.Now()
	run, err := h.submit(ctx, w)
	if err != nil {
		return Sample{}, err
	}
	if err := h.tracker.wait(ctx, run.ID, runTimeout); err != nil {
		return Sample{}, err
	}
	if err := waitFinished(ctx, st, run.ID); err != nil {
		return Sample{}, err
	}
	total := time.Since(submitted)
	attempts, err := st.StepAttemptList(ctx, run.ID)
	if err != nil {
		return Sample{}, err
	}
	type span struct{ start, end time.Time }
	spans := map[string]span{}
	for _, a := range attempts {
		if a.Status != "succeeded" || len(a.Output) == 0 {
			continue
		}
		var s stamp
		if err := json.Unmarshal(a.Output, &s); err != nil {
			return Sample{}, fmt.Errorf("step %s output: %w", a.StepID, err)
		}
		start, end, err := s.times()
		if err != nil {
			return Sample{}, fmt.Errorf("step %s: %w", a.StepID, err)
		}
		// A retried step keeps its last successful attempt.
		spans[a.StepID] = span{start, end}
	}
	if len(spans) != w.Steps {
		return Sample{}, fmt.Errorf("run %s: %d of %d steps succeeded", run.ID, len(spans), w.Steps)
	}
	smp := Sample{First: spans[w.First].start.Sub(submitted), Total: total}
	for id, preds := range w.Preds {
		var last time.Time
		for _, p := range preds {
			if e := spans[p].end; e.After(last) {
				last = e
			}
		}
		smp.Hops = append(smp.Hops, spans[id].start.Sub(last))
	}
	return smp, nil
}

func (h *Harness) submit(ctx context.Context, w Workload) (*state.Run, error) {
	id, ok := h.versions[w.Name]
	if !ok {
		return nil, fmt.Errorf("workload %s is not imported", w.Name)
	}
	run, _, err := h.Engine.Scheduler.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: id, Input: map[string]any{}, CreatedBy: "bench"})
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", w.Name, err)
	}
	return run, nil
}

// waitFinished polls the store until the run is terminal; it must have
// completed. It is called once the final step has ended, so only the
// scheduler's last decision is left.
func waitFinished(ctx context.Context, st state.Store, runID string) error {
	deadline := time.Now().Add(runTimeout)
	delay := 200 * time.Microsecond
	for {
		run, err := st.RunGet(ctx, runID)
		if err != nil {
			return err
		}
		switch run.Status {
		case state.RunCompleted:
			return nil
		case state.RunFailed, state.RunCancelled, state.RunWaiting:
			return fmt.Errorf("run %s ended %s: %s", runID, run.Status, run.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %s still %s after %s", runID, run.Status, runTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// Serial makes n runs of w one at a time, pausing between them so each
// starts on an idle system, and returns the samples.
func (h *Harness) Serial(ctx context.Context, w Workload, n int) ([]Sample, error) {
	out := make([]Sample, 0, n)
	for range n {
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(idlePause):
		}
		s, err := h.RunOnce(ctx, w)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Load is the result of a saturated phase.
type Load struct {
	Runs    int64
	Steps   int64
	Elapsed time.Duration
}

// Saturate keeps conc runs of w in flight (closed loop: a run is submitted
// as soon as one's final step ends) for d, or until maxRuns runs have been
// submitted when maxRuns > 0. It counts the no-op steps and final steps that
// ended inside the window, then waits for the runs in flight to complete.
// tick, when not nil, is called about once a second.
func (h *Harness) Saturate(ctx context.Context, w Workload, conc int, d time.Duration, maxRuns int64, tick func(Load)) (Load, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	steps0, runs0 := h.tracker.steps.Load(), h.tracker.runs.Load()
	start := time.Now()
	deadline := start.Add(d)
	var (
		mu        sync.Mutex
		firstErr  error
		submitted int64
		last      = make([]string, conc)
		wg        sync.WaitGroup
	)
	more := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if firstErr != nil || time.Now().After(deadline) || (maxRuns > 0 && submitted >= maxRuns) {
			return false
		}
		submitted++
		return true
	}
	for i := range conc {
		wg.Go(func() {
			for more() {
				run, err := h.submit(ctx, w)
				if err == nil {
					last[i] = run.ID
					err = h.tracker.wait(ctx, run.ID, runTimeout)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var res Load
	snapshot := func() Load {
		return Load{Runs: h.tracker.runs.Load() - runs0, Steps: h.tracker.steps.Load() - steps0, Elapsed: time.Since(start)}
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	window := time.NewTimer(d)
	defer window.Stop()
	measured := false
wait:
	for {
		select {
		case <-ticker.C:
			if tick != nil {
				tick(snapshot())
			}
		case <-window.C:
			res, measured = snapshot(), true
		case <-done:
			break wait
		}
	}
	if !measured {
		res = snapshot() // maxRuns reached before the window closed
	}
	if firstErr != nil {
		return res, firstErr
	}
	for _, id := range last {
		if id == "" {
			continue
		}
		if err := waitFinished(ctx, h.Engine.Store, id); err != nil {
			return res, err
		}
	}
	return res, nil
}

// percentile returns the q-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q/100*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
