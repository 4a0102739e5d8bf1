package dag

import (
	"errors"
	"fmt"
	"time"
)

// RunStatus is the status of a run.
type RunStatus string

// Run statuses.
const (
	RunRunning   RunStatus = "running"
	RunWaiting   RunStatus = "waiting_for_human"
	RunCompleted RunStatus = "completed"
	RunFailed    RunStatus = "failed"
	RunCancelled RunStatus = "cancelled"
)

// Terminal reports whether no further step can start.
func (s RunStatus) Terminal() bool {
	return s == RunCompleted || s == RunFailed || s == RunCancelled
}

// StepStatus is the status of one step within a run.
type StepStatus string

// Step statuses.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepWaiting   StepStatus = "waiting"
	StepSucceeded StepStatus = "succeeded"
	StepFailed    StepStatus = "failed"
	StepSkipped   StepStatus = "skipped"
	StepCancelled StepStatus = "cancelled"
)

// Errors returned by NewRun and Decide.
var (
	// ErrMissingParameter: a required parameter has no value and no default.
	ErrMissingParameter = errors.New("missing required parameter")
	// ErrStale: the event does not match the step's current iteration and
	// attempt (a duplicate or late delivery). Nothing changed; drop it.
	ErrStale = errors.New("stale event")
	// ErrAhead: the event ends an attempt the run state has not started
	// yet: a later iteration or attempt than the step's. A scheduler that
	// publishes a decision's tasks before committing it (see
	// pkg/scheduler) can receive such a completion before the decision
	// commits, or after it was lost with its scheduler and before the
	// completion that leads to it again is redelivered. Nothing changed;
	// hold the event and offer it again, unlike a stale one.
	ErrAhead = errors.New("event ahead of the run state")
	// ErrUnknownStep: the event names a step the pipeline does not have.
	ErrUnknownStep = errors.New("unknown step")
	// ErrNothingToResume: the run is not failed or cancelled.
	ErrNothingToResume = errors.New("nothing to resume")
)

// StepState is the durable state of one step.
type StepState struct {
	Status StepStatus `json:"status"`
	// Iteration counts activations: 1 on the first start, +1 each time a
	// loop re-enters the step. Events must name the current iteration.
	Iteration int `json:"iteration,omitempty"`
	// Attempt counts attempts within the iteration, from 1.
	Attempt int    `json:"attempt,omitempty"`
	Snoozes int    `json:"snoozes,omitempty"`
	Output  any    `json:"output,omitempty"`
	Error   string `json:"error,omitempty"`
	// Seq orders completions (the merged view follows it).
	Seq int64 `json:"seq,omitempty"`
	// Resolved and Taken count this epoch's resolved and taken join inputs.
	Resolved int `json:"resolved,omitempty"`
	Taken    int `json:"taken,omitempty"`
	// Epoch grows each time a loop resets the step.
	Epoch int `json:"epoch,omitempty"`
	// Via is the back edge that activated the step (-1: forward or start).
	Via        int       `json:"via,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// LoopState is the per-run state of one loop.
type LoopState struct {
	Iterations int        `json:"iterations,omitempty"`
	EnteredAt  time.Time  `json:"entered_at,omitzero"`
	Active     int        `json:"active,omitempty"`
	Deferred   []Deferral `json:"deferred,omitempty"`
}

// Deferral is an untaken exit edge whose resolution waits for its loop's
// iteration to end.
type Deferral struct {
	Edge  int `json:"edge"`
	Epoch int `json:"epoch"`
}

// Edge marks.
const (
	edgeUnresolved uint8 = 0
	edgeTaken      uint8 = 1
	edgeUntaken    uint8 = 2
)

// RunState is everything Decide needs to know about a run. It is plain data
// (JSON-encodable) so a store can persist it after every decision and any
// scheduler can continue from it.
type RunState struct {
	RunID  string         `json:"run_id"`
	Status RunStatus      `json:"status"`
	Error  string         `json:"error,omitempty"`
	Input  map[string]any `json:"input"`
	Params map[string]any `json:"params"`
	Steps  []StepState    `json:"steps"`
	Edges  []uint8        `json:"edges"`
	Loops  []LoopState    `json:"loops,omitempty"`
	// Active counts running, waiting and retrying steps; Waiting those
	// waiting for a human.
	Active     int   `json:"active"`
	Waiting    int   `json:"waiting"`
	Seq        int64 `json:"seq"`
	Executions int   `json:"executions"`
	// Resumes counts the times the run was resumed.
	Resumes int `json:"resumes,omitempty"`
	Output  any `json:"output,omitempty"`

	viewsIn  []*view
	viewsOut []*view
}

// NewRun prepares the state of a new run: parameters are the declared
// defaults overlaid with the input's values. A required parameter without a
// value is an error naming it.
func (g *Graph) NewRun(runID string, input map[string]any) (*RunState, error) {
	if input == nil {
		input = map[string]any{}
	}
	params := make(map[string]any, len(input)+len(g.Pipeline.Parameters))
	var missing []string
	for _, p := range g.Pipeline.Parameters {
		if v, ok := input[p.Name]; ok {
			params[p.Name] = v
			continue
		}
		if p.HasDefault {
			params[p.Name] = p.Default
			continue
		}
		if p.Required {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %q (pass it in the run input)", ErrMissingParameter, missing)
	}
	for k, v := range input {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	st := &RunState{
		RunID:  runID,
		Status: RunRunning,
		Input:  input,
		Params: params,
		Steps:  make([]StepState, len(g.steps)),
		Edges:  make([]uint8, len(g.edges)),
		Loops:  make([]LoopState, len(g.loops)),
	}
	for i := range st.Steps {
		st.Steps[i].Status = StepPending
		st.Steps[i].Via = -1
	}
	return st, nil
}

// Step returns the state of step id.
func (g *Graph) Step(st *RunState, id string) (StepState, bool) {
	i, ok := g.index[id]
	if !ok || i >= len(st.Steps) {
		return StepState{}, false
	}
	return st.Steps[i], true
}

// check verifies that st belongs to g (after loading it from a store).
func (g *Graph) check(st *RunState) error {
	if len(st.Steps) != len(g.steps) || len(st.Edges) != len(g.edges) || len(st.Loops) != len(g.loops) {
		return fmt.Errorf("run state does not match the pipeline (%d/%d steps, %d/%d edges)", len(st.Steps), len(g.steps), len(st.Edges), len(g.edges))
	}
	if st.viewsIn == nil {
		st.viewsIn = make([]*view, len(g.steps))
		st.viewsOut = make([]*view, len(g.steps))
	}
	return nil
}
