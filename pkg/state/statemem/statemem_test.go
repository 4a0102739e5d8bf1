package statemem_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statemem"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestHot(t *testing.T) {
	t.Parallel()
	statetest.ExerciseHot(t, func(t *testing.T) state.Hot {
		h := statemem.New(statemem.Config{})
		t.Cleanup(func() { require.NoError(t, h.Close()) })
		return h
	})
}

func TestRingWraps(t *testing.T) {
	t.Parallel()
	h := statemem.New(statemem.Config{EventsCap: 4, RunEventsCap: 2})
	defer h.Close()
	for i := range 10 {
		require.NoError(t, h.EventPublish(t.Context(), state.Event{RunID: "r", Type: fmt.Sprint(i)}))
	}
	evs, err := h.EventsSince(t.Context(), "", 0, 100)
	require.NoError(t, err)
	require.Len(t, evs, 4)
	require.Equal(t, int64(7), evs[0].Seq)
	evs, err = h.EventsSince(t.Context(), "r", 8, 100)
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.Equal(t, "9", evs[1].Type)
}

// Example subscribes to one run's events.
func Example() {
	ctx := context.Background()
	hot := statemem.New(statemem.Config{})
	defer hot.Close()
	events, stop, err := hot.EventSubscribe(ctx, "run-1")
	if err != nil {
		panic(err)
	}
	defer stop()
	_ = hot.EventPublish(ctx, state.Event{RunID: "run-1", StepID: "greet", Type: "step.succeeded"})
	ev := <-events
	fmt.Println(ev.Seq, ev.StepID, ev.Type)
	// Output: 1 greet step.succeeded
}
