package worker_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

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

// TestEncodeCompletion: a completion's encoding is json.Marshal's, whether
// written by hand or handed to encoding/json.
func TestEncodeCompletion(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 28, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	for name, c := range map[string]worker.Completion{
		"zero":     {},
		"success":  {RunID: "r", StepID: "s", Iteration: 1, Attempt: 2, WorkerID: "w", Output: json.RawMessage(`{"n":1}`), Input: json.RawMessage(`{"q":[1,"a"]}`), StartedAt: at, EndedAt: at.Add(time.Millisecond).UTC()},
		"failure":  {RunID: "r\"<", StepID: "s", Error: &worker.Failure{Message: "boom\n", Code: "c", Retryable: true, RetryAfterMS: 250, Snooze: true}, Kind: "timeout"},
		"bare err": {Error: &worker.Failure{}},
		"ref":      {OutputRef: "output/r/s/0/1", Output: json.RawMessage(`null`)},
		"spaces":   {Output: json.RawMessage(`{ "a" : 1 }`)},
		"html":     {Output: json.RawMessage(`"<b>&"`), Input: json.RawMessage(`{"x":"\u2028"}`)},
		"year 0":   {StartedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkEncodeCompletion(t, &c)
			// What workers send is written without reflection.
			require.Equal(t, name != "spaces" && name != "html", worker.EncodesCompletion(&c))
		})
	}
	t.Run("year 10000", func(t *testing.T) {
		t.Parallel()
		checkEncodeCompletion(t, &worker.Completion{EndedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	})
}

func checkEncodeCompletion(t *testing.T, c *worker.Completion) {
	want, werr := json.Marshal(c)
	got, err := worker.EncodeCompletion(c)
	if werr != nil {
		require.EqualError(t, err, werr.Error())
		return
	}
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

// TestDecodeCompletion: the completions workers write, and others, decode
// as json.Unmarshal decodes them.
func TestDecodeCompletion(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"written":         `{"run_id":"r","step_id":"s","iteration":1,"attempt":2,"worker_id":"w","output":{"n":[1,null]},"input":{"q":1},"started_at":"2026-11-28T03:04:05.123456789+01:00","ended_at":"2026-11-28T02:04:05.124Z"}`,
		"failure":         `{"run_id":"r","error":{"message":"m","code":"c","retryable":true,"retry_after_ms":250,"snooze":false},"started_at":"2026-11-28T03:04:05Z","ended_at":"2026-11-28T03:04:05Z","kind":"timeout","scheduler":"host_1-2-ab","durable":true}`,
		"durable false":   `{"run_id":"r","durable":false}`,
		"durable string":  `{"durable":"true"}`,
		"durable null":    `{"durable":null}`,
		"nulls":           `{"output":null,"input":null,"error":null}`,
		"null time":       `{"started_at":null}`,
		"spaces":          ` { "output" : [ 1 , 2 ] , "error" : { } } `,
		"unknown key":     `{"run_id":"r","other":1}`,
		"case folded":     `{"Run_Id":"r","ERROR":{"Message":"m"}}`,
		"repeated error":  `{"error":{"message":"a"},"error":{"code":"b"}}`,
		"repeated in err": `{"error":{"code":"a","code":"b"}}`,
		"float for int":   `{"error":{"retry_after_ms":1.0}}`,
		"big int":         `{"error":{"retry_after_ms":99999999999999999999}}`,
		"string for bool": `{"error":{"retryable":"true"}}`,
		"bad time":        `{"started_at":"yesterday"}`,
		"number time":     `{"ended_at":5}`,
		"escaped time":    `{"ended_at":"2026-11-28T03:04:05\u005a"}`,
		"not an object":   `"x"`,
		"trailing":        `{} {}`,
		"invalid raw":     `{"output":{"a":}}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkCompletionJSON(t, []byte(doc))
			if name == "written" || name == "failure" || name == "nulls" || name == "spaces" || name == "durable false" {
				require.True(t, worker.DecodesCompletion([]byte(doc)), "decoded without reflection")
			}
		})
	}
}

// checkCompletionJSON checks DecodeCompletion against json.Unmarshal and,
// for a document both accept, encodeCompletion against json.Marshal.
func checkCompletionJSON(t *testing.T, doc []byte) {
	var want worker.Completion
	werr := json.Unmarshal(doc, &want)
	var got worker.Completion
	err := worker.DecodeCompletion(doc, &got)
	if werr != nil {
		require.EqualError(t, err, werr.Error())
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
	checkEncodeCompletion(t, &got)
}

func FuzzCompletionJSON(f *testing.F) {
	for _, seed := range []string{
		`{"run_id":"r","step_id":"s","iteration":0,"attempt":1,"worker_id":"w","output":{"x":1.5},"input":{"q":"<"},"started_at":"2026-11-28T03:04:05.5Z","ended_at":"2026-11-28T03:04:05.6+02:00"}`,
		`{"error":{"message":"m","retryable":false,"retry_after_ms":-0},"kind":"resume","scheduler":"s-1","durable":true}`,
		`{"RUN_ID":"r"}`, `{"error":{"message":"a"},"error":null}`, `{"output":"\u2028"}`, `null`, `{}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(checkCompletionJSON)
}
