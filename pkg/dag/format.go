package dag

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
)

// Format renders p as canonical JSON: two-space indent, a fixed key order,
// empty fields omitted and dialect synonyms replaced by their canonical
// spelling (from_step → from, class → step_class, transitions → paths,
// inputs and parameters in list form). Unknown keys are kept, sorted, after
// the known ones. Format is idempotent: formatting the parse of its output
// gives the same bytes.
func Format(p *Pipeline) ([]byte, error) {
	if p == nil {
		return nil, fmt.Errorf("format: %w: nil pipeline", ErrInvalid)
	}
	doc := ordered{}
	doc.str("name", p.Name)
	doc.str("description", p.Description)
	doc.str("version", p.Version)
	if len(p.Parameters) > 0 {
		params := make([]any, 0, len(p.Parameters))
		for _, prm := range p.Parameters {
			params = append(params, formatParameter(prm))
		}
		doc.add("parameters", params)
	}
	steps := make([]any, 0, len(p.Steps))
	for _, s := range p.Steps {
		steps = append(steps, formatStep(s))
	}
	doc.add("steps", steps)
	doc.add("flow", formatFlow(p))
	if lc := p.LoopConfig; lc != nil {
		if o := formatLoopConfig(lc); len(o) > 0 {
			doc.add("loop_config", o)
		}
	}
	if eh := p.ErrorHandling; eh != nil {
		if o := formatErrorHandling(eh); len(o) > 0 {
			doc.add("error_handling", o)
		}
	}
	if p.TimeoutSeconds != 0 {
		doc.add("timeout_seconds", p.TimeoutSeconds)
	}
	if len(p.Outputs) > 0 {
		outs := make(ordered, 0, len(p.Outputs))
		for _, o := range p.Outputs {
			outs = append(outs, member{o.Name, o.Value})
		}
		doc.add("outputs", outs)
	}
	if len(p.Metadata) > 0 {
		doc.add("metadata", p.Metadata)
	}
	doc.extra(p.Extra)

	var buf bytes.Buffer
	if err := writeJSON(&buf, doc, ""); err != nil {
		return nil, fmt.Errorf("format %s: %w", p.File, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func formatParameter(prm *Parameter) ordered {
	o := ordered{{"name", prm.Name}}
	o.str("description", prm.Description)
	if prm.Schema != nil {
		o.add("schema", prm.Schema)
	}
	if prm.Required {
		o.add("required", true)
	}
	if prm.HasDefault {
		// A null default is still a default (the dict form allows it).
		o.add("default", prm.Default)
	}
	return o
}

func formatStep(s *Step) ordered {
	o := ordered{}
	o.str("id", s.ID)
	o.str("name", s.Name)
	if s.Type != StepTask {
		o.str("type", s.Type)
	}
	o.str("step_class", s.Class)
	o.str("module", s.Module)
	o.str("description", s.Description)
	if len(s.Config) > 0 {
		o.add("config", s.Config)
	}
	if len(s.Inputs) > 0 {
		ins := make([]any, 0, len(s.Inputs))
		for _, in := range s.Inputs {
			x := ordered{{"name", in.Name}}
			if in.Source != nil {
				x.add("source", in.Source)
			}
			if in.Required {
				x.add("required", true)
			}
			if in.Schema != nil {
				x.add("schema", in.Schema)
			}
			x.extra(in.Extra)
			ins = append(ins, x)
		}
		o.add("inputs", ins)
	}
	if len(s.Outputs) > 0 {
		outs := make([]any, 0, len(s.Outputs))
		for _, d := range s.Outputs {
			if d.Bare {
				outs = append(outs, d.Name)
				continue
			}
			x := ordered{{"name", d.Name}}
			if d.Required {
				x.add("required", true)
			}
			if d.Schema != nil {
				x.add("schema", d.Schema)
			}
			x.extra(d.Extra)
			outs = append(outs, x)
		}
		o.add("outputs", outs)
	}
	if len(s.Conditions) > 0 {
		o.add("conditions", s.Conditions)
	}
	if eh := stepOwnErrorHandling(s); eh != nil {
		if x := formatErrorHandling(eh); len(x) > 0 {
			o.add("error_handling", x)
		}
	}
	if s.TimeoutSeconds != 0 {
		o.add("timeout_seconds", s.TimeoutSeconds)
	}
	o.str("queue", s.Queue)
	o.extra(s.Extra)
	return o
}

// stepOwnErrorHandling returns the part of a step's policy that is not
// already written in config.error_handling. Parse merges both places, and
// config is emitted verbatim (Python steps read it), so writing the merged
// policy again would duplicate retry_on lists on every round trip.
func stepOwnErrorHandling(s *Step) *ErrorHandling {
	eh := s.ErrorHandling
	if eh == nil || s.Config == nil {
		return eh
	}
	raw, ok := s.Config["error_handling"]
	if !ok || raw == nil {
		return eh
	}
	base := (parser{r: &reporter{}}).errorHandling("", "", raw)
	if base == nil {
		return eh
	}
	own := &ErrorHandling{
		MaxAttempts:     eh.MaxAttempts,
		InitialDelay:    eh.InitialDelay,
		MaxDelay:        eh.MaxDelay,
		Multiplier:      eh.Multiplier,
		Jitter:          eh.Jitter,
		ContinueOnError: eh.ContinueOnError,
		RetryOn:         trimPrefix(eh.RetryOn, base.RetryOn),
		NoRetryOn:       trimPrefix(eh.NoRetryOn, base.NoRetryOn),
	}
	// Merging keeps the first policy's unknown keys, which are in config.
	base.Extra = nil
	if reflect.DeepEqual(withoutLists(own), withoutLists(base)) && len(own.RetryOn) == 0 && len(own.NoRetryOn) == 0 {
		return nil
	}
	return own
}

func trimPrefix(list, prefix []string) []string {
	if len(prefix) <= len(list) && slices.Equal(list[:len(prefix)], prefix) {
		return list[len(prefix):]
	}
	return list
}

func withoutLists(eh *ErrorHandling) ErrorHandling {
	c := *eh
	c.RetryOn, c.NoRetryOn, c.Extra = nil, nil, nil
	return c
}

func formatErrorHandling(eh *ErrorHandling) ordered {
	retry := ordered{}
	if eh.MaxAttempts != 0 {
		retry.add("max_attempts", eh.MaxAttempts)
	}
	if eh.InitialDelay != 0 {
		retry.add("initial_delay", eh.InitialDelay)
	}
	if eh.MaxDelay != 0 {
		retry.add("max_delay", eh.MaxDelay)
	}
	if eh.Multiplier != 0 {
		retry.add("exponential_base", eh.Multiplier)
	}
	if eh.Jitter != nil {
		retry.add("jitter", *eh.Jitter)
	}
	o := ordered{}
	if len(retry) > 0 {
		o.add("retry", retry)
	}
	if eh.ContinueOnError {
		o.add("continue_on_error", true)
	}
	if len(eh.RetryOn) > 0 {
		o.add("retry_on", eh.RetryOn)
	}
	if len(eh.NoRetryOn) > 0 {
		o.add("no_retry_on", eh.NoRetryOn)
	}
	o.extra(eh.Extra)
	return o
}

func formatFlow(p *Pipeline) ordered {
	o := ordered{}
	o.str("start_at", p.StartAt)
	if len(p.Edges) > 0 {
		paths := make([]any, 0, len(p.Edges))
		for _, e := range p.Edges {
			x := ordered{{"from", e.From}, {"to", e.To}}
			if e.Condition != nil {
				x.add("condition", e.Condition)
			}
			x.extra(e.Extra)
			paths = append(paths, x)
		}
		o.add("paths", paths)
	}
	o.extra(p.FlowExtra)
	return o
}

func formatLoopConfig(lc *LoopConfig) ordered {
	o := ordered{}
	if lc.MaxIterations != 0 {
		o.add("max_iterations", lc.MaxIterations)
	}
	if lc.MaxLoopTimeSeconds != 0 {
		o.add("max_loop_time_seconds", lc.MaxLoopTimeSeconds)
	}
	if lc.IterationDelaySeconds != 0 {
		o.add("iteration_delay_seconds", lc.IterationDelaySeconds)
	}
	o.str("on_max_iterations", lc.OnMaxIterations)
	o.extra(lc.Extra)
	return o
}

// ordered is a JSON object that keeps its keys in insertion order.
type ordered []member

type member struct {
	key   string
	value any
}

func (o *ordered) add(k string, v any) { *o = append(*o, member{k, v}) }

func (o *ordered) str(k, v string) {
	if v != "" {
		o.add(k, v)
	}
}

// extra appends unknown keys sorted, so the output does not depend on map
// iteration order.
func (o *ordered) extra(m map[string]any) {
	for _, k := range sortedKeys(m) {
		o.add(k, m[k])
	}
}

// writeJSON writes v indented by two spaces per level. It is hand-rolled
// rather than json.MarshalIndent so that ordered objects keep their order
// and "<", ">" and "&" in templates and expressions stay readable.
func writeJSON(b *bytes.Buffer, v any, indent string) error {
	inner := indent + "  "
	switch x := v.(type) {
	case ordered:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, m := range x {
			b.WriteString(inner)
			writeString(b, m.key)
			b.WriteString(": ")
			if err := writeJSON(b, m.value, inner); err != nil {
				return err
			}
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case map[string]any:
		o := make(ordered, 0, len(x))
		o.extra(x)
		return writeJSON(b, o, indent)
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner)
			if err := writeJSON(b, e, inner); err != nil {
				return err
			}
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case []string:
		l := make([]any, len(x))
		for i, s := range x {
			l[i] = s
		}
		return writeJSON(b, l, indent)
	case string:
		writeString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case nil, bool, float64, json.Number:
		enc, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("encode %v: %w", x, err)
		}
		b.Write(enc)
	default:
		return fmt.Errorf("cannot encode %T", v)
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode appends a newline
}
