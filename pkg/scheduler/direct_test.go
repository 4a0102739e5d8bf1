package scheduler_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/steps"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// TestHandOn runs two schedulers and a worker of its own, as separate
// processes would be. Whichever scheduler a completion reaches (from the
// events queue, or in process), it is applied by the scheduler that
// decided the task, on the run's state in that one's memory: neither ever
// reads the run back. A completion whose scheduler is gone, or does not
// answer, is applied where it arrived; one that does not answer is passed
// over for the next completions.
func TestHandOn(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	br, st := backends(t)
	newSched := func() (*scheduler.Scheduler, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		s, err := scheduler.New(scheduler.Config{Store: st, Broker: br, Registerer: reg, AckWait: 2 * time.Second})
		require.NoError(t, err)
		require.NoError(t, s.Start(ctx))
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		return s, reg
	}
	a, aReg := newSched()
	b, bReg := newSched()
	require.NotEmpty(t, a.DirectName())
	require.NotEqual(t, a.DirectName(), b.DirectName())
	loads := func(reg *prometheus.Registry) float64 { return gather(t, reg, "ia_scheduler_run_loads_total") }
	applied := func(reg *prometheus.Registry) float64 { return gather(t, reg, "ia_scheduler_events_total") }

	pv, _, err := a.PipelineImport(ctx, "chain", []byte(chain))
	require.NoError(t, err)
	submit := func(s *scheduler.Scheduler) string {
		run, _, err := s.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{"x": 1.0}})
		require.NoError(t, err)
		return run.ID
	}
	status := func(runID string) string {
		run, err := st.RunGet(ctx, runID)
		require.NoError(t, err)
		return run.Status
	}
	completion := func(runID, step, sched string) *worker.Completion {
		now := time.Now()
		return &worker.Completion{RunID: runID, StepID: step, Iteration: 1, Attempt: 1, Output: json.RawMessage(`{}`),
			StartedAt: now, EndedAt: now, Scheduler: sched}
	}

	// From the events queue, through a worker: each completion reaches a
	// or b, and a applies every one without reading the run back.
	w, err := worker.New(worker.Config{Broker: br, Registry: steps.Builtins(), AckWait: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, w.Start(ctx))
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	for range 5 {
		runID := submit(a)
		require.Eventually(t, func() bool { return status(runID) == state.RunCompleted }, 20*time.Second, 5*time.Millisecond)
	}
	require.Zero(t, loads(aReg), "the deciding scheduler read a run back")
	require.Zero(t, applied(bReg), "the other scheduler applied a completion")
	require.NoError(t, w.Stop(ctx))
	handedOn := func() float64 { return gather(t, bReg, "ia_scheduler_completions_handed_on_total") }
	before := handedOn()

	// In process: b takes a's completion and hands it on.
	runID := submit(a) // no worker runs its tasks from now on
	require.NoError(t, b.Complete(ctx, completion(runID, "a", a.DirectName())))
	require.Equal(t, before+1, handedOn())
	require.Zero(t, applied(bReg))
	require.EqualValues(t, 15+1, applied(aReg))

	// A scheduler that never answers: b waits once, applies the completion
	// itself, and then stops asking it.
	var asked atomic.Int32
	release := make(chan struct{})
	stuck, err := br.ServeDirect(ctx, "stuck", 4, func(context.Context, []byte) ([]byte, error) {
		asked.Add(1)
		<-release
		return nil, nil
	})
	require.NoError(t, err)
	defer func() { close(release); _ = stuck.Stop(context.Background()) }()
	runID = submit(b)
	require.NoError(t, b.Complete(ctx, completion(runID, "a", "stuck")))
	require.NoError(t, b.Complete(ctx, completion(runID, "b", "stuck")))
	require.EqualValues(t, 1, asked.Load())
	require.Equal(t, state.RunRunning, status(runID))

	// A scheduler that is gone: applied where it arrives.
	require.NoError(t, a.Stop(ctx))
	require.NoError(t, b.Complete(ctx, completion(runID, "c", a.DirectName())))
	require.Equal(t, state.RunCompleted, status(runID))
}

// gather sums the counter name in reg over the series whose labels include
// the label pairs given (name, value, ...).
func gather(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
