package steps

import (
	"context"
	"errors"
	"fmt"
)

// Fail returns the "fail" handler, for testing retries and error handling.
// Config:
//   - message: the error message (default "step failed");
//   - retryable: when false the error is [NonRetryable] (default true);
//   - fail_attempts: fail attempts 1..N, then succeed with
//     {"attempts": <attempt>}; absent means fail every attempt.
func Fail() Handler {
	return HandlerFunc(func(_ context.Context, in *Input) (*Output, error) {
		msg, _, err := configString(in.Config, "message")
		if err != nil {
			return nil, NonRetryable(err)
		}
		retryable, hasRetryable, err := configBool(in.Config, "retryable")
		if err != nil {
			return nil, NonRetryable(err)
		}
		n, limited, err := configInt(in.Config, "fail_attempts")
		if err != nil {
			return nil, NonRetryable(err)
		}
		if limited && in.Attempt > n {
			return &Output{Data: map[string]any{"attempts": in.Attempt}}, nil
		}
		if msg == "" {
			msg = "step failed"
		}
		failure := fmt.Errorf("steps: fail %q attempt %d: %w", in.StepID, in.Attempt, errors.New(msg))
		if hasRetryable && !retryable {
			return nil, NonRetryable(failure)
		}
		return nil, failure
	})
}
