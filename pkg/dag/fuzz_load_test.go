package dag_test

import (
	"testing"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// FuzzLoad feeds arbitrary bytes to Parse and Compile, and runs a valid
// result to completion with every step succeeding: nothing may panic, every
// problem must carry a location, and the run must terminate.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		`{"steps":[{"id":"a","step_class":"echo"}],"flow":{"start_at":"a"}}`,
		`{"steps":[{"id":"a","step_class":"echo"},{"id":"b","step_class":"echo"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`,
		`{"steps":[{"id":"a","step_class":"echo"},{"id":"b","step_class":"echo"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"b","condition":{"type":"expression","config":{"source":"a.x","operator":">","value":1}}},{"from":"b","to":"a","condition":"b.again == true"}]},"loop_config":{"max_iterations":3}}`,
		`{"parameters":[{"name":"t","required":true}],"steps":[{"id":"a","class":"X","module":"m","inputs":[{"name":"x","source":"{parameters.t}|{steps.a.output.y}"}]}],"flow":{"start_at":"a","transitions":[{"from_step":"a","to_step":"end_with_failure"}]}}`,
		`{"steps":[{"id":"r","type":"condition","conditions":[{"field":"s","operator":"equals","value":1}]},{"id":"x","step_class":"e"},{"id":"y","step_class":"e"}],"flow":{"start_at":"r","paths":[{"from":"r","to":"x","condition":{"type":"condition"}},{"from":"r","to":"y","condition":{"type":"else"}}]}}`,
		`[]`, `{}`, `{"steps":"no"}`, `{"steps":[1,2],"flow":[]}`, `not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, probs := dag.Load("fuzz.json", data, nil)
		for _, p := range probs {
			if p.Message == "" || p.Code == "" {
				t.Fatalf("problem without message or code: %+v", p)
			}
		}
		if g == nil {
			if !probs.HasErrors() {
				t.Fatalf("no graph and no error")
			}
			return
		}
		runToEnd(t, g, map[string]any{"x": 1.0})
	})
}

// runToEnd drives a run where every started step succeeds with a small
// output and every human step is approved, and checks it terminates.
func runToEnd(t *testing.T, g *dag.Graph, input map[string]any) *dag.RunState {
	t.Helper()
	st, err := g.NewRun("fuzz", input)
	if err != nil {
		return nil
	}
	queue, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 100_000 {
			t.Fatalf("run did not terminate")
		}
		a := queue[0]
		queue = queue[1:]
		var ev dag.Event
		switch a.Kind {
		case dag.ActionStartStep:
			ev = dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt,
				Output: map[string]any{"again": steps%3 == 0, "x": float64(steps)}}
		case dag.ActionWaitHuman:
			ev = dag.Event{Type: dag.EventHumanDecision, StepID: a.StepID, Iteration: a.Iteration, Output: map[string]any{"decision": "approve"}}
		default:
			continue
		}
		more, err := g.Decide(st, ev)
		if err != nil {
			continue // stale after a loop reset
		}
		queue = append(queue, more...)
	}
	if !st.Status.Terminal() {
		t.Fatalf("run ended in status %s with nothing left to do", st.Status)
	}
	return st
}
