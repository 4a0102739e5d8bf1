package steps

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Middleware wraps a [Handler] for cross-cutting concerns such as tracing,
// metrics and logging.
type Middleware func(Handler) Handler

// Chain wraps h in mws; mws[0] is outermost and runs first.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Recover turns a panic in a handler into a [NonRetryable] error carrying the
// stack, so that one bad step cannot crash a worker that serves many runs.
// A panic is a bug; retrying the same input would panic again.
func Recover() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, in *Input) (out *Output, err error) {
			defer func() {
				if p := recover(); p != nil {
					out, err = nil, NonRetryable(fmt.Errorf("steps: panic in step: %v\n%s", p, debug.Stack()))
				}
			}()
			return next.Run(ctx, in)
		})
	}
}
