package worker_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/worker"
)

// TestTaskAppendJSON: a task's hand-written encoding is json.Marshal's.
func TestTaskAppendJSON(t *testing.T) {
	t.Parallel()
	for name, task := range map[string]worker.Task{
		"bare":    {RunID: "r", StepID: "s"},
		"chain":   {RunID: "01a21f3a-df11", StepID: "s2", Iteration: 1, Attempt: 1, Class: "noop", Data: map[string]any{"s1": map[string]any{"x": 1.5}, "x": 1.5}},
		"full":    {RunID: "r<&>", StepID: "s\"", Iteration: 3, Attempt: 2, Class: "c", Module: "m.py", DataRef: "input/r/s/3/2", Inputs: map[string]any{"q": []any{"a", nil, true}}, Config: map[string]any{"k": "v"}, TimeoutMS: 1500},
		"empties": {RunID: "r", StepID: "s", Data: map[string]any{}, Inputs: map[string]any{}, Config: nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := json.Marshal(task)
			require.NoError(t, err)
			got, err := task.AppendJSON(nil)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
	_, err := (&worker.Task{Data: map[string]any{"nan": math.NaN()}}).AppendJSON(nil)
	require.Error(t, err, "what json.Marshal cannot encode")
}
