package dag_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// TestParseDialects: every dialect of the reference format lands in the
// same canonical model.
func TestParseDialects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		doc   string
		check func(t *testing.T, p *dag.Pipeline)
	}{
		{"paths with from/to", `{"steps":[{"id":"a","step_class":"x"},{"id":"b","step_class":"x"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"b"}]}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, "a", p.Edges[0].From)
				require.Equal(t, "b", p.Edges[0].To)
			}},
		{"paths with from_step/to_step", `{"steps":[{"id":"a","step_class":"x"},{"id":"b","step_class":"x"}],"flow":{"start_at":"a","paths":[{"from_step":"a","to_step":"b"}]}}`,
			func(t *testing.T, p *dag.Pipeline) { require.Equal(t, "b", p.Edges[0].To) }},
		{"transitions", `{"steps":[{"id":"a","step_class":"x"},{"id":"b","step_class":"x"}],"flow":{"start_at":"a","transitions":[{"from":"a","to":"b"}]}}`,
			func(t *testing.T, p *dag.Pipeline) { require.Len(t, p.Edges, 1) }},
		{"class synonym", `{"steps":[{"id":"a","class":"K","module":"m"}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, "K", p.Steps[0].Class)
				require.Equal(t, "m", p.Steps[0].Module)
			}},
		{"name as id", `{"steps":[{"name":"a","step_class":"x"}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) { require.Equal(t, "a", p.Steps[0].ID) }},
		{"inputs as a list", `{"steps":[{"id":"a","step_class":"x","inputs":[{"name":"t","source":"{parameters.t}","required":true}]}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, &dag.Input{Name: "t", Source: "{parameters.t}", Required: true}, p.Steps[0].Inputs[0])
				require.False(t, p.Steps[0].InputsAsMap)
			}},
		{"inputs as a map, in written order", `{"steps":[{"id":"a","step_class":"x","inputs":{"z":"{{ a.z }}","b":"{{ a.b }}"}}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, "z", p.Steps[0].Inputs[0].Name)
				require.Equal(t, "b", p.Steps[0].Inputs[1].Name)
				require.True(t, p.Steps[0].InputsAsMap)
			}},
		{"outputs as names and objects", `{"steps":[{"id":"a","step_class":"x","outputs":["d",{"name":"e","required":true}]}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, &dag.OutputDecl{Name: "d", Bare: true}, p.Steps[0].Outputs[0])
				require.Equal(t, &dag.OutputDecl{Name: "e", Required: true}, p.Steps[0].Outputs[1])
			}},
		{"top-level outputs mapping", `{"steps":[{"id":"a","step_class":"x"}],"flow":{"start_at":"a"},"outputs":{"f":"{{ a.f }}"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, &dag.NamedValue{Name: "f", Value: "{{ a.f }}"}, p.Outputs[0])
			}},
		{"parameters as defaults", `{"parameters":{"topic":"AI","n":3},"steps":[{"id":"a","step_class":"x"}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Len(t, p.Parameters, 2)
				require.Equal(t, "n", p.Parameters[0].Name)
				require.True(t, p.Parameters[0].HasDefault)
			}},
		{"parameters as schemas", `{"parameters":[{"name":"t","schema":{"type":"number"},"required":true},{"name":"d","default":1}],"steps":[{"id":"a","step_class":"x"}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.True(t, p.Parameters[0].Required)
				require.Equal(t, map[string]any{"type": "number"}, p.Parameters[0].Schema)
				require.Equal(t, 1.0, p.Parameters[1].Default)
			}},
		{"string conditions and else", `{"steps":[{"id":"a","step_class":"x"},{"id":"b","step_class":"x"},{"id":"c","step_class":"x"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"b","condition":"parameter:go"},{"from":"a","to":"c","condition":{"type":"else"}}]}}`,
			func(t *testing.T, p *dag.Pipeline) { require.Equal(t, "parameter:go", p.Edges[0].Condition) }},
		{"end markers", `{"steps":[{"id":"a","step_class":"x"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"end_with_failure","condition":"result.bad == true"},{"from":"a","to":"end"}]}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.True(t, dag.IsEndTarget(p.Edges[0].To))
				require.True(t, dag.IsEndTarget(p.Edges[1].To))
			}},
		{"error handling in config, at step level and as retry", `{"error_handling":{"max_attempts":2},"steps":[{"id":"a","step_class":"x","config":{"error_handling":{"continue_on_error":true,"retry":{"max_attempts":3,"initial_delay":0.5}}},"retry":{"max_delay":9}}],"flow":{"start_at":"a"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				eh := p.Steps[0].ErrorHandling
				require.Equal(t, 3, eh.MaxAttempts)
				require.Equal(t, 0.5, eh.InitialDelay)
				require.Equal(t, 9.0, eh.MaxDelay)
				require.True(t, eh.ContinueOnError)
				require.Equal(t, 2, p.ErrorHandling.MaxAttempts)
			}},
		{"loop config", `{"steps":[{"id":"a","step_class":"x"}],"flow":{"start_at":"a","paths":[{"from":"a","to":"a","condition":"result.again"}]},"loop_config":{"max_iterations":4,"max_loop_time_seconds":60,"iteration_delay_seconds":1,"on_max_iterations":"exit"}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, &dag.LoopConfig{MaxIterations: 4, MaxLoopTimeSeconds: 60, IterationDelaySeconds: 1, OnMaxIterations: "exit"}, p.LoopConfig)
			}},
		{"step types", `{"steps":[{"id":"h","type":"human_input","config":{"prompt":"ok?"}},{"id":"r","type":"condition","conditions":[{"field":"s","operator":"equals","value":1}]}],"flow":{"start_at":"h","paths":[{"from":"h","to":"r"}]}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, dag.StepHumanInput, p.Steps[0].Type)
				require.Equal(t, dag.StepRouter, p.Steps[1].Type)
				require.Len(t, p.Steps[1].Conditions, 1)
			}},
		{"unknown keys preserved", `{"x-team":"ml","steps":[{"id":"a","step_class":"x","input_schema":{"type":"object"}}],"flow":{"start_at":"a"},"metadata":{"k":1}}`,
			func(t *testing.T, p *dag.Pipeline) {
				require.Equal(t, "ml", p.Extra["x-team"])
				require.Equal(t, map[string]any{"type": "object"}, p.Steps[0].Extra["input_schema"])
				require.Equal(t, map[string]any{"k": 1.0}, p.Metadata)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, probs := dag.Parse("d.json", []byte(tc.doc))
			require.NoError(t, probs.Err())
			_, cprobs := dag.Compile(p, nil)
			require.NoError(t, cprobs.Err())
			tc.check(t, p)
		})
	}
}
