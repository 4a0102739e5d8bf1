package worker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/internal/jsonx"
)

// EncodeCompletion returns c's JSON, as json.Marshal(c) does, faster.
func EncodeCompletion(c *Completion) ([]byte, error) { return encodeCompletion(c) }

// encodeCompletion returns c's JSON, the bytes json.Marshal(c) gives, and
// its error; a worker encodes one per step. The common completion is
// written without reflection; one whose raw fields would need compacting or
// escaping, or whose times json.Marshal refuses, goes to encoding/json.
func encodeCompletion(c *Completion) ([]byte, error) {
	if b, ok := c.appendJSON(make([]byte, 0, 256+len(c.Output)+len(c.Input))); ok {
		return b, nil
	}
	return json.Marshal(c)
}

// appendJSON appends c's JSON, or returns false when it leaves c to
// encoding/json. Output and Input must be valid JSON, as a worker makes
// them (json.Marshal's output, a decoded task's bytes).
func (c *Completion) appendJSON(b []byte) ([]byte, bool) {
	if !plainRaw(c.Output) || !plainRaw(c.Input) {
		return nil, false
	}
	b = jsonx.AppendString(append(b, `{"run_id":`...), c.RunID)
	b = jsonx.AppendString(append(b, `,"step_id":`...), c.StepID)
	b = strconv.AppendInt(append(b, `,"iteration":`...), int64(c.Iteration), 10)
	b = strconv.AppendInt(append(b, `,"attempt":`...), int64(c.Attempt), 10)
	if c.WorkerID != "" {
		b = jsonx.AppendString(append(b, `,"worker_id":`...), c.WorkerID)
	}
	if len(c.Output) > 0 {
		b = append(append(b, `,"output":`...), c.Output...)
	}
	if c.OutputRef != "" {
		b = jsonx.AppendString(append(b, `,"output_ref":`...), c.OutputRef)
	}
	if len(c.Input) > 0 {
		b = append(append(b, `,"input":`...), c.Input...)
	}
	if f := c.Error; f != nil {
		b = jsonx.AppendString(append(b, `,"error":{"message":`...), f.Message)
		if f.Code != "" {
			b = jsonx.AppendString(append(b, `,"code":`...), f.Code)
		}
		b = strconv.AppendBool(append(b, `,"retryable":`...), f.Retryable)
		if f.RetryAfterMS != 0 {
			b = strconv.AppendInt(append(b, `,"retry_after_ms":`...), f.RetryAfterMS, 10)
		}
		if f.Snooze {
			b = append(b, `,"snooze":true`...)
		}
		b = append(b, '}')
	}
	var err error
	if b, err = appendTime(append(b, `,"started_at":`...), c.StartedAt); err != nil {
		return nil, false
	}
	if b, err = appendTime(append(b, `,"ended_at":`...), c.EndedAt); err != nil {
		return nil, false
	}
	if c.Kind != "" {
		b = jsonx.AppendString(append(b, `,"kind":`...), c.Kind)
	}
	if c.Scheduler != "" {
		b = jsonx.AppendString(append(b, `,"scheduler":`...), c.Scheduler)
	}
	if c.Durable {
		b = append(b, `,"durable":true`...)
	}
	return append(b, '}'), true
}

// plainRaw reports whether raw JSON goes out as it is: json.Marshal
// compacts a json.RawMessage and escapes <, > and & (and U+2028, U+2029,
// which start with 0xE2) in it.
func plainRaw(raw json.RawMessage) bool {
	return bytes.IndexAny(raw, " \t\n\r<>&\xe2") < 0
}

// appendTime appends t as time.Time's MarshalJSON does, with its error.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b, err := t.AppendText(append(b, '"'))
	return append(b, '"'), err
}

// DecodeCompletion decodes a completion's JSON into c, as json.Unmarshal
// does (the same result, the same errors), without reflection for the
// completions workers write: a scheduler decodes one per step.
func DecodeCompletion(b []byte, c *Completion) error {
	if decodeCompletion(b, c) {
		return nil
	}
	*c = Completion{}
	return json.Unmarshal(b, c)
}

func decodeCompletion(b []byte, c *Completion) bool {
	*c = Completion{}
	s := jsonx.NewScanner(b)
	raw := func(dst *json.RawMessage) bool {
		r, ok := s.ReadRaw()
		*dst = append(json.RawMessage(nil), r...)
		return ok
	}
	tm := func(dst *time.Time) bool {
		r, ok := s.ReadRaw()
		// A string goes to time.Time's UnmarshalJSON, as encoding/json
		// hands it over; anything else (null, a number) to encoding/json.
		return ok && len(r) > 0 && r[0] == '"' && dst.UnmarshalJSON(r) == nil
	}
	// Anything else (another key, or a key seen twice, which encoding/json
	// would merge into the failure) is left to encoding/json.
	return s.ReadStruct(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "run_id":
			return 1 << 0, s.ReadStringInto(&c.RunID)
		case "step_id":
			return 1 << 1, s.ReadStringInto(&c.StepID)
		case "iteration":
			return 1 << 2, s.ReadIntInto(&c.Iteration)
		case "attempt":
			return 1 << 3, s.ReadIntInto(&c.Attempt)
		case "worker_id":
			return 1 << 4, s.ReadStringInto(&c.WorkerID)
		case "output":
			return 1 << 5, raw(&c.Output)
		case "output_ref":
			return 1 << 6, s.ReadStringInto(&c.OutputRef)
		case "input":
			return 1 << 7, raw(&c.Input)
		case "error":
			c.Error, ok = decodeFailure(s)
			return 1 << 8, ok
		case "started_at":
			return 1 << 9, tm(&c.StartedAt)
		case "ended_at":
			return 1 << 10, tm(&c.EndedAt)
		case "kind":
			return 1 << 11, s.ReadStringInto(&c.Kind)
		case "scheduler":
			return 1 << 12, s.ReadStringInto(&c.Scheduler)
		case "durable":
			r, ok := s.ReadRaw()
			c.Durable = string(r) == "true"
			return 1 << 13, ok && (c.Durable || string(r) == "false")
		}
		return 0, false
	}) && s.Done()
}

// decodeFailure reads a failure object, or null as a nil failure.
func decodeFailure(s *jsonx.Scanner) (*Failure, bool) {
	r, ok := s.ReadRaw()
	if !ok || string(r) == "null" {
		return nil, ok
	}
	f := &Failure{}
	fs := jsonx.NewScanner(r)
	boolean := func(dst *bool) bool {
		v, ok := fs.ReadValue()
		*dst, ok = v.(bool)
		return ok
	}
	ok = fs.ReadStruct(func(key []byte) (bit uint32, ok bool) {
		switch string(key) {
		case "message":
			return 1 << 0, fs.ReadStringInto(&f.Message)
		case "code":
			return 1 << 1, fs.ReadStringInto(&f.Code)
		case "retryable":
			return 1 << 2, boolean(&f.Retryable)
		case "retry_after_ms":
			f.RetryAfterMS, ok = fs.ReadInt()
			return 1 << 3, ok
		case "snooze":
			return 1 << 4, boolean(&f.Snooze)
		}
		return 0, false
	}) && fs.Done()
	return f, ok
}
