// Package scheduler turns run events into durable decisions and tasks.
//
// # Flow
//
// Submit creates a run pinned to a pipeline version and commits its first
// decision. Workers report completions on the events queue; the scheduler
// loads the run, asks pkg/dag what to do, and commits the new state, step
// attempts, human tasks and outbox messages in one transaction guarded by
// the run's version (optimistic concurrency: several schedulers may run at
// once and none double-starts a step). A relay publishes the outbox after
// commit, so a crash between commit and publish re-publishes and never loses
// a task (or the tasks are published just before the commit, see below). Delayed starts (retry backoff, loop delays) are outbox messages
// with a due time.
//
// # Publishing before the commit
//
// On a store that is a state.PreCommitter (Postgres), the tasks that a
// step's completion from the events queue leads to are published inside
// the decision's transaction, after its version guard passed and before it
// commits; they need no outbox row. The completion is acknowledged only
// after the commit, so a decision lost before it is taken again from the
// same completion, with the same task ids, which the broker de-duplicates.
// A completion of such a task can then arrive before its decision is in the
// store (dag.ErrAhead): it is offered again, for Config.AheadHold, rather
// than dropped. Completions handed over in process are not kept until
// acknowledged, and a pipeline whose templates read steps that are not the
// reader's ancestors could give a decision taken again other inputs
// (dag.Graph.ReadsAncestorsOnly): their tasks go through the outbox
// (docs/guarantees.md).
//
// # Holding a run's transaction open
//
// On a state.RunLocker (Postgres), the commit of a decision that published
// before committing also locks the run again in a new transaction, held for
// Config.HoldRunLocks. The run's next decisions here then publish at once,
// since no other writer can have moved the run on, and hand their writes to
// that transaction, which commits when the run is quiet for a moment, or has
// carried enough, or is old enough (runlock.go, docs/guarantees.md).
//
// # Handing completions on
//
// A started scheduler keeps the runs it decides in memory. On a broker with
// a direct lane (JetStream: core NATS request-reply), it serves one under
// its name and names itself on every task it publishes; a scheduler that
// receives a completion for another's task hands it on there and settles
// it once that one has committed it, or applies it itself when that one is
// gone or slow. So a run's decisions stay with one scheduler however many
// run, without reading the run back (docs/guarantees.md).
//
// # Group commit
//
// Decisions on different runs that are ready at the same time share one
// store transaction, and so do new runs when the store can (the
// state.BatchUpdater and state.BatchWriter capabilities). Under load a
// group may wait Config.CommitDelay for more; a lone decision never waits.
//
// # Attempt records
//
// A started scheduler holds an attempt's "running" record for up to
// Config.AttemptRecordDelay and writes it with the attempt's end, so a
// short step costs one row written once. Longer steps get their running
// record when the delay is over; a lost one is made good by the worker's
// completion, which echoes the inputs and its start (docs/guarantees.md).
package scheduler
