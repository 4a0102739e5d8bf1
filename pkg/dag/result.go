package dag

import (
	"maps"
	"time"
)

// Result is the one result schema of a run, whatever its outcome.
type Result struct {
	Status RunStatus `json:"status"`
	// Output is the top-level outputs mapping when the pipeline has one,
	// otherwise the merged view of every executed step.
	Output any                   `json:"output"`
	Error  string                `json:"error,omitempty"`
	Steps  map[string]StepResult `json:"steps"`
}

// StepResult is one step's record in a Result.
type StepResult struct {
	Status     StepStatus `json:"status"`
	Iteration  int        `json:"iteration,omitempty"`
	Attempt    int        `json:"attempt,omitempty"`
	Output     any        `json:"output,omitempty"`
	Error      string     `json:"error,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// Result builds the run's result from its state.
func (g *Graph) Result(st *RunState) Result {
	r := Result{Status: st.Status, Output: st.Output, Error: st.Error, Steps: make(map[string]StepResult, len(st.Steps))}
	for i, s := range st.Steps {
		sr := StepResult{Status: s.Status, Iteration: s.Iteration, Attempt: s.Attempt, Output: s.Output, Error: s.Error}
		if !s.StartedAt.IsZero() {
			t := s.StartedAt
			sr.StartedAt = &t
		}
		if !s.FinishedAt.IsZero() {
			t := s.FinishedAt
			sr.FinishedAt = &t
		}
		r.Steps[g.steps[i].step.ID] = sr
	}
	return r
}

// output computes the run output when it completes: the outputs mapping
// (missing references are null) or the merged view of executed steps in
// completion order.
func (g *Graph) output(st *RunState) any {
	d := &decider{g: g, st: st}
	if len(g.outputs) > 0 {
		sc := &scope{d: d, self: -1, view: flatView(g.mergedView(st))}
		out := make(map[string]any, len(g.outputs))
		for _, o := range g.outputs {
			if o.tmpl == nil {
				out[o.name] = o.literal
				continue
			}
			v, _ := o.tmpl.Eval(sc)
			out[o.name] = v
		}
		return out
	}
	return g.mergedView(st)
}

// mergedView is the blackboard of the whole run: parameters and input, then
// every executed step's output (under its id, and a map's fields on top) in
// document order.
func (g *Graph) mergedView(st *RunState) map[string]any {
	m := make(map[string]any, len(st.Params)+len(st.Input)+len(st.Steps))
	maps.Copy(m, st.Params)
	maps.Copy(m, st.Input)
	done := make([]int, 0, len(st.Steps))
	for i, s := range st.Steps {
		if s.Seq > 0 {
			done = append(done, i)
		}
	}
	// Document order, not completion order: parallel branches complete in
	// any order, and the result must not depend on it.
	for _, i := range done {
		out := st.Steps[i].Output
		m[g.steps[i].step.ID] = out
		if f, ok := out.(map[string]any); ok {
			maps.Copy(m, f)
		}
	}
	return m
}
