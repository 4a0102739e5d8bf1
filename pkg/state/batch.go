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

// RunLocker is implemented by stores that can keep a run's row locked
// between two of its decisions (Postgres).
//
// A scheduler that holds the lock knows that its copy of the run is the
// stored one, since no other update of the run can commit meanwhile, so it
// may publish the next decision's tasks before writing anything: the
// version check that publishing before the commit waits for (see
// PreCommitter) was made when the lock was taken.
type RunLocker interface {
	PreCommitter
	// RunUpdateThenLock is RunUpdateManyThen for the one update p; once it
	// has committed, a new transaction locks the run at its new version
	// and is returned. The lock is nil when the update did not commit, or
	// when another transaction held the run at that moment.
	RunUpdateThenLock(ctx context.Context, p *RunUpdateParams, then func(ctx context.Context, applied bool) error) (int64, RunLock, error)
}

// RunLock is an open transaction that holds one run's row at Version,
// carrying updates of the run until it commits. It holds a connection:
// commit or release it soon.
type RunLock interface {
	// Version is the run's version, which no other update can change
	// while the lock is held.
	Version() int64
	// Write applies p, whose ExpectedVersion must be Version, inside the
	// transaction, without committing, and returns the new Version. On an
	// error the transaction is lost: release the lock.
	Write(ctx context.Context, p *RunUpdateParams) (int64, error)
	// Commit commits what Write wrote and returns the run's version. With
	// relock, a new transaction then locks the run again, in the same round
	// trip, as RunUpdateThenLock does. On an error nothing is committed and
	// the lock is gone.
	Commit(ctx context.Context, relock bool) (int64, RunLock, error)
	// Release rolls the transaction back and returns its connection.
	Release(ctx context.Context)
}
