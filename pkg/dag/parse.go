package dag

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Parse reads a pipeline document in any IA Modules dialect into the
// canonical model. Structural problems (wrong types, missing keys) are
// returned all at once; the pipeline is nil only when the document is not a
// JSON object at all.
func Parse(file string, data []byte) (*Pipeline, Problems) {
	r := &reporter{file: file}
	var root any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		r.pos = positions{src: data}
		p := Problem{File: file, Severity: SeverityError, Code: "json_syntax",
			Message: "not valid JSON: " + err.Error(), Hint: "fix the JSON syntax"}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			p.Line, p.Col = lineCol(data, int(se.Offset))
		case errors.As(err, &te):
			p.Line, p.Col = lineCol(data, int(te.Offset))
		default:
			p.Line, p.Col = lineCol(data, len(data))
		}
		return nil, Problems{p}
	}
	if dec.More() {
		r.pos = positions{src: data}
		line, col := lineCol(data, int(dec.InputOffset()))
		return nil, Problems{{File: file, Line: line, Col: col, Severity: SeverityError, Code: "json_syntax",
			Message: "unexpected data after the top-level JSON value", Hint: "a pipeline file holds exactly one JSON object"}}
	}
	r.pos = indexPositions(data)
	obj, ok := root.(map[string]any)
	if !ok {
		r.errorf("", "", "not_object", "a pipeline file is one JSON object with steps and flow", "the document is %s, not an object", kindOf(root))
		return nil, r.list
	}
	p := &Pipeline{File: file, pos: r.pos}
	pr := parser{r: r}
	pr.pipeline(p, obj)
	for _, dup := range r.pos.dups {
		key := dup[strings.LastIndexAny(dup, ".")+1:]
		id := ""
		for _, s := range p.Steps {
			if strings.HasPrefix(dup, s.path+".") {
				id = s.ID
			}
		}
		r.errorf(dup, id, "duplicate_key", "remove one of them: JSON keeps only the last", "key %q appears twice", key)
	}
	return p, r.list
}

type parser struct{ r *reporter }

var topKeys = map[string]bool{
	"name": true, "description": true, "version": true, "parameters": true, "steps": true,
	"flow": true, "outputs": true, "loop_config": true, "error_handling": true, "metadata": true,
	"timeout_seconds": true,
}

func (pr parser) pipeline(p *Pipeline, obj map[string]any) {
	p.Name = pr.str(obj, "name", "", "")
	p.Description = pr.str(obj, "description", "", "")
	switch v := obj["version"].(type) {
	case nil:
	case string:
		p.Version = v
	case float64:
		p.Version = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		pr.r.errorf("version", "", "wrong_type", "write the version as a string, e.g. \"1.0.0\"", "version is %s, want a string", kindOf(v))
	}
	p.Extra = extra(obj, topKeys)
	pr.typos("", "", p.Extra, topKeys)
	p.Parameters = pr.parameters(obj["parameters"])
	p.Steps = pr.steps(obj["steps"])
	pr.flow(p, obj["flow"])
	p.Outputs = pr.topOutputs(obj["outputs"])
	if v, ok := obj["loop_config"]; ok && v != nil {
		p.LoopConfig = pr.loopConfig("loop_config", v)
	}
	if v, ok := obj["error_handling"]; ok && v != nil {
		p.ErrorHandling = pr.errorHandling("error_handling", "", v)
	}
	p.TimeoutSeconds = pr.number(obj, "timeout_seconds", "", "")
	if p.TimeoutSeconds < 0 {
		pr.r.errorf("timeout_seconds", "", "bad_value", "use a positive number of seconds (0: no deadline)", "timeout_seconds is %g", p.TimeoutSeconds)
	}
	if v, ok := obj["metadata"]; ok && v != nil {
		if m, ok := v.(map[string]any); ok {
			p.Metadata = m
		} else {
			pr.r.errorf("metadata", "", "wrong_type", "", "metadata is %s, want an object", kindOf(v))
		}
	}
}

func (pr parser) parameters(v any) []*Parameter {
	switch ps := v.(type) {
	case nil:
		return nil
	case map[string]any:
		names := sortedKeys(ps)
		out := make([]*Parameter, 0, len(names))
		for _, n := range names {
			out = append(out, &Parameter{Name: n, Default: ps[n], HasDefault: true, path: joinPath("parameters", n)})
		}
		return out
	case []any:
		out := make([]*Parameter, 0, len(ps))
		for i, e := range ps {
			path := indexPath("parameters", i)
			switch e := e.(type) {
			case string:
				out = append(out, &Parameter{Name: e, path: path})
			case map[string]any:
				prm := &Parameter{path: path}
				prm.Name = pr.str(e, "name", path, "")
				if prm.Name == "" {
					pr.r.errorf(joinPath(path, "name"), "", "missing_name", "give every parameter a \"name\"", "parameter has no name")
					continue
				}
				prm.Required = pr.boolean(e, "required", path, "")
				prm.Description = pr.str(e, "description", path, "")
				prm.Schema = pr.object(e, "schema", path, "")
				if d, ok := e["default"]; ok {
					prm.Default, prm.HasDefault = d, true
				}
				out = append(out, prm)
			default:
				pr.r.errorf(path, "", "wrong_type", "write {\"name\": ..., \"schema\": ..., \"required\": ...}", "parameter is %s, want an object", kindOf(e))
			}
		}
		return out
	default:
		pr.r.errorf("parameters", "", "wrong_type", "use an object of defaults or a list of {name, schema, required, default}", "parameters is %s", kindOf(v))
		return nil
	}
}

var stepKeys = map[string]bool{
	"id": true, "name": true, "type": true, "step_class": true, "class": true, "module": true,
	"config": true, "inputs": true, "outputs": true, "conditions": true, "error_handling": true,
	"retry": true, "timeout_seconds": true, "queue": true, "description": true,
}

func (pr parser) steps(v any) []*Step {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			pr.r.errorf("steps", "", "missing_steps", "add a \"steps\" list", "the pipeline has no steps")
		} else {
			pr.r.errorf("steps", "", "wrong_type", "\"steps\" is a list of step objects", "steps is %s, want a list", kindOf(v))
		}
		return nil
	}
	out := make([]*Step, 0, len(list))
	for i, e := range list {
		path := indexPath("steps", i)
		obj, ok := e.(map[string]any)
		if !ok {
			pr.r.errorf(path, "", "wrong_type", "each step is an object with id, step_class, module", "step is %s, want an object", kindOf(e))
			continue
		}
		s := &Step{path: path}
		s.ID = pr.str(obj, "id", path, "")
		s.Name = pr.str(obj, "name", path, s.ID)
		if s.ID == "" {
			s.ID = s.Name
		}
		if s.ID == "" {
			pr.r.errorf(path, "", "missing_id", "give the step a unique \"id\"", "step has no id")
		}
		s.Type = pr.str(obj, "type", path, s.ID)
		if s.Type == "" {
			s.Type = StepTask
		}
		s.Class = pr.str(obj, "step_class", path, s.ID)
		if s.Class == "" {
			s.Class = pr.str(obj, "class", path, s.ID)
		}
		s.Module = pr.str(obj, "module", path, s.ID)
		s.Description = pr.str(obj, "description", path, s.ID)
		s.Queue = pr.str(obj, "queue", path, s.ID)
		if c, ok := obj["config"]; ok && c != nil {
			s.Config = pr.object(obj, "config", path, s.ID)
		}
		s.Inputs, s.InputsAsMap = pr.inputs(joinPath(path, "inputs"), s.ID, obj["inputs"])
		s.Outputs = pr.stepOutputs(joinPath(path, "outputs"), s.ID, obj["outputs"])
		if c, ok := obj["conditions"]; ok && c != nil {
			if l, ok := c.([]any); ok {
				s.Conditions = l
			} else {
				pr.r.errorf(joinPath(path, "conditions"), s.ID, "wrong_type", "a router's conditions are a list", "conditions is %s, want a list", kindOf(c))
			}
		}
		s.TimeoutSeconds = pr.number(obj, "timeout_seconds", path, s.ID)
		if s.TimeoutSeconds < 0 {
			pr.r.errorf(joinPath(path, "timeout_seconds"), s.ID, "bad_value", "use a positive number of seconds (0: the default)", "timeout_seconds is %g", s.TimeoutSeconds)
		}
		s.ErrorHandling = pr.stepErrorHandling(path, s.ID, obj, s.Config)
		s.Extra = extra(obj, stepKeys)
		pr.typos(path, s.ID, s.Extra, stepKeys)
		out = append(out, s)
	}
	return out
}

// stepErrorHandling merges the three places a step's policy may be written:
// config.error_handling (the reference's), step error_handling, step retry.
func (pr parser) stepErrorHandling(path, id string, obj, config map[string]any) *ErrorHandling {
	var eh *ErrorHandling
	merge := func(p string, v any) {
		got := pr.errorHandling(p, id, v)
		if got == nil {
			return
		}
		if eh == nil {
			eh = got
			return
		}
		eh.overlay(got)
	}
	if config != nil {
		if v, ok := config["error_handling"]; ok && v != nil {
			merge(joinPath(path, "config.error_handling"), v)
		}
	}
	if v, ok := obj["error_handling"]; ok && v != nil {
		merge(joinPath(path, "error_handling"), v)
	}
	if v, ok := obj["retry"]; ok && v != nil {
		merge(joinPath(path, "retry"), map[string]any{"retry": v})
	}
	return eh
}

func (e *ErrorHandling) overlay(o *ErrorHandling) {
	if o.MaxAttempts != 0 {
		e.MaxAttempts = o.MaxAttempts
	}
	if o.InitialDelay != 0 {
		e.InitialDelay = o.InitialDelay
	}
	if o.MaxDelay != 0 {
		e.MaxDelay = o.MaxDelay
	}
	if o.Multiplier != 0 {
		e.Multiplier = o.Multiplier
	}
	if o.Jitter != nil {
		e.Jitter = o.Jitter
	}
	e.ContinueOnError = e.ContinueOnError || o.ContinueOnError
	e.RetryOn = append(e.RetryOn, o.RetryOn...)
	e.NoRetryOn = append(e.NoRetryOn, o.NoRetryOn...)
}

var ehKeys = map[string]bool{
	"retry": true, "max_attempts": true, "attempts": true, "initial_delay": true, "max_delay": true,
	"exponential_base": true, "multiplier": true, "backoff_multiplier": true, "jitter": true,
	"continue_on_error": true, "retry_on": true, "no_retry_on": true, "max_retries": true,
}

func (pr parser) errorHandling(path, id string, v any) *ErrorHandling {
	obj, ok := v.(map[string]any)
	if !ok {
		pr.r.errorf(path, id, "wrong_type", "write {\"retry\": {\"max_attempts\": 3}}", "error_handling is %s, want an object", kindOf(v))
		return nil
	}
	eh := &ErrorHandling{}
	eh.ContinueOnError = pr.boolean(obj, "continue_on_error", path, id)
	eh.RetryOn = pr.strings(obj, "retry_on", path, id)
	eh.NoRetryOn = pr.strings(obj, "no_retry_on", path, id)
	pr.retryFields(eh, obj, path, id)
	if r, ok := obj["retry"]; ok && r != nil {
		switch r := r.(type) {
		case map[string]any:
			pr.retryFields(eh, r, joinPath(path, "retry"), id)
			if eh.RetryOn == nil {
				eh.RetryOn = pr.strings(r, "retry_on", joinPath(path, "retry"), id)
			}
		case float64:
			eh.MaxAttempts = int(r)
		default:
			pr.r.errorf(joinPath(path, "retry"), id, "wrong_type", "write {\"max_attempts\": 3, \"initial_delay\": 1}", "retry is %s, want an object", kindOf(r))
		}
	}
	eh.Extra = extra(obj, ehKeys)
	// Name the place the offending value was written: top level or retry.
	at := func(key string) string {
		if r, ok := obj["retry"].(map[string]any); ok {
			if _, ok := r[key]; ok {
				return joinPath(joinPath(path, "retry"), key)
			}
		}
		return joinPath(path, key)
	}
	if eh.MaxAttempts < 0 {
		pr.r.errorf(at("max_attempts"), id, "bad_value", "use 1 or more", "max_attempts is %d", eh.MaxAttempts)
	}
	if eh.Multiplier != 0 && eh.Multiplier < 1 {
		pr.r.errorf(at("exponential_base"), id, "bad_value", "use a base of 1 or more", "exponential_base %g is below 1", eh.Multiplier)
	}
	if eh.MaxDelay != 0 && eh.InitialDelay > eh.MaxDelay {
		pr.r.errorf(at("max_delay"), id, "bad_value", "make max_delay at least initial_delay", "max_delay %g is below initial_delay %g", eh.MaxDelay, eh.InitialDelay)
	}
	return eh
}

func (pr parser) retryFields(eh *ErrorHandling, obj map[string]any, path, id string) {
	if n := pr.number(obj, "max_attempts", path, id); n != 0 {
		eh.MaxAttempts = int(n)
	}
	if n := pr.number(obj, "attempts", path, id); n != 0 {
		eh.MaxAttempts = int(n)
	}
	if n := pr.number(obj, "max_retries", path, id); n != 0 {
		eh.MaxAttempts = int(n) + 1
	}
	if n := pr.number(obj, "initial_delay", path, id); n != 0 {
		eh.InitialDelay = n
	}
	if n := pr.number(obj, "max_delay", path, id); n != 0 {
		eh.MaxDelay = n
	}
	for _, k := range []string{"exponential_base", "multiplier", "backoff_multiplier"} {
		if n := pr.number(obj, k, path, id); n != 0 {
			eh.Multiplier = n
		}
	}
	if j, ok := obj["jitter"]; ok {
		b, isBool := j.(bool)
		if !isBool {
			pr.r.errorf(joinPath(path, "jitter"), id, "wrong_type", "use true or false", "jitter is %s, want a boolean", kindOf(j))
		} else {
			eh.Jitter = &b
		}
	}
}

func (pr parser) inputs(path, id string, v any) ([]*Input, bool) {
	switch in := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		out := make([]*Input, 0, len(in))
		for _, n := range sortedKeysByPos(pr.r.pos, path, in) {
			out = append(out, &Input{Name: n, Source: in[n]})
		}
		return out, true
	case []any:
		out := make([]*Input, 0, len(in))
		for i, e := range in {
			ip := indexPath(path, i)
			obj, ok := e.(map[string]any)
			if !ok {
				pr.r.errorf(ip, id, "wrong_type", "write {\"name\": ..., \"source\": \"{steps.a.output.x}\"}", "input is %s, want an object", kindOf(e))
				continue
			}
			x := &Input{Name: pr.str(obj, "name", ip, id)}
			if x.Name == "" {
				pr.r.errorf(joinPath(ip, "name"), id, "missing_name", "give the input a \"name\"", "input has no name")
				continue
			}
			x.Source = obj["source"]
			if _, ok := obj["source"]; !ok {
				if val, ok := obj["value"]; ok {
					x.Source = val
				}
			}
			x.Required = pr.boolean(obj, "required", ip, id)
			x.Schema = pr.object(obj, "schema", ip, id)
			x.Extra = extra(obj, map[string]bool{"name": true, "source": true, "value": true, "required": true, "schema": true})
			out = append(out, x)
		}
		return out, false
	default:
		pr.r.errorf(path, id, "wrong_type", "use a list of {name, source} or an object of name → template", "inputs is %s", kindOf(v))
		return nil, false
	}
}

func (pr parser) stepOutputs(path, id string, v any) []*OutputDecl {
	switch out := v.(type) {
	case nil:
		return nil
	case []any:
		res := make([]*OutputDecl, 0, len(out))
		for i, e := range out {
			op := indexPath(path, i)
			switch e := e.(type) {
			case string:
				res = append(res, &OutputDecl{Name: e, Bare: true})
			case map[string]any:
				d := &OutputDecl{Name: pr.str(e, "name", op, id)}
				if d.Name == "" {
					pr.r.errorf(joinPath(op, "name"), id, "missing_name", "give the output a \"name\"", "output has no name")
					continue
				}
				d.Required = pr.boolean(e, "required", op, id)
				d.Schema = pr.object(e, "schema", op, id)
				d.Extra = extra(e, map[string]bool{"name": true, "required": true, "schema": true})
				res = append(res, d)
			default:
				pr.r.errorf(op, id, "wrong_type", "write a name or {\"name\": ...}", "output is %s", kindOf(e))
			}
		}
		return res
	case map[string]any:
		res := make([]*OutputDecl, 0, len(out))
		for _, n := range sortedKeysByPos(pr.r.pos, path, out) {
			d := &OutputDecl{Name: n}
			if m, ok := out[n].(map[string]any); ok {
				d.Schema = m
			}
			res = append(res, d)
		}
		return res
	default:
		pr.r.errorf(path, id, "wrong_type", "use a list of names", "outputs is %s", kindOf(v))
		return nil
	}
}

func (pr parser) topOutputs(v any) []*NamedValue {
	switch out := v.(type) {
	case nil:
		return nil
	case map[string]any:
		res := make([]*NamedValue, 0, len(out))
		for _, n := range sortedKeysByPos(pr.r.pos, "outputs", out) {
			res = append(res, &NamedValue{Name: n, Value: out[n]})
		}
		return res
	case []any:
		res := make([]*NamedValue, 0, len(out))
		for i, e := range out {
			switch e := e.(type) {
			case string:
				res = append(res, &NamedValue{Name: e, Value: "{" + e + "}"})
			case map[string]any:
				n, _ := e["name"].(string)
				if n == "" {
					pr.r.errorf(indexPath("outputs", i), "", "missing_name", "give the output a \"name\"", "output has no name")
					continue
				}
				val, ok := e["source"]
				if !ok {
					val = "{" + n + "}"
				}
				res = append(res, &NamedValue{Name: n, Value: val})
			default:
				pr.r.errorf(indexPath("outputs", i), "", "wrong_type", "write a name or {\"name\", \"source\"}", "output is %s", kindOf(e))
			}
		}
		return res
	default:
		pr.r.errorf("outputs", "", "wrong_type", "use an object of name → template", "outputs is %s", kindOf(v))
		return nil
	}
}

func (pr parser) flow(p *Pipeline, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		if v == nil {
			pr.r.errorf("flow", "", "missing_flow", "add \"flow\": {\"start_at\": ..., \"paths\": [...]}", "the pipeline has no flow")
		} else {
			pr.r.errorf("flow", "", "wrong_type", "", "flow is %s, want an object", kindOf(v))
		}
		if len(p.Steps) > 0 {
			p.StartAt = p.Steps[0].ID
		}
		return
	}
	p.StartAt = pr.str(obj, "start_at", "flow", "")
	if p.StartAt == "" && len(p.Steps) > 0 {
		p.StartAt = p.Steps[0].ID
	}
	for _, key := range []string{"paths", "transitions"} {
		raw, ok := obj[key]
		if !ok || raw == nil {
			continue
		}
		list, ok := raw.([]any)
		if !ok {
			pr.r.errorf(joinPath("flow", key), "", "wrong_type", "a list of {from, to, condition}", "flow.%s is %s, want a list", key, kindOf(raw))
			continue
		}
		for i, e := range list {
			path := indexPath(joinPath("flow", key), i)
			eo, ok := e.(map[string]any)
			if !ok {
				pr.r.errorf(path, "", "wrong_type", "write {\"from\": ..., \"to\": ...}", "transition is %s, want an object", kindOf(e))
				continue
			}
			ed := &Edge{path: path}
			ed.From = pr.str(eo, "from", path, "")
			if ed.From == "" {
				ed.From = pr.str(eo, "from_step", path, "")
			}
			ed.To = pr.str(eo, "to", path, "")
			if ed.To == "" {
				ed.To = pr.str(eo, "to_step", path, "")
			}
			if ed.From == "" {
				pr.r.errorf(path, "", "missing_from", "name the source step in \"from\"", "transition has no from")
			}
			if ed.To == "" {
				pr.r.errorf(path, "", "missing_to", "name the target step (or \"end\") in \"to\"", "transition has no to")
			}
			ed.Condition = eo["condition"]
			if b, ok := eo["else"].(bool); ok && b && ed.Condition == nil {
				ed.Condition = "else"
			}
			edgeKnown := map[string]bool{"from": true, "to": true, "from_step": true, "to_step": true, "condition": true, "else": true}
			ed.Extra = extra(eo, edgeKnown)
			pr.typos(path, "", ed.Extra, edgeKnown)
			if ed.From != "" && ed.To != "" {
				p.Edges = append(p.Edges, ed)
			}
		}
	}
	p.FlowExtra = extra(obj, map[string]bool{"start_at": true, "paths": true, "transitions": true})
}

func (pr parser) loopConfig(path string, v any) *LoopConfig {
	obj, ok := v.(map[string]any)
	if !ok {
		pr.r.errorf(path, "", "wrong_type", "", "loop_config is %s, want an object", kindOf(v))
		return nil
	}
	lc := &LoopConfig{
		MaxIterations:         int(pr.number(obj, "max_iterations", path, "")),
		MaxLoopTimeSeconds:    pr.number(obj, "max_loop_time_seconds", path, ""),
		IterationDelaySeconds: pr.number(obj, "iteration_delay_seconds", path, ""),
		OnMaxIterations:       pr.str(obj, "on_max_iterations", path, ""),
	}
	if lc.MaxIterations < 0 {
		pr.r.errorf(joinPath(path, "max_iterations"), "", "bad_value", "use a positive number", "max_iterations is %d", lc.MaxIterations)
	}
	switch lc.OnMaxIterations {
	case "", "fail", "exit":
	default:
		pr.r.errorf(joinPath(path, "on_max_iterations"), "", "bad_value", "use \"fail\" or \"exit\"", "on_max_iterations is %q", lc.OnMaxIterations)
	}
	lc.Extra = extra(obj, map[string]bool{"max_iterations": true, "max_loop_time_seconds": true, "iteration_delay_seconds": true, "on_max_iterations": true})
	return lc
}

// --- typed field access, reporting wrong types at the field's path ---

func (pr parser) str(obj map[string]any, key, path, id string) string {
	v, ok := obj[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		pr.r.errorf(joinPath(path, key), id, "wrong_type", "write it as a JSON string", "%s is %s, want a string", key, kindOf(v))
	}
	return s
}

func (pr parser) boolean(obj map[string]any, key, path, id string) bool {
	v, ok := obj[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		pr.r.errorf(joinPath(path, key), id, "wrong_type", "use true or false", "%s is %s, want a boolean", key, kindOf(v))
	}
	return b
}

func (pr parser) number(obj map[string]any, key, path, id string) float64 {
	v, ok := obj[key]
	if !ok || v == nil {
		return 0
	}
	n, ok := v.(float64)
	if !ok {
		pr.r.errorf(joinPath(path, key), id, "wrong_type", "write a JSON number", "%s is %s, want a number", key, kindOf(v))
	}
	return n
}

func (pr parser) object(obj map[string]any, key, path, id string) map[string]any {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		pr.r.errorf(joinPath(path, key), id, "wrong_type", "write a JSON object", "%s is %s, want an object", key, kindOf(v))
	}
	return m
}

func (pr parser) strings(obj map[string]any, key, path, id string) []string {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		pr.r.errorf(joinPath(path, key), id, "wrong_type", "write a list of strings", "%s is %s, want a list", key, kindOf(v))
		return nil
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			pr.r.errorf(indexPath(joinPath(path, key), i), id, "wrong_type", "", "entry is %s, want a string", kindOf(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

// typos warns about unknown keys that are one or two edits from a known
// key: they are kept (format preserves them) but most likely misspelled.
func (pr parser) typos(path, id string, unknown map[string]any, known map[string]bool) {
	for _, k := range sortedKeys(unknown) {
		best, bestD := "", 3
		for kk := range known {
			if d := editDistance(k, kk); d < bestD || d == bestD && kk < best {
				best, bestD = kk, d
			}
		}
		if best != "" && bestD <= max(1, len(k)/4) {
			pr.r.warnf(joinPath(path, k), id, "unknown_key", "rename it to \""+best+"\"", "unknown key %q (did you mean %q?)", k, best)
		}
	}
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func extra(obj map[string]any, known map[string]bool) map[string]any {
	var out map[string]any
	for k, v := range obj {
		if known[k] {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortedKeysByPos orders an object's keys as written in the document, so
// ordered mappings (inputs, outputs) keep their author's order.
func sortedKeysByPos(pos positions, path string, m map[string]any) []string {
	keys := sortedKeys(m)
	if pos.offs == nil {
		return keys
	}
	sort.SliceStable(keys, func(i, j int) bool {
		return pos.offs[joinPath(path, keys[i])] < pos.offs[joinPath(path, keys[j])]
	})
	return keys
}
