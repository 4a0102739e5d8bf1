package dag

import (
	"fmt"
	"maps"
	"sort"
	"time"
)

// EventType names what happened to a run.
type EventType string

// Events.
const (
	EventRunStarted      EventType = "run_started"
	EventStepSucceeded   EventType = "step_succeeded"
	EventStepFailed      EventType = "step_failed"
	EventHumanDecision   EventType = "human_decision"
	EventCancelRequested EventType = "cancel_requested"
	// EventResumeRequested restarts a failed or cancelled run from its failed
	// and cancelled steps, keeping every completed step's output.
	EventResumeRequested EventType = "resume_requested"
	// EventDeadlineExceeded fails a run that outlived its timeout_seconds.
	EventDeadlineExceeded EventType = "deadline_exceeded"
)

// Event is one input to Decide.
type Event struct {
	Type      EventType
	StepID    string
	Iteration int
	Attempt   int
	Output    any
	Error     *StepError
	// At is when it happened (loop time bounds, step timings).
	At     time.Time
	Reason string
	// Resumes, on EventDeadlineExceeded, is the run's RunState.Resumes when
	// the deadline was set: a deadline set before the run was last resumed
	// is stale, since a resumed run gets a new one.
	Resumes int
}

// StepError describes a failed attempt.
type StepError struct {
	Message string `json:"message"`
	// Code classifies the failure (e.g. "timeout"); error_handling's
	// retry_on / no_retry_on match it.
	Code      string `json:"code,omitempty"`
	Retryable bool   `json:"retryable"`
	// RetryAfter is the least delay before the next attempt.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	// Snooze re-runs the step after RetryAfter without counting an attempt.
	Snooze bool `json:"snooze,omitempty"`
}

// ActionKind names what the runtime must do.
type ActionKind string

// Actions.
const (
	ActionStartStep  ActionKind = "start_step"
	ActionSkipStep   ActionKind = "skip_step"
	ActionWaitHuman  ActionKind = "wait_human"
	ActionCancelStep ActionKind = "cancel_step"
	ActionFinishRun  ActionKind = "finish_run"
)

// Action is one instruction produced by Decide.
type Action struct {
	Kind      ActionKind
	StepID    string
	Iteration int
	Attempt   int
	// Delay postpones a start (retry backoff, loop iteration delay).
	Delay time.Duration
	// data is the step's merged view; Input materializes it.
	data *view
	// Inputs are the resolved declared inputs alone.
	Inputs map[string]any
	Config map[string]any
	Class  string
	Module string
	Queue  string
	// Timeout bounds one attempt (0: the runtime's default).
	Timeout time.Duration
	// Human describes the decision a wait_human action asks for.
	Human *HumanRequest
	// Status, Output and Error describe a finished run.
	Status RunStatus
	Output any
	Error  string
	Reason string
}

// Input returns the data a started step receives: its merged view with its
// declared inputs on top, as a new map. Building it costs the size of the
// view, so Decide leaves it to the caller.
func (a *Action) Input() map[string]any {
	if a.data == nil {
		return map[string]any{}
	}
	return a.data.over(a.Inputs).Map()
}

// HumanRequest is what a human task shows and how it is decided.
type HumanRequest struct {
	Prompt         string         `json:"prompt,omitempty"`
	UISchema       map[string]any `json:"ui_schema,omitempty"`
	Assignees      []string       `json:"assignees,omitempty"`
	TimeoutSeconds float64        `json:"timeout_seconds,omitempty"`
	Quorum         int            `json:"quorum,omitempty"`
	// Config carries the step's config (timeout policy, default decision).
	Config map[string]any `json:"config,omitempty"`
	// Payload is the pausing step's own output when a task step asked for
	// human input by returning status "human_input_required".
	Payload any `json:"payload,omitempty"`
}

// Decide applies one event to the run state and returns what to do next.
// It performs no I/O; it mutates st, which the caller persists together
// with the actions. Its cost is proportional to the out-degree of the steps
// the event touches, not to the size of the graph. A duplicate or late
// event returns ErrStale and changes nothing.
func (g *Graph) Decide(st *RunState, ev Event) ([]Action, error) {
	if err := g.check(st); err != nil {
		return nil, err
	}
	d := &decider{g: g, st: st, at: ev.At}
	if d.at.IsZero() {
		d.at = time.Now()
	}
	if err := d.apply(ev); err != nil {
		return nil, err
	}
	d.settle()
	return d.actions, nil
}

type decider struct {
	g         *Graph
	st        *RunState
	at        time.Time
	actions   []Action
	computing map[int]bool // views being rebuilt (cycle guard)
}

func (d *decider) emit(a Action) { d.actions = append(d.actions, a) }

func (d *decider) terminal() bool { return d.st.Status.Terminal() }

func (d *decider) apply(ev Event) error {
	st := d.st
	switch ev.Type {
	case EventRunStarted:
		if st.Seq != 0 || st.Executions != 0 {
			return fmt.Errorf("%w: run already started", ErrStale)
		}
		for _, i := range d.g.unreachable {
			st.Steps[i].Status = StepSkipped
			d.emit(Action{Kind: ActionSkipStep, StepID: d.g.steps[i].step.ID, Reason: "unreachable"})
		}
		if d.g.start >= 0 {
			d.activate(d.g.start, -1, 0)
		}
		return nil
	case EventCancelRequested:
		if d.terminal() {
			return fmt.Errorf("%w: run is %s", ErrStale, st.Status)
		}
		d.stopActive()
		reason := ev.Reason
		if reason == "" {
			reason = "cancelled"
		}
		d.finish(RunCancelled, nil, reason)
		return nil
	case EventResumeRequested:
		return d.resume()
	case EventDeadlineExceeded:
		if d.terminal() {
			return fmt.Errorf("%w: run is %s", ErrStale, st.Status)
		}
		if ev.Resumes != st.Resumes {
			return fmt.Errorf("%w: deadline set before resume %d", ErrStale, st.Resumes)
		}
		d.failRun(fmt.Sprintf("run exceeded its timeout_seconds %g", d.g.Pipeline.TimeoutSeconds))
		return nil
	}
	i, ok := d.g.index[ev.StepID]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownStep, ev.StepID)
	}
	if d.terminal() {
		return fmt.Errorf("%w: run is %s", ErrStale, st.Status)
	}
	s := &st.Steps[i]
	switch ev.Type {
	case EventStepFailed:
		if s.Status == StepWaiting && (ev.Iteration == 0 || ev.Iteration == s.Iteration) {
			// A human step that timed out (or was rejected by policy) fails
			// like a task step, without retries.
			st.Waiting--
			s.Status = StepRunning
			se := ev.Error
			if se == nil {
				se = &StepError{Message: "human input failed"}
			}
			se.Retryable, se.Snooze = false, false
			d.failed(i, se)
			return nil
		}
		fallthrough
	case EventStepSucceeded:
		if s.Status != StepRunning || s.Iteration != ev.Iteration || s.Attempt != ev.Attempt {
			if ev.Iteration > s.Iteration || ev.Iteration == s.Iteration && ev.Attempt > s.Attempt {
				return fmt.Errorf("%w: step %q is %s at iteration %d attempt %d, event is for %d/%d", ErrAhead, ev.StepID, s.Status, s.Iteration, s.Attempt, ev.Iteration, ev.Attempt)
			}
			return fmt.Errorf("%w: step %q is %s at iteration %d attempt %d, event is for %d/%d", ErrStale, ev.StepID, s.Status, s.Iteration, s.Attempt, ev.Iteration, ev.Attempt)
		}
		if ev.Type == EventStepSucceeded {
			if m, ok := ev.Output.(map[string]any); ok && m["status"] == "human_input_required" {
				d.wait(i, m)
				return nil
			}
			d.complete(i, ev.Output)
			return nil
		}
		se := ev.Error
		if se == nil {
			se = &StepError{Message: "step failed"}
		}
		d.failed(i, se)
		return nil
	case EventHumanDecision:
		if s.Status != StepWaiting || (ev.Iteration != 0 && s.Iteration != ev.Iteration) {
			return fmt.Errorf("%w: step %q is %s, not waiting for a decision", ErrStale, ev.StepID, s.Status)
		}
		st.Waiting--
		s.Status = StepRunning
		d.complete(i, ev.Output)
		return nil
	default:
		return fmt.Errorf("unknown event type %q", ev.Type)
	}
}

// activate starts step v: via is the back edge that re-entered it (-1 for a
// forward activation), delay postpones it.
func (d *decider) activate(v, via int, delay time.Duration) {
	if d.terminal() {
		return
	}
	st := d.st
	n := d.g.steps[v]
	s := &st.Steps[v]
	st.Executions++
	if st.Executions > d.g.budget {
		d.failRun(fmt.Sprintf("step budget of %d executions exceeded at step %q", d.g.budget, n.step.ID))
		return
	}
	for _, li := range n.loops {
		if d.g.loops[li].head == v {
			ls := &st.Loops[li]
			if ls.Iterations == 0 {
				ls.EnteredAt = d.at
			}
			ls.Iterations++
		}
	}
	s.Iteration++
	s.Attempt = 1
	s.Snoozes = 0
	s.Via = via
	s.Status = StepRunning
	s.StartedAt = d.at
	s.FinishedAt = time.Time{}
	s.Error = ""
	d.addActive(v, 1)
	d.st.viewsIn[v] = nil
	view := d.viewIn(v)
	sc := &scope{d: d, self: -1, view: view}
	inputs, missing := d.resolveInputs(n, sc)
	if missing != "" {
		d.failed(v, &StepError{Message: missing, Code: "missing_input"})
		return
	}
	switch n.step.Type {
	case StepRouter:
		matched := true
		rs := &scope{d: d, self: -1, view: view.over(inputs)}
		for _, c := range n.router {
			if !c.Eval(rs) {
				matched = false
				break
			}
		}
		d.complete(v, map[string]any{"matched": matched})
		return
	case StepHumanInput:
		cfg := d.resolveConfig(n, sc)
		d.wait(v, cfg)
		return
	}
	d.emit(d.startAction(v, inputs, view, sc, delay))
}

func (d *decider) startAction(v int, inputs map[string]any, view *view, sc *scope, delay time.Duration) Action {
	n := d.g.steps[v]
	s := &d.st.Steps[v]
	return Action{
		Kind: ActionStartStep, StepID: n.step.ID, Iteration: s.Iteration, Attempt: s.Attempt,
		Delay: delay, data: view, Inputs: inputs, Config: d.resolveConfig(n, sc),
		Class: n.step.Class, Module: n.step.Module, Queue: n.step.Queue,
		Timeout: seconds(n.step.TimeoutSeconds),
	}
}

// wait parks step v until a human decides. src is the step's config (a
// human_input step) or the payload a task step returned.
func (d *decider) wait(v int, src map[string]any) {
	n := d.g.steps[v]
	s := &d.st.Steps[v]
	s.Status = StepWaiting
	d.st.Waiting++
	hr := &HumanRequest{Config: n.step.Config}
	if n.step.Type != StepHumanInput {
		hr.Payload = src
	}
	for _, m := range []map[string]any{n.step.Config, src} {
		if m == nil {
			continue
		}
		if p, ok := m["prompt"].(string); ok {
			hr.Prompt = p
		}
		if u, ok := m["ui_schema"].(map[string]any); ok {
			hr.UISchema = u
		}
		for _, k := range []string{"assignees", "assigned_users", "stakeholders"} {
			if l, ok := m[k].([]any); ok {
				hr.Assignees = hr.Assignees[:0]
				for _, a := range l {
					if s, ok := a.(string); ok {
						hr.Assignees = append(hr.Assignees, s)
					}
				}
			}
		}
		for _, k := range []string{"timeout_seconds", "timeout"} {
			if t, ok := m[k].(float64); ok {
				hr.TimeoutSeconds = t
			}
		}
		if q, ok := m["quorum"].(float64); ok {
			hr.Quorum = int(q)
		}
	}
	if hr.Prompt == "" {
		hr.Prompt = "Human input required"
	}
	d.emit(Action{Kind: ActionWaitHuman, StepID: n.step.ID, Iteration: s.Iteration, Human: hr, Config: n.step.Config})
}

// failed handles a failed attempt: retry, continue on error, or fail the run.
func (d *decider) failed(v int, se *StepError) {
	n := d.g.steps[v]
	s := &d.st.Steps[v]
	p := n.policy
	if se.Snooze {
		s.Snoozes++
		s.Attempt++
		d.emit(d.restart(v, se.RetryAfter))
		return
	}
	if p.retryable(se.Code, se.Retryable) && s.Attempt-s.Snoozes < p.maxAttempts {
		delay := p.Backoff(d.st.RunID+"/"+n.step.ID+"/"+fmt.Sprint(s.Iteration), s.Attempt-s.Snoozes)
		if se.RetryAfter > delay {
			delay = se.RetryAfter
		}
		s.Attempt++
		d.emit(d.restart(v, delay))
		return
	}
	msg := fmt.Sprintf("step %q failed after %d attempt(s): %s", n.step.ID, s.Attempt-s.Snoozes, se.Message)
	if p.continueOnError {
		d.complete(v, map[string]any{
			"step_error": true, "error_message": se.Message, "error_category": se.Code, "step_name": n.step.ID,
		})
		s.Error = msg
		return
	}
	s.Status = StepFailed
	s.Error = msg
	s.FinishedAt = d.at
	d.addActive(v, -1)
	d.failRun(msg)
}

func (d *decider) restart(v int, delay time.Duration) Action {
	view := d.viewIn(v)
	sc := &scope{d: d, self: -1, view: view}
	inputs, _ := d.resolveInputs(d.g.steps[v], sc)
	return d.startAction(v, inputs, view, sc, delay)
}

// complete records step v's output and routes along its edges.
func (d *decider) complete(v int, output any) {
	st := d.st
	s := &st.Steps[v]
	st.Seq++
	s.Seq = st.Seq
	s.Status = StepSucceeded
	s.Output = output
	s.FinishedAt = d.at
	st.viewsOut[v] = nil
	d.addActive(v, -1)
	d.route(v)
	d.endIterations(v)
}

// route evaluates v's outgoing edges in document order. Every edge whose
// condition holds is taken (fan-out); else edges are taken when no sibling
// condition holds (unconditional siblings do not count). Untaken edges resolve (and skip) their targets.
func (d *decider) route(v int) {
	n := d.g.steps[v]
	sc := &scope{d: d, self: v}
	taken := make([]bool, len(n.out))
	any := false
	for k, ei := range n.out {
		e := d.g.edges[ei]
		if e.isElse {
			continue
		}
		switch {
		case e.cond == nil:
			taken[k] = true // unconditional: not a rival of else
		case e.cond.Eval(sc):
			taken[k] = true
			any = true
		}
	}
	for k, ei := range n.out {
		if d.g.edges[ei].isElse {
			taken[k] = !any
		}
	}
	for k, ei := range n.out {
		if !taken[k] {
			d.untake(ei)
		}
	}
	for k, ei := range n.out {
		if taken[k] {
			d.take(ei)
		}
	}
}

func (d *decider) take(ei int) {
	if d.terminal() {
		return
	}
	e := d.g.edges[ei]
	if e.to < 0 {
		if e.fail {
			d.failRun(fmt.Sprintf("step %q reached %s", d.g.steps[e.from].step.ID, e.e.To))
		}
		return
	}
	if e.back {
		d.backEdge(e)
		return
	}
	if d.st.Edges[ei] != edgeUnresolved {
		return
	}
	d.st.Edges[ei] = edgeTaken
	t := &d.st.Steps[e.to]
	t.Resolved++
	t.Taken++
	d.ready(e.to)
}

func (d *decider) untake(ei int) {
	e := d.g.edges[ei]
	if e.to < 0 || e.back {
		return
	}
	if e.deferLoop >= 0 {
		ls := &d.st.Loops[e.deferLoop]
		ls.Deferred = append(ls.Deferred, Deferral{Edge: ei, Epoch: d.st.Steps[e.from].Epoch})
		return
	}
	d.resolveUntaken(ei)
}

func (d *decider) resolveUntaken(ei int) {
	if d.terminal() || d.st.Edges[ei] != edgeUnresolved {
		return
	}
	e := d.g.edges[ei]
	d.st.Edges[ei] = edgeUntaken
	d.st.Steps[e.to].Resolved++
	d.ready(e.to)
}

// ready starts or skips w once every join input is resolved: it starts when
// at least one was taken, and is skipped (dead-path elimination) otherwise.
func (d *decider) ready(w int) {
	s := &d.st.Steps[w]
	if s.Status != StepPending || s.Resolved < len(d.g.steps[w].in) {
		return
	}
	if s.Taken > 0 {
		d.activate(w, -1, 0)
		return
	}
	d.skip(w)
}

func (d *decider) skip(w int) {
	if d.terminal() {
		return
	}
	s := &d.st.Steps[w]
	s.Status = StepSkipped
	d.emit(Action{Kind: ActionSkipStep, StepID: d.g.steps[w].step.ID, Iteration: s.Iteration, Reason: "no taken incoming transition"})
	for _, ei := range d.g.steps[w].out {
		d.untake(ei)
	}
	d.endIterations(w)
}

// backEdge re-enters a loop, within its bounds.
func (d *decider) backEdge(e *edge) {
	li := -1
	for _, l := range d.g.steps[e.to].loops {
		if d.g.loops[l].head == e.to {
			li = l
		}
	}
	l := d.g.loops[li]
	ls := &d.st.Loops[li]
	over := ""
	switch {
	case ls.Iterations >= l.maxIter:
		over = fmt.Sprintf("loop %s (head %q) exceeded max_iterations %d", l.id, d.g.steps[l.head].step.ID, l.maxIter)
	case l.maxTime > 0 && d.at.Sub(ls.EnteredAt) > l.maxTime:
		over = fmt.Sprintf("loop %s (head %q) exceeded max_loop_time_seconds %g", l.id, d.g.steps[l.head].step.ID, l.maxTime.Seconds())
	}
	if over != "" {
		if !l.exit {
			d.failRun(over)
			return
		}
		// Exit policy: leave through the source's exit edges.
		for _, ei := range d.g.steps[e.from].out {
			x := d.g.edges[ei]
			if !x.back && (x.to < 0 || !l.inBody[x.to]) {
				d.st.Edges[ei] = edgeUnresolved
				d.forceTake(ei)
			}
		}
		return
	}
	// The source's view must exist before the loop resets the head: with a
	// self-loop the head's new view is built from its own previous one.
	d.viewOut(e.from)
	d.resetLoop(li)
	d.activate(l.head, e.idx, l.delay)
}

// forceTake takes an exit edge whose condition did not hold (loop exit policy).
func (d *decider) forceTake(ei int) {
	e := d.g.edges[ei]
	ls := &d.st.Loops[e.deferLoop]
	kept := ls.Deferred[:0]
	for _, df := range ls.Deferred {
		if df.Edge != ei {
			kept = append(kept, df)
		}
	}
	ls.Deferred = kept
	d.take(ei)
}

// resetLoop returns the loop body to pending for a new iteration. Steps of
// the old iteration still in flight are cancelled; their late events are
// stale because the iteration moved on.
func (d *decider) resetLoop(li int) {
	l := d.g.loops[li]
	st := d.st
	for _, v := range l.body {
		s := &st.Steps[v]
		switch s.Status {
		case StepRunning, StepWaiting:
			if s.Status == StepWaiting {
				st.Waiting--
			}
			d.addActive(v, -1)
			d.emit(Action{Kind: ActionCancelStep, StepID: d.g.steps[v].step.ID, Iteration: s.Iteration, Reason: "loop " + l.id + " started a new iteration"})
		}
		s.Status = StepPending
		s.Epoch++
		s.Resolved, s.Taken = 0, 0
		for _, ei := range d.g.steps[v].in {
			src := d.g.edges[ei].from
			if l.inBody[src] {
				st.Edges[ei] = edgeUnresolved
				continue
			}
			switch st.Edges[ei] {
			case edgeTaken:
				s.Resolved++
				s.Taken++
			case edgeUntaken:
				s.Resolved++
			}
		}
		if v != l.head {
			for _, inner := range d.g.steps[v].loops {
				if inner != li && d.g.loops[inner].head == v {
					st.Loops[inner] = LoopState{}
				}
			}
		}
	}
}

// endIterations flushes the deferred exit edges of every loop around v whose
// iteration just ended (nothing in its body is active any more).
func (d *decider) endIterations(v int) {
	for _, li := range d.g.steps[v].loops {
		if d.st.Loops[li].Active == 0 {
			d.flush(li)
		}
	}
}

func (d *decider) flush(li int) {
	ls := &d.st.Loops[li]
	for len(ls.Deferred) > 0 && !d.terminal() {
		df := ls.Deferred[0]
		ls.Deferred = ls.Deferred[1:]
		e := d.g.edges[df.Edge]
		if d.st.Steps[e.from].Epoch != df.Epoch {
			continue // the source was reset by a later iteration
		}
		d.resolveUntaken(df.Edge)
		ls = &d.st.Loops[li]
	}
	ls.Deferred = nil
}

func (d *decider) addActive(v, delta int) {
	d.st.Active += delta
	for _, li := range d.g.steps[v].loops {
		d.st.Loops[li].Active += delta
	}
}

// stopActive cancels every running or waiting step (O(steps); only on
// cancel and failure).
func (d *decider) stopActive() {
	st := d.st
	if st.Active == 0 {
		return
	}
	for i := range st.Steps {
		s := &st.Steps[i]
		if s.Status == StepRunning || s.Status == StepWaiting {
			if s.Status == StepWaiting {
				st.Waiting--
			}
			s.Status = StepCancelled
			s.FinishedAt = d.at
			d.addActive(i, -1)
			d.emit(Action{Kind: ActionCancelStep, StepID: d.g.steps[i].step.ID, Iteration: s.Iteration})
		}
	}
}

func (d *decider) failRun(reason string) {
	if d.terminal() {
		return
	}
	d.stopActive()
	d.finish(RunFailed, nil, reason)
}

func (d *decider) finish(status RunStatus, output any, reason string) {
	d.st.Status = status
	d.st.Error = reason
	d.st.Output = output
	d.emit(Action{Kind: ActionFinishRun, Status: status, Output: output, Error: reason})
}

// settle completes the run when nothing is active any more, and keeps the
// waiting status in step with parked human steps.
func (d *decider) settle() {
	st := d.st
	if d.terminal() {
		return
	}
	if st.Active == 0 {
		for again := true; again && !d.terminal(); {
			again = false
			for li := range st.Loops {
				if len(st.Loops[li].Deferred) > 0 {
					d.flush(li)
					again = true
				}
			}
		}
		if d.terminal() || st.Active > 0 {
			d.settleWaiting()
			return
		}
		for i := range st.Steps {
			if st.Steps[i].Status == StepPending {
				st.Steps[i].Status = StepSkipped
				d.emit(Action{Kind: ActionSkipStep, StepID: d.g.steps[i].step.ID, Reason: "not reached"})
			}
		}
		d.finish(RunCompleted, d.g.output(st), "")
		return
	}
	d.settleWaiting()
}

func (d *decider) settleWaiting() {
	st := d.st
	if d.terminal() {
		return
	}
	if st.Waiting > 0 && st.Waiting == st.Active {
		st.Status = RunWaiting
	} else {
		st.Status = RunRunning
	}
}

func (d *decider) resume() error {
	st := d.st
	if st.Status != RunFailed && st.Status != RunCancelled {
		return fmt.Errorf("%w: run is %s", ErrNothingToResume, st.Status)
	}
	var restart []int
	for i := range st.Steps {
		switch st.Steps[i].Status {
		case StepFailed, StepCancelled:
			restart = append(restart, i)
		}
	}
	if len(restart) == 0 && d.g.start >= 0 && st.Steps[d.g.start].Status == StepPending {
		restart = append(restart, d.g.start)
	}
	if len(restart) == 0 {
		return fmt.Errorf("%w: no failed or cancelled step", ErrNothingToResume)
	}
	st.Status = RunRunning
	st.Error = ""
	st.Output = nil
	st.Resumes++
	for _, i := range restart {
		st.Steps[i].Status = StepPending
		d.activate(i, st.Steps[i].Via, 0)
	}
	return nil
}

// --- data: merged views, inputs, config ---

// viewIn is the blackboard a step sees: the run's parameters and input, then
// the views of the steps that activated it (a join merges its branches in
// document order).
func (d *decider) viewIn(v int) *view {
	if m := d.st.viewsIn[v]; m != nil {
		return m
	}
	st := d.st
	s := &st.Steps[v]
	if d.computing[v] {
		// A loop led back here while rebuilding views lazily (a state
		// loaded from a store): start this step's view from the run's
		// parameters and input rather than recurse forever.
		return d.baseView()
	}
	if d.computing == nil {
		d.computing = make(map[int]bool)
	}
	d.computing[v] = true
	defer delete(d.computing, v)
	var srcs []int
	if s.Via >= 0 && s.Via < len(d.g.edges) {
		srcs = append(srcs, d.g.edges[s.Via].from)
	} else {
		for _, ei := range d.g.steps[v].in {
			if st.Edges[ei] == edgeTaken {
				srcs = append(srcs, d.g.edges[ei].from)
			}
		}
	}
	var m *view
	switch len(srcs) {
	case 0:
		m = d.baseView()
	case 1:
		m = d.viewOut(srcs[0]) // shared, not copied
	default:
		// Branches of a join finish in any order; merge them in document
		// order so the view (and so the result) is deterministic.
		sort.Ints(srcs)
		views := make([]*view, len(srcs))
		for i, p := range srcs {
			views[i] = d.viewOut(p)
		}
		m = mergeViews(views)
	}
	st.viewsIn[v] = m
	return m
}

func (d *decider) baseView() *view {
	m := make(map[string]any, len(d.st.Params)+len(d.st.Input))
	maps.Copy(m, d.st.Params)
	maps.Copy(m, d.st.Input)
	return flatView(m)
}

// viewOut is a completed step's view with its own output laid on top: the
// step id names the whole output, and a map output's fields come after it.
func (d *decider) viewOut(u int) *view {
	if m := d.st.viewsOut[u]; m != nil {
		return m
	}
	out := d.st.Steps[u].Output
	fields, _ := out.(map[string]any)
	layer := make(map[string]any, len(fields)+1)
	layer[d.g.steps[u].step.ID] = out
	maps.Copy(layer, fields)
	m := d.viewIn(u).over(layer)
	d.st.viewsOut[u] = m
	return m
}

func (d *decider) resolveInputs(n *node, sc *scope) (map[string]any, string) {
	if len(n.inputs) == 0 {
		return nil, ""
	}
	out := make(map[string]any, len(n.inputs))
	for _, in := range n.inputs {
		if in.tmpl == nil {
			out[in.name] = in.literal
			continue
		}
		v, missing := in.tmpl.Eval(sc)
		if v == nil && len(missing) > 0 && in.required {
			return nil, fmt.Sprintf("required input %q: %s did not resolve (%s)", in.name, fmt.Sprint(in.literal), d.why(missing))
		}
		out[in.name] = v
	}
	return out, ""
}

// why explains a missing reference: a skipped or not yet run step, or a
// missing field.
func (d *decider) why(missing [][]string) string {
	for _, ref := range missing {
		id := ""
		switch {
		case len(ref) >= 2 && ref[0] == "steps":
			id = ref[1]
		case len(ref) >= 1:
			id = ref[0]
		}
		if i, ok := d.g.index[id]; ok {
			s := d.st.Steps[i]
			if s.Status != StepSucceeded && s.Seq == 0 {
				return fmt.Sprintf("step %q is %s", id, s.Status)
			}
			return fmt.Sprintf("step %q has no field %v", id, ref)
		}
	}
	return fmt.Sprintf("no value at %v", missing)
}

func (d *decider) resolveConfig(n *node, sc *scope) map[string]any {
	if n.step.Config == nil {
		return nil
	}
	v, _, err := ResolveValue(n.step.Config, sc, TemplatesDouble)
	if err != nil {
		return n.step.Config
	}
	m, _ := v.(map[string]any)
	return m
}

// scope resolves template roots against the run: parameters, pipeline_input,
// steps.ID.output, a step id, result (the step being routed) and otherwise
// the merged view.
type scope struct {
	d    *decider
	self int // the step whose result "result" names; -1 for none
	view *view
}

func (s *scope) Lookup(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	st := s.d.st
	switch path[0] {
	case "parameters":
		return Walk(st.Params, path[1:])
	case "pipeline_input":
		return Walk(st.Input, path[1:])
	case "steps":
		if len(path) < 2 {
			return nil, false
		}
		out, ok := s.output(path[1])
		if !ok {
			return nil, false
		}
		rest := path[2:]
		if len(rest) > 0 && (rest[0] == "output" || rest[0] == "result") {
			rest = rest[1:]
		}
		return walkAny(out, rest)
	case "result":
		if s.self >= 0 {
			return walkAny(st.Steps[s.self].Output, path[1:])
		}
	}
	if out, ok := s.output(path[0]); ok {
		return walkAny(out, path[1:])
	}
	view := s.view
	if view == nil && s.self >= 0 {
		view = s.d.viewOut(s.self)
	}
	return view.lookup(path)
}

func (s *scope) output(id string) (any, bool) {
	i, ok := s.d.g.index[id]
	if !ok {
		return nil, false
	}
	st := &s.d.st.Steps[i]
	if st.Seq == 0 { // never completed
		return nil, false
	}
	return st.Output, true
}

func walkAny(v any, path []string) (any, bool) {
	if len(path) == 0 {
		return v, true
	}
	return Walk(v, path)
}
