package crashtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
)

// nopBroker accepts every publish; Submit and Apply only publish.
type nopBroker struct{}

func (nopBroker) Publish(context.Context, queue.Message) error { return nil }
func (nopBroker) Subscribe(context.Context, string, queue.SubscribeConfig, queue.Handler) (queue.Subscription, error) {
	return nil, queue.ErrClosed
}
func (nopBroker) Stats(context.Context, string) (queue.Stats, error) { return queue.Stats{}, nil }
func (nopBroker) Close() error                                       { return nil }

// TestTwoSchedulersInterleaved is the smallest form of what the crash test
// does to a run: its completions are applied by different schedulers in
// turn. Scheduler 1 applies a's completion, scheduler 2 b's, scheduler 1
// c's; the run must complete. No process dies.
func TestTwoSchedulersInterleaved(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := statesqlite.New(ctx, statesqlite.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	s1, err := scheduler.New(scheduler.Config{Store: store, Broker: nopBroker{}})
	require.NoError(t, err)
	s2, err := scheduler.New(scheduler.Config{Store: store, Broker: nopBroker{}})
	require.NoError(t, err)
	pv, _, err := s1.PipelineImport(ctx, "abc", []byte(`{"name": "abc",
	  "steps": [{"id": "a", "step_class": "echo"}, {"id": "b", "step_class": "echo"}, {"id": "c", "step_class": "echo"}],
	  "flow": {"start_at": "a", "paths": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}}`))
	require.NoError(t, err)
	run, _, err := s1.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{}})
	require.NoError(t, err)

	done := func(step string) dag.Event {
		return dag.Event{Type: dag.EventStepSucceeded, StepID: step, Iteration: 1, Attempt: 1, Output: map[string]any{step: true}, At: time.Now()}
	}
	require.NoError(t, s1.Apply(ctx, run.ID, done("a")))
	require.NoError(t, s2.Apply(ctx, run.ID, done("b")))
	require.NoError(t, s1.Apply(ctx, run.ID, done("c")), "c's completion is current; scheduler 1 must not judge it by its cached state")
	got, err := store.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, "completed", got.Status)
}
