package steps

import (
	"context"
	"fmt"
	"time"
)

// Sleep returns the "sleep" handler: it waits config.duration ("250ms", or a
// number of seconds; default 0) and outputs {"slept": "<duration>"}. It
// returns ctx's error, wrapped, when ctx ends first.
func Sleep() Handler {
	return HandlerFunc(func(ctx context.Context, in *Input) (*Output, error) {
		d, _, err := configDuration(in.Config, "duration")
		if err != nil {
			return nil, NonRetryable(err)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("steps: sleep %q interrupted: %w", in.StepID, ctx.Err())
		case <-t.C:
			return &Output{Data: map[string]any{"slept": d.String()}}, nil
		}
	})
}
