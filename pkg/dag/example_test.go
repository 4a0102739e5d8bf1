package dag_test

import (
	"fmt"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func Example() {
	doc := `{
	  "name": "review",
	  "parameters": {"threshold": 0.5},
	  "steps": [
	    {"id": "score", "step_class": "echo"},
	    {"id": "accept", "step_class": "echo", "inputs": {"s": "{{ score.value }}"}},
	    {"id": "reject", "step_class": "echo"}
	  ],
	  "flow": {"start_at": "score", "paths": [
	    {"from": "score", "to": "accept", "condition": "score.value >= parameters.threshold"},
	    {"from": "score", "to": "reject", "condition": "else"}
	  ]}
	}`
	g, problems := dag.Load("review.json", []byte(doc), nil)
	if err := problems.Err(); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := g.NewRun("run-1", map[string]any{"threshold": 0.7})
	actions, _ := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
	fmt.Println(actions[0].Kind, actions[0].StepID)

	actions, _ = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: "score", Iteration: 1, Attempt: 1,
		Output: map[string]any{"value": 0.9}})
	for _, a := range actions {
		fmt.Println(a.Kind, a.StepID, a.Inputs)
	}
	// Output:
	// start_step score
	// skip_step reject map[]
	// start_step accept map[s:0.9]
}

func ExampleLoad_problems() {
	doc := `{"steps": [{"id": "a", "step_class": "echo"}],
	  "flow": {"start_at": "a", "paths": [{"from": "a", "to": "b"}]}}`
	_, problems := dag.Load("bad.json", []byte(doc), nil)
	for _, p := range problems {
		fmt.Println(p)
	}
	// Output:
	// bad.json:2:60: flow.paths[0].to: error: transition to unknown step "b" [step a]; name an existing step id, or "end"
}
