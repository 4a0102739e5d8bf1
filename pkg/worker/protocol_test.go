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

// TestDecodeTask: the tasks a scheduler writes, and others, decode as
// json.Unmarshal decodes them.
func TestDecodeTask(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"written":          `{"run_id":"r","step_id":"s\n","iteration":2,"attempt":1,"class":"c","module":"m","data":{"a":[1,"x",null]},"data_ref":"ref","inputs":{"q":true},"config":{"k":{}},"timeout_ms":1500}`,
		"spaces and nulls": ` { "run_id" : "r" , "data" : null , "inputs" : { } } `,
		"unknown key":      `{"run_id":"r","other":1}`,
		"case folded key":  `{"RUN_ID":"r","Step_Id":"s"}`,
		"repeated map":     `{"data":{"a":1},"data":{"b":2}}`,
		"string for int":   `{"attempt":"1"}`,
		"float for int":    `{"attempt":1.0}`,
		"null string":      `{"run_id":null}`,
		"not an object":    `[1]`,
		"trailing":         `{"run_id":"r"} x`,
		"overflow":         `{"timeout_ms":99999999999999999999}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkDecodeTask(t, []byte(doc))
		})
	}
}

func checkDecodeTask(t *testing.T, doc []byte) {
	var want worker.Task
	werr := json.Unmarshal(doc, &want)
	var got worker.Task
	err := worker.DecodeTask(doc, &got)
	if werr != nil {
		require.EqualError(t, err, werr.Error())
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func FuzzDecodeTask(f *testing.F) {
	for _, seed := range []string{
		`{"run_id":"r","step_id":"s","iteration":0,"attempt":1,"class":"noop","data":{"s1":{"x":1.5}},"timeout_ms":5}`,
		`{"Run_ID":"r"}`, `{"data":{"a":1},"data":{"b":2}}`, `{"attempt":-0}`, `null`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkDecodeTask)
}

func TestMsgIDs(t *testing.T) {
	t.Parallel()
	require.Equal(t, "task.r-1.s.2.3", worker.TaskMsgID("r-1", "s", 2, 3))
	require.Equal(t, "done.r-1.s.0.-1", worker.CompletionMsgID("r-1", "s", 0, -1))
}
