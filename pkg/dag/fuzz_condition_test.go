package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCondition decodes arbitrary JSON, compiles it as a condition and
// evaluates it; the raw bytes are also compiled as a string condition (an
// expr-lang expression). Nothing may panic. Seeds live in
// testdata/fuzz/FuzzCondition.
func FuzzCondition(f *testing.F) {
	f.Add([]byte(`{"type": "expression", "config": {"source": "counter", "operator": ">=", "value": "{{ parameters.threshold }}"}}`))

	scope := conditionScope()
	opts := &ConditionOptions{Functions: Functions{
		"f": func(_ Scope, p map[string]any) (bool, error) { return Truthy(p["x"]), nil },
	}}
	check := func(t *testing.T, raw any, opts *ConditionOptions) {
		t.Helper()
		c, err := CompileCondition(raw, opts)
		if err != nil {
			if !errors.Is(err, ErrBadCondition) && !errors.Is(err, ErrUnknownConditionType) && !errors.Is(err, ErrUnknownOperator) {
				t.Fatalf("CompileCondition(%#v): error %v wraps no sentinel", raw, err)
			}
			return
		}
		_ = c.Eval(scope)
		_ = c.Eval(nil)
		_ = c.Eval(MapScope{})
		if c.Kind() == "" || c.String() == "" {
			t.Fatalf("CompileCondition(%#v): empty kind %q or label %q", raw, c.Kind(), c.String())
		}
		if c.IsElse() && c.Eval(scope) {
			t.Fatalf("else condition evaluated to true")
		}
		for _, ref := range c.Refs() {
			if len(ref) == 0 {
				t.Fatalf("CompileCondition(%#v): empty reference", raw)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var raw any
		if json.Unmarshal(data, &raw) == nil {
			check(t, raw, nil)
			check(t, raw, opts)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var num any
		if dec.Decode(&num) == nil {
			check(t, num, opts)
		}
		check(t, string(data), opts)
	})
}
