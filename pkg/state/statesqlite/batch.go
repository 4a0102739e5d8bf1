package statesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/state"
)

var _ state.BatchUpdater = (*Store)(nil)

// RunUpdateMany implements [state.BatchUpdater]: one write transaction on the
// writer connection, the updates applied in order with RunUpdate's
// semantics. An update whose run is missing or whose version moved on is
// refused before it writes anything, and the others go on. Any other error
// rolls the transaction back and is returned for every update; the Seqs it
// had set are then reset to zero.
func (s *Store) RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	versions := make([]int64, len(ps))
	errs := make([]error, len(ps))
	if len(ps) == 0 {
		return versions, errs
	}
	now := nowUS()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		st := newTxStmts(ctx, tx)
		for i, p := range ps {
			run, failed, err := s.runUpdateTx(st, p, now, false)
			if err != nil {
				return fmt.Errorf("run %s: %w", p.ID, err)
			}
			if failed != nil {
				errs[i] = fmt.Errorf("statesqlite: RunUpdateMany: %w", s.interpret(failed))
				continue
			}
			versions[i] = run.Version
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("statesqlite: RunUpdateMany: %w", s.interpret(err))
		for i, p := range ps {
			versions[i], errs[i] = 0, err
			for j := range p.Outbox {
				p.Outbox[j].Seq = 0
			}
		}
	}
	return versions, errs
}
