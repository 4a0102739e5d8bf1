// Package steps is the step API of the engine: what a step is, how it
// reports failure, and the steps that ship with it. It imports no broker or
// database driver; the worker wires it to those.
//
// # Handlers
//
// A step class (the step_class string of the pipeline JSON) maps to a
// [Handler] in a [Registry], as an HTTP route maps to an http.Handler:
//
//	r := steps.Builtins()
//	r.Register("greet", steps.HandlerFunc(func(ctx context.Context, in *steps.Input) (*steps.Output, error) {
//		return &steps.Output{Data: map[string]any{"greeting": "hello " + in.Data["name"].(string)}}, nil
//	}))
//
// A handler gets the merged blackboard view in [Input.Data] (run input,
// ancestors' outputs, declared inputs on top), the step config, and the
// run/step/attempt identity, including an [Input.IdempotencyKey] for side
// effects. It returns an [Output] whose map data is merged into the
// blackboard. Handlers must honour ctx: the engine cancels it on timeout,
// run cancellation and shutdown.
//
// [Typed] decodes Data into a struct for Go authors. [Middleware] wraps
// handlers (see [Registry.Use] and [Recover]). A handler may implement
// [TimeoutProvider] or [RetryPolicyProvider]; find them with [TimeoutOf] and
// [RetryPolicyOf], which see through the registry's middleware.
//
// # Errors and retries
//
// Handlers steer retries only through the errors they return; [Classify]
// turns an error into the worker's decision:
//
//   - [NonRetryable]: fail now (error_handling's fallback and
//     continue_on_error still apply);
//   - [Cancel]: fail now, with nothing else applied;
//   - [RetryAfter]: retry no sooner than a delay; counts as an attempt;
//   - [Snooze]: run again later; does not count as an attempt;
//   - context.DeadlineExceeded: a retryable "timeout";
//   - anything else: retryable; the pipeline's error_handling decides how
//     many attempts there are.
//
// Each error type documents whether the work may already have happened.
//
// # Human input
//
// A handler that returns a map with "status": "human_input_required" (see
// [RequestHumanInput]) pauses its branch; the engine records the request,
// and the human's answer becomes the step's output. Python steps pause the
// same way.
//
// # Built-in steps
//
// [RegisterBuiltins] registers echo ([Echo]), transform ([Transform],
// expr-lang expressions), fail ([Fail], for retry tests), sleep ([Sleep]) and
// exec ([Exec], any command speaking a JSON-over-stdio protocol).
//
// # Python steps
//
// [PythonHandler] runs any step that names a Python module, through a shim
// embedded in this package and written to a cache directory on first use.
// The shim carries a small, standard-library-only ia_modules compatibility
// package, so steps written for IA Modules (importing Step from
// ia_modules.pipeline or ia_modules.pipeline.core) run unchanged: they are
// built as Class(step_id, config) and called through run(data), or
// execute(data)/work(data), sync or async. One Python process runs per
// attempt; the step's prints and logs go to the worker's log, never into
// the protocol.
package steps
