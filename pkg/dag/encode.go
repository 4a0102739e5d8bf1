package dag

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"time"

	"github.com/ia-modules/ia-go/internal/jsonx"
)

// StateEncoder encodes run states to JSON. A scheduler persists the whole
// run state after every decision, so this is on the hot path: Append writes
// exactly what encoding/json writes for a RunState, without reflection, and
// encodes each step output, the input and the parameters once, reusing the
// bytes while the value is the same map or slice (the engine never mutates
// one in place). Keep one encoder per run; the zero value is ready, and a
// nil encoder caches nothing. Not safe for concurrent use.
type StateEncoder struct {
	input, params jsonCache
	outputs       []jsonCache
	// entries holds each step's last encoding: most steps of a run do not
	// change from one decision to the next.
	entries []stepEntry
	last    int // length of the last encoding, to size the next
}

// stepEntry is a step's encoding and what it was encoded from.
type stepEntry struct {
	of  stepKey
	out any // the output, when it can be compared (see sameOutput)
	raw []byte
}

// stepKey is a StepState without its output: comparable.
type stepKey struct {
	status                      StepStatus
	iteration, attempt, snoozes int
	errMsg                      string
	seq                         int64
	resolved, taken, epoch, via int
	startedAt, finishedAt       time.Time
}

func keyOfStep(s *StepState) stepKey {
	return stepKey{s.Status, s.Iteration, s.Attempt, s.Snoozes, s.Error, s.Seq, s.Resolved, s.Taken, s.Epoch, s.Via, s.StartedAt, s.FinishedAt}
}

// sameOutput reports whether b is the output a was: the same map or slice,
// or an equal scalar. Other values never match (and are encoded again).
func sameOutput(a, b any) bool {
	switch x := b.(type) {
	case nil:
		return a == nil
	case string, float64, bool:
		return a == x
	}
	return a != nil && sameRef(a, b)
}

// jsonCache is the encoding of one value, valid while the value is the same.
type jsonCache struct {
	of  any
	raw []byte
}

// encode returns v's JSON, reusing the cache when v is the value it holds.
func (c *jsonCache) encode(v any) ([]byte, error) {
	if c.raw != nil && sameRef(c.of, v) {
		return c.raw, nil
	}
	raw, err := jsonx.AppendValue(nil, v)
	if err != nil {
		return nil, err
	}
	if isRef(v) {
		c.of, c.raw = v, raw
	}
	return raw, nil
}

// isRef reports values compared by identity: non-empty maps and slices.
// Scalars are cheap to encode again, and an identity test on them would
// compare values.
func isRef(v any) bool {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Slice:
		return reflect.ValueOf(v).Len() > 0
	}
	return false
}

func sameRef(a, b any) bool {
	if a == nil || b == nil || !isRef(b) {
		return false
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Type() == vb.Type() && va.UnsafePointer() == vb.UnsafePointer() && va.Len() == vb.Len()
}

// Append appends st's JSON encoding to b: the bytes json.Marshal(st) would
// produce.
func (e *StateEncoder) Append(b []byte, st *RunState) ([]byte, error) {
	if e == nil {
		e = &StateEncoder{}
	}
	if len(e.outputs) != len(st.Steps) {
		e.outputs = make([]jsonCache, len(st.Steps))
		e.entries = make([]stepEntry, len(st.Steps))
	}
	if need := e.last + 256; cap(b)-len(b) < need {
		// Twice what the last state took: a run's state grows by a step's
		// entry per decision, and its buffer is reused from one to the next.
		b = append(make([]byte, 0, len(b)+2*need), b...)
	}
	start := len(b)
	b = append(b, `{"run_id":`...)
	b = jsonx.AppendString(b, st.RunID)
	b = append(b, `,"status":`...)
	b = jsonx.AppendString(b, string(st.Status))
	if st.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonx.AppendString(b, st.Error)
	}
	raw, err := e.input.encode(st.Input)
	if err != nil {
		return nil, err
	}
	b = append(append(b, `,"input":`...), raw...)
	if raw, err = e.params.encode(st.Params); err != nil {
		return nil, err
	}
	b = append(append(b, `,"params":`...), raw...)
	b = append(b, `,"steps":`...)
	if st.Steps == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range st.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			s, en := &st.Steps[i], &e.entries[i]
			k := keyOfStep(s)
			if en.raw != nil && en.of == k && sameOutput(en.out, s.Output) {
				b = append(b, en.raw...)
				continue
			}
			at := len(b)
			if b, err = appendStep(b, s, &e.outputs[i]); err != nil {
				return nil, err
			}
			en.of, en.out, en.raw = k, s.Output, append(en.raw[:0], b[at:]...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"edges":`...)
	if st.Edges == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, st.Edges)
		b = append(b, '"')
	}
	if len(st.Loops) > 0 {
		if raw, err = json.Marshal(st.Loops); err != nil {
			return nil, err
		}
		b = append(append(b, `,"loops":`...), raw...)
	}
	b = append(b, `,"active":`...)
	b = strconv.AppendInt(b, int64(st.Active), 10)
	b = append(b, `,"waiting":`...)
	b = strconv.AppendInt(b, int64(st.Waiting), 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, st.Seq, 10)
	b = append(b, `,"executions":`...)
	b = strconv.AppendInt(b, int64(st.Executions), 10)
	if st.Resumes != 0 {
		b = append(b, `,"resumes":`...)
		b = strconv.AppendInt(b, int64(st.Resumes), 10)
	}
	if st.Output != nil {
		if raw, err = jsonx.AppendValue(nil, st.Output); err != nil {
			return nil, err
		}
		b = append(append(b, `,"output":`...), raw...)
	}
	b = append(b, '}')
	e.last = len(b) - start
	return b, nil
}

func appendStep(b []byte, s *StepState, out *jsonCache) ([]byte, error) {
	b = append(b, `{"status":`...)
	b = jsonx.AppendString(b, string(s.Status))
	b = appendInt(b, `,"iteration":`, int64(s.Iteration))
	b = appendInt(b, `,"attempt":`, int64(s.Attempt))
	b = appendInt(b, `,"snoozes":`, int64(s.Snoozes))
	if s.Output != nil {
		raw, err := out.encode(s.Output)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"output":`...), raw...)
	}
	if s.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonx.AppendString(b, s.Error)
	}
	b = appendInt(b, `,"seq":`, s.Seq)
	b = appendInt(b, `,"resolved":`, int64(s.Resolved))
	b = appendInt(b, `,"taken":`, int64(s.Taken))
	b = appendInt(b, `,"epoch":`, int64(s.Epoch))
	b = appendInt(b, `,"via":`, int64(s.Via))
	b = appendTime(b, `,"started_at":`, s.StartedAt)
	b = appendTime(b, `,"finished_at":`, s.FinishedAt)
	return append(b, '}'), nil
}

// appendInt appends an omitempty integer field.
func appendInt(b []byte, key string, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), n, 10)
}

// appendTime appends an omitzero time field as time.Time.MarshalJSON does.
func appendTime(b []byte, key string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(append(b, key...), '"')
	return append(t.AppendFormat(b, time.RFC3339Nano), '"')
}
