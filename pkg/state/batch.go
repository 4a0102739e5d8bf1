package state

import "context"

// BatchUpdater is implemented by stores that can commit several runs' updates in one transaction.
//
// A scheduler that has decided on several runs at once (group commit) calls
// RunUpdateMany instead of RunUpdate in a loop: one transaction, and on
// Postgres one round trip, instead of one per run. Discover it with a type
// assertion on the [Store].
type BatchUpdater interface {
	// RunUpdateMany applies every update whose ExpectedVersion matches, all in one transaction,
	// and returns per update the run's new version or an error (ErrConflict / ErrNotFound for
	// that update alone; a transport error fails every update). Like RunUpdate, each
	// p.Outbox[i].Seq is set. Only versions come back, not runs: the caller holds what it
	// wrote, and reading back each run's state and input would cost more than the update.
	//
	// Updates are applied in order, each with exactly RunUpdate's semantics,
	// so a later update of the same run sees the earlier one's version. A
	// failing update writes nothing (no attempts, outbox rows or human tasks)
	// and does not stop the others. Both returned slices have len(ps)
	// entries; versions[i] is 0 exactly when errs[i] is non-nil.
	RunUpdateMany(ctx context.Context, ps []*RunUpdateParams) (versions []int64, errs []error)
}

// BatchWriter is implemented by stores that can also insert runs in a group commit.
//
// A new run then shares the transaction of the decisions committed with it
// instead of paying one of its own: on SQLite a run insert alone cost as
// much as a group of several decisions (docs/benchmarks.md).
type BatchWriter interface {
	BatchUpdater
	// RunWriteMany applies ws in order in one transaction: each insert with
	// exactly RunInsert's semantics (an idempotency key that finds a run,
	// also one inserted earlier in the same batch, returns it with Created
	// false), each update with RunUpdateMany's. A write that is refused (an
	// update's ErrConflict or ErrNotFound, an insert that breaks a
	// constraint) writes nothing and does not stop the others; a transport
	// error fails every write and leaves every Seq zero. The result has
	// len(ws) entries.
	RunWriteMany(ctx context.Context, ws []RunWrite) []RunWriteResult
}

// RunWrite is one write of a group commit: exactly one of Insert and Update is set.
type RunWrite struct {
	Insert *RunInsertParams
	Update *RunUpdateParams
}

// RunWriteResult is the outcome of one RunWrite.
type RunWriteResult struct {
	// Run is the inserted (or, with Created false, the existing) run of an
	// insert; nil for an update.
	Run     *Run
	Created bool
	// Version is an update's new version.
	Version int64
	Err     error
}

// PreCommitter is implemented by stores whose group commit can call back before it commits.
//
// The scheduler publishes a decision's tasks there, once the decision's
// rows are written and its run's version checked (and the run row locked),
// but before the commit: the task's trip to a worker then overlaps the
// commit's flush to disk, and the task needs no outbox row, because until
// the commit the completion that led to the decision is not acknowledged,
// and a lost decision is taken again from that completion, with the same
// task ids (de-duplicated by the broker). See pkg/scheduler's doc.
type PreCommitter interface {
	BatchUpdater
	// RunUpdateManyThen is RunUpdateMany that calls then once, after the
	// updates are applied and before they commit: applied[i] reports
	// whether ps[i] passed its version guard, and then no other update of
	// that run can commit until this transaction ends. When then returns an
	// error, the transaction rolls back and every update fails with it.
	RunUpdateManyThen(ctx context.Context, ps []*RunUpdateParams, then func(ctx context.Context, applied []bool) error) (versions []int64, errs []error)
}
