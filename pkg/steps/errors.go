package steps

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	// ErrDuplicate is returned by [Registry.RegisterSafely] when the class is
	// already registered.
	ErrDuplicate = errors.New("steps: step class already registered")
	// ErrEmptyClass is returned when registering an empty step class.
	ErrEmptyClass = errors.New("steps: empty step class")
	// ErrInvalidConfig means a step's config cannot be used. Built-ins wrap
	// it in [NonRetryable], because retrying cannot fix the config.
	ErrInvalidConfig = errors.New("steps: invalid step config")
	// ErrNoModule is returned by the Python handler for a step without a
	// module.
	ErrNoModule = errors.New("steps: step has no module")
)

// Classification codes reported by [Classify].
const (
	CodeError        = "error"         // any other error; retryable
	CodeTimeout      = "timeout"       // context.DeadlineExceeded; retryable
	CodeCanceled     = "canceled"      // context.Canceled; retryable
	CodeNonRetryable = "non_retryable" // NonRetryableError
	CodeRetryAfter   = "retry_after"   // RetryAfterError
	CodeSnooze       = "snooze"        // SnoozeError
	CodeCancel       = "cancel"        // CancelError
)

// NonRetryableError marks a failure that retrying cannot fix (bad config, a
// validation error, a programming error). The step fails at once; the
// pipeline's continue_on_error and fallback still apply.
//
// The work may already have happened in part: the handler returned the error
// after running for a while. Only the handler knows which side effects it
// made; the engine will not run it again for this iteration.
type NonRetryableError struct{ Err error }

// NonRetryable wraps err so that the step is not retried.
func NonRetryable(err error) error { return &NonRetryableError{Err: err} }

func (e *NonRetryableError) Error() string { return "non-retryable: " + errString(e.Err) }
func (e *NonRetryableError) Unwrap() error { return e.Err }

// Is reports whether target is a *NonRetryableError, so that
// errors.Is(err, &NonRetryableError{}) matches any of them.
func (e *NonRetryableError) Is(target error) bool {
	_, ok := target.(*NonRetryableError)
	return ok
}

// RetryAfterError asks for a retry no sooner than After. It counts as a
// failed attempt: when attempts are exhausted the step fails with Err.
// Use it for rate limits (HTTP 429 with Retry-After).
//
// The attempt failed, but may have had side effects before it did; the next
// attempt gets a new [Input.IdempotencyKey], so reuse a key derived from the
// run and step (not the attempt) when a side effect must happen only once.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// RetryAfter wraps err so that the step is retried after at least d.
func RetryAfter(err error, d time.Duration) error { return &RetryAfterError{Err: err, After: d} }

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("retry after %s: %s", e.After, errString(e.Err))
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Is reports whether target is a *RetryAfterError.
func (e *RetryAfterError) Is(target error) bool {
	_, ok := target.(*RetryAfterError)
	return ok
}

// SnoozeError asks to run the step again after After without counting an
// attempt: the step is not failing, it is waiting (for a resource, a window,
// an external job). Snoozing forever is the handler's bug; the run deadline
// still applies.
//
// The handler promises that the snoozed attempt made no side effect that a
// rerun would repeat; the next call gets the same Attempt number.
type SnoozeError struct{ After time.Duration }

// Snooze reschedules the step after at least d without using an attempt.
func Snooze(d time.Duration) error { return &SnoozeError{After: d} }

func (e *SnoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.After) }

// Is reports whether target is a *SnoozeError.
func (e *SnoozeError) Is(target error) bool {
	_, ok := target.(*SnoozeError)
	return ok
}

// CancelError fails the step for good, without retry, fallback or
// continue_on_error: the handler decided the step must not complete (for
// example the thing it was to act on was withdrawn). Err says why.
//
// As with [NonRetryableError], the work may have happened in part.
type CancelError struct{ Err error }

// Cancel wraps err so that the step fails now and is never retried.
func Cancel(err error) error { return &CancelError{Err: err} }

func (e *CancelError) Error() string { return "cancelled: " + errString(e.Err) }
func (e *CancelError) Unwrap() error { return e.Err }

// Is reports whether target is a *CancelError.
func (e *CancelError) Is(target error) bool {
	_, ok := target.(*CancelError)
	return ok
}

// Classification is how the worker should treat a step's error.
type Classification struct {
	// Retryable is false when the step must fail now.
	Retryable bool
	// Delay is the minimum wait before the next try; zero means "use the
	// retry policy's backoff".
	Delay time.Duration
	// Snooze is true when the next try does not count as an attempt.
	Snooze bool
	// Code is one of the Code* constants.
	Code string
	// Message is err.Error().
	Message string
}

// Classify tells the worker what to do with err. Typed errors come first,
// found anywhere in the chain and checked in the order Cancel, NonRetryable,
// Snooze, RetryAfter, so that NonRetryable(ctx.Err()) is not retried. Then
// context.DeadlineExceeded is a retryable "timeout" and
// context.Canceled a retryable "canceled" (shutdown: another worker may take
// over). Every other error is retryable "error": the pipeline's
// error_handling decides how many attempts there are. Classify(nil) is the
// zero Classification.
func Classify(err error) Classification {
	if err == nil {
		return Classification{}
	}
	c := Classification{Retryable: true, Code: CodeError, Message: err.Error()}
	var (
		cancel  *CancelError
		nonRetr *NonRetryableError
		snooze  *SnoozeError
		after   *RetryAfterError
	)
	switch {
	case errors.As(err, &cancel):
		c.Retryable, c.Code = false, CodeCancel
	case errors.As(err, &nonRetr):
		c.Retryable, c.Code = false, CodeNonRetryable
	case errors.As(err, &snooze):
		c.Code, c.Delay, c.Snooze = CodeSnooze, snooze.After, true
	case errors.As(err, &after):
		c.Code, c.Delay = CodeRetryAfter, after.After
	case errors.Is(err, context.DeadlineExceeded):
		c.Code = CodeTimeout
	case errors.Is(err, context.Canceled):
		c.Code = CodeCanceled
	}
	return c
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
