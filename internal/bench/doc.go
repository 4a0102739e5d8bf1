// Package bench measures the engine end to end against the raw broker it
// runs on, on the same machine and in the same process run.
//
// # What is measured
//
// Two workloads run on a real engine (scheduler and worker roles in this
// process, backends chosen by URL exactly as in ia run): a 10-step no-op
// chain and a 1-50-1 fan-out. Every step is the bench no-op, which writes
// the wall-clock time at which it started and ended into its output, so
// that a hop, the time from one step's end to the next step's start on a
// worker, can be read back from the store's step attempts. For a step with
// several predecessors (the fan-out's join) the hop is counted from the
// last predecessor's end.
//
// For each workload and target (embedded, or distributed on Postgres with
// JetStream or asynq) the harness reports:
//
//   - runs/s and steps/s with many runs in flight (Concurrency, closed loop);
//   - p50 and p99 of the hop with one run at a time;
//   - the time from Submit to the first step's start on an idle system.
//
// Beside each figure stands the raw broker measured the same way: a bare
// task chain on the same broker seam (publish, consume, publish the next,
// ack), 10 steps per chain, and the ratio engine/raw.
//
// # Namespaces
//
// Every target gets a unique prefix: the Postgres schema, the JetStream
// stream and subjects and the asynq queues are named after it and are
// dropped when the target closes.
package bench
