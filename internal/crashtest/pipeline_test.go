package crashtest

import (
	"encoding/json"
	"maps"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// pipeline: start fans out to A, B and one of C_hi / C_lo (chosen by the
// parity of the run input n), all join in J, then R fails its first attempt
// and is retried, then finish. Every step but R is a "record" step, which
// logs its execution and echoes its declared inputs plus "step".
const pipeline = `{
  "name": "crash",
  "steps": [
    {"id": "start", "step_class": "record", "inputs": {"n": "{pipeline_input.n}"}},
    {"id": "A", "step_class": "record", "inputs": {"a": "{steps.start.output.n}"}},
    {"id": "B", "step_class": "record", "inputs": {"b": "{steps.start.output.n}"}},
    {"id": "C_hi", "step_class": "record", "inputs": {"x": "hi-{steps.start.output.n}"}},
    {"id": "C_lo", "step_class": "record", "inputs": {"x": "lo-{steps.start.output.n}"}},
    {"id": "J", "step_class": "record", "inputs": {
      "x": "{steps.C_hi.output.x}|{steps.C_lo.output.x}",
      "branch": "{steps.C_hi.output.step}|{steps.C_lo.output.step}",
      "a": "{steps.A.output.a}", "b": "{steps.B.output.b}"}},
    {"id": "R", "step_class": "fail", "config": {"fail_attempts": 1},
     "error_handling": {"max_attempts": 3, "initial_delay": 0.05}},
    {"id": "finish", "step_class": "record", "inputs": {"attempts": "{steps.R.output.attempts}", "x": "{steps.J.output.x}"}}
  ],
  "flow": {
    "start_at": "start",
    "paths": [
      {"from": "start", "to": "A"},
      {"from": "start", "to": "B"},
      {"from": "start", "to": "C_hi", "condition": "int(pipeline_input.n) % 2 == 0"},
      {"from": "start", "to": "C_lo", "condition": "int(pipeline_input.n) % 2 == 1"},
      {"from": "A", "to": "J"},
      {"from": "B", "to": "J"},
      {"from": "C_hi", "to": "J"},
      {"from": "C_lo", "to": "J"},
      {"from": "J", "to": "R"},
      {"from": "R", "to": "finish"}
    ]
  },
  "outputs": {
    "n": "{steps.start.output.n}",
    "a": "{steps.J.output.a}",
    "b": "{steps.J.output.b}",
    "x": "{steps.J.output.x}",
    "branch": "{steps.J.output.branch}",
    "attempts": "{steps.finish.output.attempts}",
    "last": "{steps.finish.output.step}"
  }
}`

// expected returns the output of the run with input n, as JSON.
func expected(n int) string {
	branch, x := "C_hi", "hi-"+strconv.Itoa(n)
	if n%2 == 1 {
		branch, x = "C_lo", "lo-"+strconv.Itoa(n)
	}
	out, _ := json.Marshal(map[string]any{"n": n, "a": n, "b": n, "x": x, "branch": branch, "attempts": 2, "last": "finish"})
	return string(out)
}

// recordSteps are the steps of a run with input n that must have executed.
func recordSteps(n int) []string {
	c := "C_hi"
	if n%2 == 1 {
		c = "C_lo"
	}
	return []string{"start", "A", "B", c, "J", "finish"}
}

// TestPipelineExpected drives the crash test's pipeline through the decider
// in process, with the record and fail steps simulated, so that a mistake in
// the pipeline or in expected() fails here and not as a crash-test finding.
func TestPipelineExpected(t *testing.T) {
	t.Parallel()
	g, probs := dag.Load("crash", []byte(pipeline), nil)
	require.NotNil(t, g, "pipeline: %v", probs.Err())
	require.False(t, probs.HasErrors(), "pipeline: %v", probs.Err())
	require.True(t, g.ReadsAncestorsOnly(), "its steps read only their ancestors, so the schedulers publish tasks before their commits and the kills reach that window")
	for n := range 4 {
		st, err := g.NewRun("run", map[string]any{"n": float64(n)})
		require.NoError(t, err)
		queue, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
		require.NoError(t, err)
		var output any
		for len(queue) > 0 {
			a := queue[0]
			queue = queue[1:]
			switch a.Kind {
			case dag.ActionFinishRun:
				require.Equal(t, dag.RunCompleted, a.Status, "n=%d: %s", n, a.Error)
				output = a.Output
				continue
			case dag.ActionStartStep:
			default:
				continue
			}
			ev := dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt}
			switch a.Class {
			case "record":
				out := maps.Clone(a.Inputs)
				if out == nil {
					out = map[string]any{}
				}
				out["step"] = a.StepID
				ev.Output = out
			case "fail":
				if a.Attempt > 1 {
					ev.Output = map[string]any{"attempts": float64(a.Attempt)}
				} else {
					ev.Type, ev.Error = dag.EventStepFailed, &dag.StepError{Message: "step failed", Retryable: true}
				}
			default:
				t.Fatalf("unexpected class %q", a.Class)
			}
			more, err := g.Decide(st, ev)
			require.NoError(t, err)
			queue = append(queue, more...)
		}
		got, err := json.Marshal(output)
		require.NoError(t, err)
		require.JSONEq(t, expected(n), string(got), "n=%d", n)
	}
}
