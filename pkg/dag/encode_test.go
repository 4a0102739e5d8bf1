package dag_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// randomOutput returns step outputs of the shapes steps produce, including
// strings encoding/json escapes and a map shared by two steps.
func randomOutput(r *rand.Rand, shared map[string]any) any {
	switch r.IntN(8) {
	case 0:
		return nil
	case 1:
		return "less<than"
	case 2:
		return `<b>"quoted" & é` + "\n\t\x01"
	case 3:
		return []any{1.5, "x", true, nil, map[string]any{"k": []any{}}}
	case 4:
		return shared
	case 5:
		return map[string]any{}
	default:
		return map[string]any{"v": r.Float64(), "z": "last", "a": map[string]any{"nested": []any{"<>", 2.0}}, "ünï": "code"}
	}
}

// checkEncoding asserts that the encoder (reused across a run, so its
// caches are exercised) and a nil encoder both write what encoding/json
// writes for st.
func checkEncoding(t *testing.T, enc *dag.StateEncoder, st *dag.RunState, msg string) {
	t.Helper()
	want, err := json.Marshal(st)
	require.NoError(t, err)
	got, err := enc.Append(nil, st)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), msg)
	got, err = (*dag.StateEncoder)(nil).Append([]byte("prefix"), st)
	require.NoError(t, err)
	require.Equal(t, "prefix"+string(want), string(got), msg)
}

func TestStateEncoderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	resumed := 0
	for seed := range uint64(80) {
		r := rand.New(rand.NewPCG(seed, 11))
		g, probs := dag.Load("random.json", []byte(randomDAG(r, 2+r.IntN(20))), nil)
		require.NoError(t, probs.Err())
		st, err := g.NewRun("run<1", map[string]any{"topic": "é<x>", "n": 3.0})
		require.NoError(t, err)
		enc := &dag.StateEncoder{}
		now := time.Unix(1_700_000_000, 123456789).UTC()
		queue, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted, At: now})
		require.NoError(t, err)
		checkEncoding(t, enc, st, fmt.Sprintf("seed %d start", seed))
		shared := map[string]any{"shared": true}
		// resume resumes a run that failed once nothing is left to do,
		// twice at most, and returns the queue with its actions.
		resume := func(queue []dag.Action) []dag.Action {
			if len(queue) > 0 || st.Status != dag.RunFailed || st.Resumes >= 2 {
				return queue
			}
			more, err := g.Decide(st, dag.Event{Type: dag.EventResumeRequested, At: now})
			require.NoError(t, err)
			resumed++
			checkEncoding(t, enc, st, fmt.Sprintf("seed %d resume %d", seed, st.Resumes))
			return more
		}
		for len(queue) > 0 {
			a := queue[0]
			queue = queue[1:]
			if a.Kind != dag.ActionStartStep {
				queue = resume(queue)
				continue
			}
			now = now.Add(time.Duration(r.IntN(1e9)))
			ev := dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt,
				Output: randomOutput(r, shared), At: now}
			if r.IntN(6) == 0 {
				ev = dag.Event{Type: dag.EventStepFailed, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, At: now,
					Error: &dag.StepError{Message: "flaky <err", Retryable: r.IntN(2) == 0}}
			}
			more, err := g.Decide(st, ev)
			if err != nil {
				continue
			}
			checkEncoding(t, enc, st, fmt.Sprintf("seed %d after %s", seed, a.StepID))
			queue = resume(append(queue, more...))
		}
	}
	require.NotZero(t, resumed, "some runs fail and are resumed")
}

// TestStateEncoderLoops covers loop state and steps re-run with new outputs.
func TestStateEncoderLoops(t *testing.T) {
	t.Parallel()
	g := mustLoad(t, fmt.Sprintf(loopDoc, ""))
	st, err := g.NewRun("r", nil)
	require.NoError(t, err)
	enc := &dag.StateEncoder{}
	queue, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted, At: time.Unix(1, 0)})
	require.NoError(t, err)
	version := 0
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if a.Kind != dag.ActionStartStep {
			continue
		}
		var out any
		switch a.StepID {
		case "draft":
			version++
			out = map[string]any{"version": float64(version)}
		case "review":
			out = map[string]any{"approved": version >= 3}
		default:
			out = map[string]any{"ok": true}
		}
		more, err := g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, Output: out, At: time.Unix(int64(10+version), 0)})
		require.NoError(t, err)
		checkEncoding(t, enc, st, a.StepID)
		queue = append(queue, more...)
	}
	require.Equal(t, dag.RunCompleted, st.Status)
	require.NotEmpty(t, st.Loops)
}
