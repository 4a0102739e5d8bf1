package scheduler_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// withInputs is a two-step chain whose steps declare inputs.
const withInputs = `{"name":"inputs","steps":[{"id":"a","step_class":"echo","inputs":{"q":"{{ pipeline_input.x }}"}},
	{"id":"b","step_class":"echo","inputs":{"r":"{{ pipeline_input.x }}"}}],
	"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`

// heldSetup starts a scheduler holding starts for delay and submits a run
// of withInputs (x = 7).
func heldSetup(t *testing.T, delay time.Duration) (state.Store, *scheduler.Scheduler, string) {
	t.Helper()
	br, st := backends(t)
	s, err := scheduler.New(scheduler.Config{Store: st, Broker: br, AttemptRecordDelay: delay})
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { _ = s.Stop(t.Context()) })
	pv, _, err := s.PipelineImport(t.Context(), "inputs", []byte(withInputs))
	require.NoError(t, err)
	run, _, err := s.Submit(t.Context(), &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{"x": 7.0}})
	require.NoError(t, err)
	return st, s, run.ID
}

func attemptsOf(t *testing.T, st state.Store, runID string) map[string]state.StepAttempt {
	t.Helper()
	as, err := st.StepAttemptList(t.Context(), runID)
	require.NoError(t, err)
	m := map[string]state.StepAttempt{}
	for _, a := range as {
		m[a.StepID] = a
	}
	return m
}

// TestHeldStartWrittenWithEnd: a step that ends within the delay gets one
// record, written with its end, holding its input and scheduled start; the
// starts still held are written when the scheduler stops.
func TestHeldStartWrittenWithEnd(t *testing.T) {
	t.Parallel()
	st, s, runID := heldSetup(t, time.Hour)
	require.Empty(t, attemptsOf(t, st, runID), "a's start is held")

	began := time.Now()
	require.NoError(t, s.Complete(t.Context(), &worker.Completion{RunID: runID, StepID: "a", Iteration: 1, Attempt: 1, WorkerID: "w",
		Output: json.RawMessage(`{"o":1}`), StartedAt: began, EndedAt: began.Add(time.Millisecond)}))
	as := attemptsOf(t, st, runID)
	require.Len(t, as, 1, "b's start is held")
	a := as["a"]
	require.Equal(t, "succeeded", a.Status)
	require.JSONEq(t, `{"q":7}`, string(a.Input))
	require.JSONEq(t, `{"o":1}`, string(a.Output))
	require.Equal(t, "w", a.WorkerID)
	require.NotNil(t, a.StartedAt)
	require.True(t, a.StartedAt.Before(began), "the scheduled start, not the worker's: %v", a.StartedAt)

	require.NoError(t, s.Stop(t.Context()))
	b := attemptsOf(t, st, runID)["b"]
	require.Equal(t, "running", b.Status, "written at stop")
	require.JSONEq(t, `{"r":7}`, string(b.Input))
	require.NotNil(t, b.StartedAt)
}

// TestHeldStartWrittenAfterDelay: a step still running after the delay gets
// its running record.
func TestHeldStartWrittenAfterDelay(t *testing.T) {
	t.Parallel()
	st, _, runID := heldSetup(t, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		a, ok := attemptsOf(t, st, runID)["a"]
		return ok && a.Status == "running" && string(a.Input) == `{"q":7}` && a.StartedAt != nil
	}, 5*time.Second, 5*time.Millisecond)
}

// TestHeldStartLost: when the scheduler holding a start dies (here: another
// scheduler takes the completion, and the holder writes its start late),
// the record holds the worker's echo of the inputs and start, and the late
// start neither reopens the attempt nor moves its start.
func TestHeldStartLost(t *testing.T) {
	t.Parallel()
	st, holder, runID := heldSetup(t, time.Hour)
	br, _ := backends(t)
	other, err := scheduler.New(scheduler.Config{Store: st, Broker: br})
	require.NoError(t, err)
	began := time.Now().Add(time.Second).UTC().Truncate(time.Microsecond)
	require.NoError(t, other.Complete(t.Context(), &worker.Completion{RunID: runID, StepID: "a", Iteration: 1, Attempt: 1, WorkerID: "w",
		Input: json.RawMessage(`{"q":7}`), Output: json.RawMessage(`{"o":1}`), StartedAt: began, EndedAt: began.Add(time.Millisecond)}))
	check := func() {
		a := attemptsOf(t, st, runID)["a"]
		require.Equal(t, "succeeded", a.Status)
		require.JSONEq(t, `{"q":7}`, string(a.Input))
		require.NotNil(t, a.StartedAt)
		require.True(t, began.Equal(*a.StartedAt), "the worker's start: %v", a.StartedAt)
	}
	check()
	require.NoError(t, holder.Stop(t.Context())) // writes its held start of a
	check()
}
