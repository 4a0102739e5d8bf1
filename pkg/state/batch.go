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
