package steps

import (
	"context"
	"encoding/json"
	"fmt"
)

// Typed adapts a function taking a decoded struct to [Handler]. In.Data is
// decoded into In with a JSON round trip (so json tags apply and unknown
// keys are ignored); the returned Out becomes Output.Data. A decoding error
// is [NonRetryable]: the same data would fail again.
func Typed[In, Out any](fn func(ctx context.Context, in *Input, args In) (Out, error)) Handler {
	return HandlerFunc(func(ctx context.Context, in *Input) (*Output, error) {
		var args In
		raw, err := json.Marshal(in.Data)
		if err != nil {
			return nil, NonRetryable(fmt.Errorf("steps: encode input of step %q: %w", in.StepID, err))
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, NonRetryable(fmt.Errorf("steps: decode input of step %q into %T: %w", in.StepID, args, err))
		}
		out, err := fn(ctx, in, args)
		if err != nil {
			return nil, err
		}
		return &Output{Data: out}, nil
	})
}
