package scheduler_test

import (
	"context"
	"sync"
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

// TestHeldRunTransaction: a run whose transaction a scheduler holds open
// between decisions is not moved on by another writer meanwhile: another
// scheduler's cancel waits until the hold is over, then applies, and the
// holder's next decision, taken on the run as the store now has it, starts
// nothing more.
func TestHeldRunTransaction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	br, _ := backends(t)
	st, _ := pgStore(t)
	// Long, so that b's step surely starts (and the cancel below begins)
	// while the hold still runs, however loaded the machine.
	const hold = 5 * time.Second
	reg := prometheus.NewRegistry()
	a, err := scheduler.New(scheduler.Config{Store: st, Broker: br, Registerer: reg, HoldRunLocks: hold})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	b, err := scheduler.New(scheduler.Config{Store: st, Broker: br})
	require.NoError(t, err)

	// b's step waits until it is let go.
	var runs sync.Map
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	reg2 := steps.NewRegistry()
	reg2.Register("echo", steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
		n, _ := runs.LoadOrStore(in.StepID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if in.StepID == "b" {
			started <- struct{}{}
			<-gate
		}
		return &steps.Output{Data: map[string]any{in.StepID: true}}, nil
	}))
	w, err := worker.New(worker.Config{Broker: br, Registry: reg2, AckWait: 5 * time.Second})
	require.NoError(t, err)
	require.NoError(t, w.Start(ctx))
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	var release sync.Once
	open := func() { release.Do(func() { close(gate) }) }
	t.Cleanup(open) // before the worker stops, should the test fail with b running

	pv, _, err := a.PipelineImport(ctx, "chain", []byte(chain))
	require.NoError(t, err)
	run, _, err := a.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("b did not start")
	}
	// a's completion committed with the run locked again for b's: the
	// cancel waits for the lock.
	began := time.Now()
	require.NoError(t, b.Cancel(ctx, run.ID, "stop"))
	require.Greater(t, time.Since(began), time.Second, "the cancel waited for the held transaction")
	got, err := st.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunCancelled, got.Status)
	require.Positive(t, gather(t, reg, "ia_scheduler_held_run_locks_total", "outcome", "expired"))

	open()
	require.Never(t, func() bool { return executions(&runs, "c") > 0 }, time.Second, 20*time.Millisecond,
		"b's completion came after the cancel and started nothing")
	got, err = st.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunCancelled, got.Status)
}
