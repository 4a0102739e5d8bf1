package dag

// Pipeline is the canonical model of one pipeline document, whatever dialect
// it was written in. Parse fills it; Compile turns it into a Graph.
type Pipeline struct {
	// File names the source for messages ("" when parsed from memory).
	File        string
	Name        string
	Description string
	Version     string
	Parameters  []*Parameter
	Steps       []*Step
	Edges       []*Edge
	// StartAt is flow.start_at; when absent, the first step.
	StartAt string
	// Outputs is the top-level outputs mapping (name → template), in
	// document order. Empty: the run output is the merged view.
	Outputs       []*NamedValue
	LoopConfig    *LoopConfig
	ErrorHandling *ErrorHandling
	// TimeoutSeconds is the run's deadline: a run still going after it
	// fails and its in-flight steps are cancelled. 0: no deadline.
	TimeoutSeconds float64
	Metadata       map[string]any
	// Extra keeps unknown top-level keys so that format preserves them;
	// FlowExtra the unknown keys of flow.
	Extra     map[string]any
	FlowExtra map[string]any

	pos positions
}

// Parameter is one declared run parameter.
type Parameter struct {
	Name        string
	Default     any
	HasDefault  bool
	Required    bool
	Schema      map[string]any
	Description string
	path        string
}

// Step types.
const (
	StepTask       = "task"
	StepHumanInput = "human_input"
	StepRouter     = "condition"
)

// Step is one node of the pipeline.
type Step struct {
	ID          string
	Name        string
	Type        string // task (default), human_input, condition
	Class       string // step_class or class
	Module      string
	Description string
	Config      map[string]any
	// Inputs are the declared inputs in document order.
	Inputs []*Input
	// InputsAsMap records that inputs were written as a name → template map.
	InputsAsMap bool
	Outputs     []*OutputDecl
	// Conditions are a router step's (type "condition") own conditions; the
	// router matches when all of them hold.
	Conditions    []any
	ErrorHandling *ErrorHandling
	// TimeoutSeconds bounds one attempt; 0: the engine default.
	TimeoutSeconds float64
	// Queue routes the step's tasks to a worker pool; "" is the default queue.
	Queue string
	Extra map[string]any

	path string
}

// Input is one declared step input.
type Input struct {
	Name     string
	Source   any // usually a template string; any JSON value is taken literally
	Required bool
	Schema   map[string]any
	Extra    map[string]any
}

// OutputDecl is one declared step output.
type OutputDecl struct {
	Name     string
	Required bool
	Schema   map[string]any
	// Bare records that the output was written as a plain name.
	Bare  bool
	Extra map[string]any
}

// NamedValue is one entry of an ordered mapping.
type NamedValue struct {
	Name  string
	Value any
}

// Edge is one flow transition.
type Edge struct {
	From string
	To   string
	// Condition is the raw condition as written (nil: always).
	Condition any
	Extra     map[string]any

	path string
}

// LoopConfig bounds loops (cycles in the flow).
type LoopConfig struct {
	// MaxIterations caps how many times a loop's head step may run in one
	// run; 0 means the default (DefaultMaxIterations) with a warning.
	MaxIterations int
	// MaxLoopTimeSeconds caps the wall-clock time since the loop was first
	// entered; 0: unbounded.
	MaxLoopTimeSeconds float64
	// IterationDelaySeconds delays each re-entry of the loop.
	IterationDelaySeconds float64
	// OnMaxIterations is "fail" (default) or "exit".
	OnMaxIterations string
	Extra           map[string]any
}

// ErrorHandling is a retry and failure policy, per step or pipeline-wide.
type ErrorHandling struct {
	// MaxAttempts is the total number of attempts (1: no retry). 0: unset.
	MaxAttempts     int
	InitialDelay    float64 // seconds; default 1
	MaxDelay        float64 // seconds; default 60
	Multiplier      float64 // default 2
	Jitter          *bool   // default true
	ContinueOnError bool
	// RetryOn lists error codes that are retried even when the step marked
	// them non-retryable; NoRetryOn lists codes never retried.
	RetryOn   []string
	NoRetryOn []string
	Extra     map[string]any
}

// Terminal flow targets.
const (
	EndTarget        = "end"
	EndFailureTarget = "end_with_failure"
)

// IsEndTarget reports whether id is a terminal marker: "end" or "end_*".
func IsEndTarget(id string) bool {
	return id == EndTarget || len(id) > 4 && id[:4] == "end_"
}

// Step returns the step with the given id, or nil.
func (p *Pipeline) Step(id string) *Step {
	for _, s := range p.Steps {
		if s.ID == id {
			return s
		}
	}
	return nil
}
