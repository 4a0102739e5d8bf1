package dag

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// reserved roots of template paths; a step may not use them as its id.
var reservedIDs = map[string]bool{"parameters": true, "pipeline_input": true, "steps": true, "result": true}

// Load parses and compiles a pipeline document. The graph is nil when there
// is any error; problems lists errors and warnings together.
func Load(file string, data []byte, opts *CompileOptions) (*Graph, Problems) {
	p, probs := Parse(file, data)
	if p == nil {
		return nil, probs
	}
	g, more := Compile(p, opts)
	probs = append(probs, more...)
	if probs.HasErrors() {
		return nil, probs.sorted()
	}
	return g, probs.sorted()
}

// Compile validates a parsed pipeline and builds its Graph: conditions and
// templates are compiled once here, never per event. Every problem is
// reported; the graph is nil when any of them is an error.
func Compile(p *Pipeline, opts *CompileOptions) (*Graph, Problems) {
	if opts == nil {
		opts = &CompileOptions{}
	}
	r := &reporter{file: p.File, pos: p.pos}
	g := &Graph{Pipeline: p, index: make(map[string]int, len(p.Steps)), start: -1, budget: opts.StepBudget}
	if g.budget <= 0 {
		g.budget = DefaultStepBudget
	}
	c := compiler{g: g, r: r, opts: opts}
	c.params()
	c.steps()
	c.edges()
	if g.start >= 0 || len(g.steps) > 0 {
		g.analyse()
	}
	c.loops()
	c.reachability()
	c.templates()
	c.ancestorsOnly()
	if r.list.HasErrors() {
		return nil, r.list
	}
	return g, r.list
}

type compiler struct {
	g        *Graph
	r        *reporter
	opts     *CompileOptions
	declared map[string]bool
	// reads are the step outputs that steps' templates and the conditions
	// after steps read (see ancestorsOnly).
	reads []read
}

// read: reader's template (or, with cond, a condition on one of reader's
// outgoing edges) reads step's output.
type read struct {
	reader, step int
	cond         bool
}

func (c *compiler) paramsDeclared() bool { return len(c.g.Pipeline.Parameters) > 0 }

func (c *compiler) params() {
	c.declared = map[string]bool{}
	for _, prm := range c.g.Pipeline.Parameters {
		if c.declared[prm.Name] {
			c.r.errorf(prm.path, "", "duplicate_parameter", "declare each parameter once", "parameter %q is declared twice", prm.Name)
		}
		c.declared[prm.Name] = true
	}
}

func (c *compiler) steps() {
	p := c.g.Pipeline
	for _, s := range p.Steps {
		if s.ID == "" {
			continue
		}
		if prev, dup := c.g.index[s.ID]; dup {
			line, col := p.pos.at(p.Steps[prev].path)
			c.r.errorf(joinPath(s.path, "id"), s.ID, "duplicate_step", "step ids must be unique: rename one", "duplicate step id %q (first defined at %d:%d)", s.ID, line, col)
			continue
		}
		if reservedIDs[s.ID] || IsEndTarget(s.ID) {
			c.r.errorf(joinPath(s.path, "id"), s.ID, "reserved_id", "pick another id", "step id %q is reserved (template root or end marker)", s.ID)
		}
		if strings.ContainsAny(s.ID, ".[]{}| \t\n") {
			c.r.errorf(joinPath(s.path, "id"), s.ID, "bad_id", "use letters, digits, '_' and '-' so templates can name it", "step id %q contains characters templates cannot address", s.ID)
		}
		n := &node{step: s, idx: len(c.g.steps)}
		c.g.index[s.ID] = n.idx
		c.g.steps = append(c.g.steps, n)
		switch s.Type {
		case StepTask:
			if s.Class == "" && s.Module == "" {
				c.r.errorf(s.path, s.ID, "missing_class", "set \"step_class\" (a Go step) or \"module\" + \"step_class\" (a Python step)", "step %q names no step_class", s.ID)
			}
			if s.Class != "" && s.Module == "" && c.opts.Registry != nil && !c.opts.Registry.Has(s.Class) {
				c.r.errorf(joinPath(s.path, "step_class"), s.ID, "unknown_class", "register the class with the worker, or give a Python \"module\"", "unknown step class %q", s.Class)
			}
		case StepHumanInput:
		case StepRouter:
			if len(s.Conditions) == 0 {
				c.r.errorf(s.path, s.ID, "router_without_conditions", "give the router a \"conditions\" list", "router step %q has no conditions", s.ID)
			}
			for i, raw := range s.Conditions {
				cond, err := CompileCondition(routerCondition(raw), c.condOpts())
				if err != nil {
					c.r.errorf(indexPath(joinPath(s.path, "conditions"), i), s.ID, condCode(err), "see the condition forms in docs/pipelines.md", "%v", err)
					continue
				}
				n.router = append(n.router, cond)
			}
		default:
			c.r.errorf(joinPath(s.path, "type"), s.ID, "unknown_step_type", "use \"task\", \"human_input\" or \"condition\"", "unknown step type %q", s.Type)
		}
		n.policy = policyFor(s.ErrorHandling, p.ErrorHandling)
		seen := map[string]bool{}
		for i, in := range s.Inputs {
			if seen[in.Name] {
				c.r.errorf(c.inputPath(s, i, in), s.ID, "duplicate_input", "declare each input once", "input %q is declared twice", in.Name)
			}
			seen[in.Name] = true
		}
	}
	if len(c.g.steps) == 0 && len(p.Steps) == 0 && p.Steps != nil {
		c.r.errorf("steps", "", "missing_steps", "add at least one step", "the pipeline has no steps")
	}
	if p.StartAt != "" && len(p.Steps) > 0 {
		if i, ok := c.g.index[p.StartAt]; ok {
			c.g.start = i
		} else {
			c.r.errorf("flow.start_at", "", "unknown_start", "name one of the step ids", "start_at names unknown step %q%s", p.StartAt, c.suggest(p.StartAt))
		}
	}
}

func (c *compiler) condOpts() *ConditionOptions {
	return &ConditionOptions{Functions: c.opts.Functions}
}

// routerCondition turns a router entry {field, operator, value, type:"value"}
// into an expression condition.
func routerCondition(raw any) any {
	m, ok := raw.(map[string]any)
	if !ok {
		return raw
	}
	t, _ := m["type"].(string)
	if _, hasField := m["field"]; hasField && (t == "" || t == "value" || t == "field") {
		cfg := map[string]any{"source": m["field"], "value": m["value"]}
		if op, ok := m["operator"]; ok {
			cfg["operator"] = op
		}
		return map[string]any{"type": "expression", "config": cfg}
	}
	return raw
}

func condCode(err error) string {
	switch {
	case errors.Is(err, ErrUnknownConditionType):
		return "unknown_condition_type"
	case errors.Is(err, ErrUnknownOperator):
		return "unknown_operator"
	default:
		return "bad_condition"
	}
}

func (c *compiler) inputPath(s *Step, i int, in *Input) string {
	if s.InputsAsMap {
		return joinPath(joinPath(s.path, "inputs"), in.Name)
	}
	return indexPath(joinPath(s.path, "inputs"), i)
}

func (c *compiler) suggest(id string) string {
	best, bestD := "", min(len(id)/3+2, len(id))
	for _, n := range c.g.steps {
		if d := editDistance(id, n.step.ID); d < bestD {
			best, bestD = n.step.ID, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func (c *compiler) edges() {
	p := c.g.Pipeline
	c.g.rev = make([][]int, len(c.g.steps))
	for _, e := range p.Edges {
		from, ok := c.g.index[e.From]
		if !ok {
			c.r.errorf(joinPath(e.path, "from"), "", "unknown_step", "name an existing step id", "transition from unknown step %q%s", e.From, c.suggest(e.From))
			continue
		}
		ce := &edge{e: e, idx: len(c.g.edges), from: from, to: -1}
		if IsEndTarget(e.To) {
			ce.fail = e.To == EndFailureTarget
		} else if to, ok := c.g.index[e.To]; ok {
			ce.to = to
		} else {
			c.r.errorf(joinPath(e.path, "to"), e.From, "unknown_step", "name an existing step id, or \"end\"", "transition to unknown step %q%s", e.To, c.suggest(e.To))
			continue
		}
		cond, err := CompileCondition(e.Condition, c.condOpts())
		if err != nil {
			// Keep the edge (unconditional) so its target is not also
			// reported unreachable; the error already fails the compile.
			c.r.errorf(joinPath(e.path, "condition"), e.From, condCode(err), "see the condition forms in docs/pipelines.md", "%v", err)
			cond = nil
		}
		if cond != nil && cond.Kind() != "always" {
			ce.cond = cond
			ce.isElse = cond.IsElse()
		}
		src := c.g.steps[from]
		if ce.isElse {
			if src.hasElse {
				c.r.errorf(joinPath(e.path, "condition"), e.From, "duplicate_else", "keep one else transition per step", "step %q has more than one else transition", e.From)
			}
			src.hasElse = true
		}
		src.out = append(src.out, ce.idx)
		if ce.to >= 0 {
			c.g.rev[ce.to] = append(c.g.rev[ce.to], ce.idx)
		}
		c.g.edges = append(c.g.edges, ce)
	}
}

func (c *compiler) loops() {
	p := c.g.Pipeline
	lc := p.LoopConfig
	for _, l := range c.g.loops {
		l.maxIter = DefaultMaxIterations
		if lc != nil {
			if lc.MaxIterations > 0 {
				l.maxIter = lc.MaxIterations
			}
			l.maxTime = seconds(lc.MaxLoopTimeSeconds)
			l.delay = seconds(lc.IterationDelaySeconds)
			l.exit = lc.OnMaxIterations == "exit"
		}
		head := c.g.steps[l.head].step
		if lc == nil || lc.MaxIterations == 0 {
			c.r.warnf(c.g.edges[l.backs[0]].e.path, head.ID, "loop_unbounded", "set loop_config.max_iterations", "loop %s has no max_iterations; it is bounded at %d", l.id, DefaultMaxIterations)
		}
		// A loop can exit only if some edge inside it is conditional.
		exits := false
		for _, v := range l.body {
			for _, ei := range c.g.steps[v].out {
				e := c.g.edges[ei]
				if e.cond != nil {
					exits = true
				}
			}
		}
		if !exits {
			c.r.errorf(c.g.edges[l.backs[0]].e.path, head.ID, "loop_never_exits", "make the back edge (or an edge inside the loop) conditional", "loop %s can never exit: every transition inside it is unconditional", l.id)
		}
	}
}

func (c *compiler) reachability() {
	if c.g.start < 0 {
		return // an unknown start_at is reported once, not once per step
	}
	for _, i := range c.g.unreachable {
		s := c.g.steps[i].step
		c.r.errorf(s.path, s.ID, "unreachable", "add a transition to it, or remove it", "step %q is unreachable from start_at %q", s.ID, c.g.Pipeline.StartAt)
	}
}

// templates compiles every template (inputs, config, condition values,
// outputs) and checks what each reference names.
func (c *compiler) templates() {
	p := c.g.Pipeline
	for _, n := range c.g.steps {
		s := n.step
		for i, in := range s.Inputs {
			path := c.inputPath(s, i, in)
			if !s.InputsAsMap {
				path = joinPath(path, "source")
			}
			nt := namedTemplate{name: in.Name, required: in.Required, literal: in.Source}
			if str, ok := in.Source.(string); ok {
				t, err := ParseTemplate(str, TemplatesBoth)
				if err != nil {
					c.r.errorf(path, s.ID, "bad_template", "write {{ step.field }} or {steps.ID.output.field}", "input %q: %v", in.Name, err)
					continue
				}
				if !t.IsLiteral() {
					nt.tmpl = t
					c.checkRefs(path, s.ID, t.Refs(), false)
				}
			}
			n.inputs = append(n.inputs, nt)
		}
		if s.Config != nil {
			c.walkConfig(joinPath(s.path, "config"), s.ID, s.Config)
		}
	}
	for _, e := range c.g.edges {
		if e.cond != nil {
			c.checkRefs(joinPath(e.e.path, "condition"), e.e.From, e.cond.Refs(), true)
		}
	}
	for _, o := range p.Outputs {
		nt := namedTemplate{name: o.Name, literal: o.Value}
		if str, ok := o.Value.(string); ok {
			t, err := ParseTemplate(str, TemplatesBoth)
			if err != nil {
				c.r.errorf(joinPath("outputs", o.Name), "", "bad_template", "write {{ step.field }}", "output %q: %v", o.Name, err)
				continue
			}
			if !t.IsLiteral() {
				nt.tmpl = t
				c.checkRefs(joinPath("outputs", o.Name), "", t.Refs(), false)
			}
		}
		c.g.outputs = append(c.g.outputs, nt)
	}
}

func (c *compiler) walkConfig(path, id string, v any) {
	switch v := v.(type) {
	case string:
		t, err := ParseTemplate(v, TemplatesDouble)
		if err != nil {
			c.r.errorf(path, id, "bad_template", "write {{ parameters.name }}", "%v", err)
			return
		}
		c.checkRefs(path, id, t.Refs(), false)
	case map[string]any:
		for k, x := range v {
			c.walkConfig(joinPath(path, k), id, x)
		}
	case []any:
		for i, x := range v {
			c.walkConfig(indexPath(path, i), id, x)
		}
	}
}

// checkRefs reports references to unknown steps or parameters. In
// conditions an unknown root is a key of the merged view, so it is allowed.
func (c *compiler) checkRefs(path, id string, refs [][]string, inCondition bool) {
	for _, ref := range refs {
		if len(ref) == 0 {
			continue
		}
		switch root := ref[0]; {
		case root == "parameters":
			if len(ref) < 2 {
				continue
			}
			if !c.declared[ref[1]] && c.paramsDeclared() {
				c.r.errorf(path, id, "unknown_parameter", "declare it under \"parameters\"", "template references undeclared parameter %q", ref[1])
			}
		case root == "pipeline_input":
		case root == "steps":
			if len(ref) < 2 {
				c.r.errorf(path, id, "bad_reference", "write steps.ID.output.field", "template reference %q names no step", strings.Join(ref, "."))
				continue
			}
			if step, ok := c.g.index[ref[1]]; ok {
				c.recordRead(id, step, inCondition)
			} else {
				c.r.errorf(path, id, "unknown_step_reference", "name an existing step id", "template references unknown step %q%s", ref[1], c.suggest(ref[1]))
			}
		case root == "result":
			if !inCondition {
				c.r.errorf(path, id, "bad_reference", "\"result\" means the current step's output and only works in conditions; name the step", "template uses result outside a condition")
			}
		default:
			if step, ok := c.g.index[root]; ok {
				c.recordRead(id, step, inCondition)
				continue
			}
			if inCondition {
				continue
			}
			if c.declared[root] {
				continue // a bare parameter name reads the merged view
			}
			c.r.errorf(path, id, "unknown_step_reference", "reference steps.ID.output.field, ID.field, parameters.NAME or pipeline_input.NAME", "template references unknown step or root %q%s", root, c.suggest(root))
		}
	}
}

// recordRead records that reader's template (a condition on one of its edges,
// with cond) reads step's output; the run outputs' templates (no reader
// step) are not recorded.
func (c *compiler) recordRead(reader string, step int, cond bool) {
	if r, ok := c.g.index[reader]; ok {
		c.reads = append(c.reads, read{reader: r, step: step, cond: cond})
	}
}

// ancestorsOnly sets Graph.ancestorsOnly: whether every read is of an
// ancestor of its reader (a step with a path to it; in a loop, the reader
// itself), or, in a condition, of the reader itself (its result).
func (c *compiler) ancestorsOnly() {
	c.g.ancestorsOnly = true
	for _, r := range c.reads {
		if r.cond && r.step == r.reader {
			continue
		}
		if !c.g.reaches(r.step, r.reader) {
			c.g.ancestorsOnly = false
			return
		}
	}
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
