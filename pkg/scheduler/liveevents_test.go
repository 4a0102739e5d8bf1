package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statemem"
)

// gatedHot is an in-process hot state whose event publishes wait for open:
// a hot state that is slow or down.
type gatedHot struct {
	state.Hot
	open chan struct{}
}

func (g *gatedHot) EventPublish(ctx context.Context, ev state.Event) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Hot.EventPublish(ctx, ev)
}

// TestLiveEventsOffTheDecision: a decision does not wait for its live
// events to be published; they are published afterwards in the order of
// the decisions, and Stop waits for them.
func TestLiveEventsOffTheDecision(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	br, st := backends(t)
	mem := statemem.New(statemem.Config{})
	t.Cleanup(func() { _ = mem.Close() })
	hot := &gatedHot{Hot: mem, open: make(chan struct{})}

	s, err := scheduler.New(scheduler.Config{Store: st, Broker: br, Hot: hot})
	require.NoError(t, err)
	pv, _, err := s.PipelineImport(ctx, "chain", []byte(`{"name":"chain","steps":[{"id":"a","step_class":"echo"},{"id":"b","step_class":"echo"}],
		"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`))
	require.NoError(t, err)
	run, _, err := s.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	for _, step := range []string{"a", "b"} {
		applied := make(chan error, 1)
		go func() {
			applied <- s.Apply(ctx, run.ID, dag.Event{Type: dag.EventStepSucceeded, StepID: step, Iteration: 1, Attempt: 1})
		}()
		select {
		case err := <-applied:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the decision waited for its live events")
		}
	}
	evs, err := mem.EventsSince(ctx, run.ID, 0, 100)
	require.NoError(t, err)
	require.Empty(t, evs, "nothing published while the hot state is closed")

	close(hot.open)
	stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(stopCtx))
	evs, err = mem.EventsSince(ctx, run.ID, 0, 100)
	require.NoError(t, err)
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Type+":"+ev.StepID)
	}
	require.Equal(t, []string{"run_started:", "step_started:a", "step_succeeded:a", "step_started:b", "step_succeeded:b", "run_finished:"}, got)
}
