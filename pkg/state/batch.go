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
	// and returns per update the new run or an error (ErrConflict / ErrNotFound for that update
	// alone; a transport error fails every update). Like RunUpdate, each p.Outbox[i].Seq is set.
	//
	// Updates are applied in order, each with exactly RunUpdate's semantics,
	// so a later update of the same run sees the earlier one's version. A
	// failing update writes nothing (no attempts, outbox rows or human tasks)
	// and does not stop the others. Both returned slices have len(ps)
	// entries, and for each i exactly one of runs[i] and errs[i] is non-nil.
	RunUpdateMany(ctx context.Context, ps []*RunUpdateParams) ([]*Run, []error)
}
