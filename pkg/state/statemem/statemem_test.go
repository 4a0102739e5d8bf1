package statemem_test

import (
	"context"
	"fmt"
	"testing"
	"time"

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

func TestRunStreamsAreDropped(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	h := statemem.New(statemem.Config{RunStreamsMax: 2, RunEventsTTL: time.Minute, Now: func() time.Time { return now }})
	defer h.Close()
	ctx := t.Context()
	publish := func(run string) {
		t.Helper()
		require.NoError(t, h.EventPublish(ctx, state.Event{RunID: run, Type: "e"}))
	}
	retained := func(run string) int {
		t.Helper()
		evs, err := h.EventsSince(ctx, run, 0, 100)
		require.NoError(t, err)
		return len(evs)
	}

	// Past RunStreamsMax the least recently published run goes.
	publish("a")
	publish("b")
	publish("a")
	publish("c")
	require.Equal(t, 2, retained("a"))
	require.Equal(t, 0, retained("b"), "b was the least recently published")
	require.Equal(t, 1, retained("c"))
	require.Equal(t, 4, retained(""), "the global stream keeps every event")

	// A subscribed run is kept however old; the others expire after the TTL.
	live, stop, err := h.EventSubscribe(ctx, "a")
	require.NoError(t, err)
	now = now.Add(2 * time.Minute)
	publish("d")
	require.Equal(t, 2, retained("a"))
	require.Equal(t, 0, retained("c"), "c was idle past the TTL")
	publish("a")
	require.Equal(t, int64(3), (<-live).Seq, "the subscriber reads on from the kept stream")
	stop()
	now = now.Add(2 * time.Minute)
	publish("e")
	require.Equal(t, 0, retained("a"))
	require.Equal(t, 0, retained("d"))
	require.Equal(t, 1, retained("e"))
}

func TestExpiredClaimsAreSwept(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	h := statemem.New(statemem.Config{Now: func() time.Time { return now }})
	defer h.Close()
	ctx := t.Context()
	_, ok, err := h.IdempotencyClaim(ctx, "old", "v", time.Second)
	require.NoError(t, err)
	require.True(t, ok)
	now = now.Add(time.Minute)
	for i := range 2048 {
		_, _, err := h.IdempotencyClaim(ctx, fmt.Sprint("k", i), "v", time.Hour)
		require.NoError(t, err)
	}
	require.Equal(t, 2048, statemem.IdemLen(h), "the expired claim is gone, the live ones stay")
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
