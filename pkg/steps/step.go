package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strconv"
	"time"
)

// Input is everything a step sees for one attempt. The engine builds a new
// Input per attempt; handlers may read it freely but must not keep it after
// Run returns.
type Input struct {
	RunID  string
	StepID string
	// Iteration counts earlier visits of the step inside a loop; 0 for the
	// first visit and for steps outside loops.
	Iteration int
	// Attempt starts at 1 and grows with every retry of the same iteration.
	Attempt int
	// Class is the step_class from the pipeline JSON.
	Class string
	// Module is the Python module from the pipeline JSON, if any.
	Module string
	// Data is the merged blackboard view: the run input, then the outputs
	// of the step's ancestors in completion order, then Inputs on top.
	Data map[string]any
	// Inputs holds the resolved declared inputs only.
	Inputs map[string]any
	// Config is the step config after template substitution.
	Config map[string]any
	// IdempotencyKey is stable per (run, step, iteration, attempt). Pass it
	// to external systems so that a redelivered attempt does not repeat a
	// side effect. See [IdempotencyKey].
	IdempotencyKey string
	// Logger carries run_id and step_id attrs. It is never nil when the
	// engine calls a handler; use [Input.Log] when it may be.
	Logger *slog.Logger
}

// Log returns in.Logger, or a logger that discards everything when it is nil,
// so that handlers called from tests need no nil checks.
func (in *Input) Log() *slog.Logger {
	if in == nil || in.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return in.Logger
}

// Output is a step's result. Data must be JSON-encodable. A map is merged
// into the blackboard; any other value is stored under the step id. A map
// with "status": "human_input_required" pauses the branch (see
// [HumanInputRequired]).
type Output struct {
	Data any
}

// Handler runs one attempt of a step. Implementations must honour
// ctx.Done(): the engine cancels ctx on timeout, run cancellation and
// shutdown. A returned error is interpreted by [Classify].
type Handler interface {
	Run(ctx context.Context, in *Input) (*Output, error)
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, in *Input) (*Output, error)

// Run calls f(ctx, in).
func (f HandlerFunc) Run(ctx context.Context, in *Input) (*Output, error) { return f(ctx, in) }

// TimeoutProvider is an optional interface for a [Handler] that needs a
// per-attempt deadline other than the pipeline's. Zero means "use the
// pipeline's"; the engine takes the smaller of both when both are set.
type TimeoutProvider interface {
	Timeout() time.Duration
}

// RetryPolicyProvider is an optional interface for a [Handler] with its own
// retry policy. A nil policy means "use the pipeline's error_handling".
type RetryPolicyProvider interface {
	RetryPolicy() *RetryPolicy
}

// unwrapper is implemented by handlers that wrap another, such as the
// handlers returned by [Registry.Lookup] after middleware.
type unwrapper interface {
	Unwrap() Handler
}

// TimeoutOf reports h's [TimeoutProvider] timeout, looking through wrappers
// that implement Unwrap() Handler.
func TimeoutOf(h Handler) (time.Duration, bool) {
	for h != nil {
		if t, ok := h.(TimeoutProvider); ok {
			return t.Timeout(), true
		}
		u, ok := h.(unwrapper)
		if !ok {
			break
		}
		h = u.Unwrap()
	}
	return 0, false
}

// RetryPolicyOf reports h's [RetryPolicyProvider] policy, looking through
// wrappers that implement Unwrap() Handler.
func RetryPolicyOf(h Handler) (*RetryPolicy, bool) {
	for h != nil {
		if p, ok := h.(RetryPolicyProvider); ok {
			return p.RetryPolicy(), true
		}
		u, ok := h.(unwrapper)
		if !ok {
			break
		}
		h = u.Unwrap()
	}
	return nil, false
}

// IdempotencyKey derives the key the engine puts in [Input.IdempotencyKey].
// It is a hex digest so that ids containing separators cannot collide.
func IdempotencyKey(runID, stepID string, iteration, attempt int) string {
	// The SHA-256 of the four parts, each quoted (which length-delimits
	// it), in one buffer: a worker derives a key per attempt.
	var buf [128]byte
	b := strconv.AppendQuote(buf[:0], runID)
	b = strconv.AppendQuote(b, stepID)
	b = strconv.AppendInt(append(b, '"'), int64(iteration), 10)
	b = strconv.AppendInt(append(b, '"', '"'), int64(attempt), 10)
	sum := sha256.Sum256(append(b, '"'))
	return hex.EncodeToString(sum[:16])
}
