// Package worker executes step tasks: it consumes tasks from the broker,
// runs the registered step handler (or the Python shim for steps with a
// module) under the step's timeout with heartbeats, and publishes the
// outcome as a Completion on the events queue.
//
// # Guarantees
//
// A task is acked only after its completion is published, so a worker that
// dies mid-step leaves the task to be redelivered: steps run at least once.
// Completions carry a per-attempt de-duplication id, and the scheduler drops
// duplicate or late completions, so a re-run never starts successors twice.
// Each attempt gets a stable idempotency key (steps.Input.IdempotencyKey) for
// side effects that must not happen twice.
//
// # Shutdown
//
// Stop stops taking tasks and lets in-flight steps finish within the grace
// period; after it, their contexts are cancelled and the tasks handed back
// (Nak) for another worker.
package worker
