package worker

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/internal/jsonx"
)

// Task is the message a scheduler sends to start one attempt of one step.
type Task struct {
	RunID     string `json:"run_id"`
	StepID    string `json:"step_id"`
	Iteration int    `json:"iteration"`
	Attempt   int    `json:"attempt"`
	Class     string `json:"class,omitempty"`
	Module    string `json:"module,omitempty"`
	// Data is the merged view with declared inputs on top; DataRef names a
	// blob holding it instead when it is large.
	Data    map[string]any `json:"data,omitempty"`
	DataRef string         `json:"data_ref,omitempty"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Config  map[string]any `json:"config,omitempty"`
	// TimeoutMS bounds the attempt (0: the worker's default).
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// AppendJSON appends t's JSON, the bytes json.Marshal(t) gives, without
// reflection: a scheduler encodes a task at every step start.
func (t *Task) AppendJSON(b []byte) ([]byte, error) {
	b = jsonx.AppendString(append(b, `{"run_id":`...), t.RunID)
	b = jsonx.AppendString(append(b, `,"step_id":`...), t.StepID)
	b = strconv.AppendInt(append(b, `,"iteration":`...), int64(t.Iteration), 10)
	b = strconv.AppendInt(append(b, `,"attempt":`...), int64(t.Attempt), 10)
	if t.Class != "" {
		b = jsonx.AppendString(append(b, `,"class":`...), t.Class)
	}
	if t.Module != "" {
		b = jsonx.AppendString(append(b, `,"module":`...), t.Module)
	}
	var err error
	if b, err = appendMap(b, `,"data":`, t.Data); err != nil {
		return nil, err
	}
	if t.DataRef != "" {
		b = jsonx.AppendString(append(b, `,"data_ref":`...), t.DataRef)
	}
	if b, err = appendMap(b, `,"inputs":`, t.Inputs); err != nil {
		return nil, err
	}
	if b, err = appendMap(b, `,"config":`, t.Config); err != nil {
		return nil, err
	}
	if t.TimeoutMS != 0 {
		b = strconv.AppendInt(append(b, `,"timeout_ms":`...), t.TimeoutMS, 10)
	}
	return append(b, '}'), nil
}

// appendMap appends an omitempty map field.
func appendMap(b []byte, key string, m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return b, nil
	}
	return jsonx.AppendValue(append(b, key...), m)
}

// DecodeTask decodes a task's JSON into t, as json.Unmarshal does (the
// same result, the same errors), without reflection for the tasks a
// scheduler writes: a worker decodes one per step.
func DecodeTask(b []byte, t *Task) error {
	_, err := decodeTask(b, t)
	return err
}

// decodeTask is DecodeTask that also returns the bytes of the task's
// inputs when it decoded them itself (for Completion.Input).
func decodeTask(b []byte, t *Task) (json.RawMessage, error) {
	*t = Task{}
	var inputs []byte
	s := jsonx.NewScanner(b)
	obj := func(dst *map[string]any) (ok bool) { *dst, ok = s.ReadMap(); return ok }
	// Anything else (another key, or a key seen twice, whose map
	// encoding/json would merge) is left to encoding/json.
	ok := s.ReadStruct(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "run_id":
			return 1 << 0, s.ReadStringInto(&t.RunID)
		case "step_id":
			return 1 << 1, s.ReadStringInto(&t.StepID)
		case "iteration":
			return 1 << 2, s.ReadIntInto(&t.Iteration)
		case "attempt":
			return 1 << 3, s.ReadIntInto(&t.Attempt)
		case "class":
			return 1 << 4, s.ReadStringInto(&t.Class)
		case "module":
			return 1 << 5, s.ReadStringInto(&t.Module)
		case "data":
			return 1 << 6, obj(&t.Data)
		case "data_ref":
			return 1 << 7, s.ReadStringInto(&t.DataRef)
		case "inputs":
			t.Inputs, inputs, ok = s.ReadMapRaw()
			return 1 << 8, ok
		case "config":
			return 1 << 9, obj(&t.Config)
		case "timeout_ms":
			t.TimeoutMS, ok = s.ReadInt()
			return 1 << 10, ok
		}
		return 0, false
	}) && s.Done()
	if ok {
		return inputs, nil
	}
	*t = Task{}
	return nil, json.Unmarshal(b, t)
}

// Completion is the message a worker sends when an attempt ends.
type Completion struct {
	RunID     string `json:"run_id"`
	StepID    string `json:"step_id"`
	Iteration int    `json:"iteration"`
	Attempt   int    `json:"attempt"`
	WorkerID  string `json:"worker_id,omitempty"`
	// Output is the step's output; OutputRef names a blob holding it
	// instead when it is larger than the inline limit.
	Output    json.RawMessage `json:"output,omitempty"`
	OutputRef string          `json:"output_ref,omitempty"`
	// Input echoes the task's inputs as it carried them, when they are at
	// most EchoInputLimit bytes: a scheduler that held back its record of
	// the attempt's start (scheduler.Config.AttemptRecordDelay) and lost it
	// in a crash still writes them.
	Input     json.RawMessage `json:"input,omitempty"`
	Error     *Failure        `json:"error,omitempty"`
	StartedAt time.Time       `json:"started_at"`
	EndedAt   time.Time       `json:"ended_at"`
	// Kind distinguishes control events sent on the same queue ("" is a
	// step completion): "timeout", "human_decision", "cancel", "resume".
	Kind string `json:"kind,omitempty"`
	// Scheduler names the scheduler that decided the task (HeaderScheduler),
	// to which another scheduler hands the completion on.
	Scheduler string `json:"scheduler,omitempty"`
	// Durable is set by a scheduler that hands the completion on to that
	// one while it holds it as a broker delivery, which the broker delivers
	// again until it is acknowledged: the receiver may then publish the
	// tasks of the decision it leads to before committing it.
	Durable bool `json:"durable,omitempty"`
}

// EchoInputLimit is the largest Completion.Input a worker sends back.
const EchoInputLimit = 4 << 10

// Failure describes a failed attempt.
type Failure struct {
	Message      string `json:"message"`
	Code         string `json:"code,omitempty"`
	Retryable    bool   `json:"retryable"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	Snooze       bool   `json:"snooze,omitempty"`
}

// TaskMsgID is the broker de-duplication id of a task: one per attempt.
func TaskMsgID(runID, stepID string, iteration, attempt int) string {
	return attemptID("task.", runID, stepID, iteration, attempt)
}

// CompletionMsgID is the de-duplication id of an attempt's completion, so a
// worker that re-runs a redelivered task does not report it twice.
func CompletionMsgID(runID, stepID string, iteration, attempt int) string {
	return attemptID("done.", runID, stepID, iteration, attempt)
}

// attemptID is prefix + "RUN.STEP.ITERATION.ATTEMPT", built without fmt:
// two per step.
func attemptID(prefix, runID, stepID string, iteration, attempt int) string {
	b := make([]byte, 0, len(prefix)+len(runID)+len(stepID)+24)
	b = append(append(append(append(b, prefix...), runID...), '.'), stepID...)
	b = strconv.AppendInt(append(b, '.'), int64(iteration), 10)
	b = strconv.AppendInt(append(b, '.'), int64(attempt), 10)
	return string(b)
}
