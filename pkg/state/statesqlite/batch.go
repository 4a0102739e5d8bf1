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
			resetSeqs(state.RunWrite{Update: p})
		}
	}
	return versions, errs
}

var _ state.BatchWriter = (*Store)(nil)

// RunWriteMany implements [state.BatchWriter]: RunUpdateMany with run
// inserts among the updates, all in one write transaction.
func (s *Store) RunWriteMany(ctx context.Context, ws []state.RunWrite) []state.RunWriteResult {
	res := make([]state.RunWriteResult, len(ws))
	if len(ws) == 0 {
		return res
	}
	now := nowUS()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		st := newTxStmts(ctx, tx)
		for i, w := range ws {
			switch {
			case w.Insert != nil:
				run, created, failed, err := s.runInsertTx(st, withDefaults(w.Insert, now), w.Insert, now)
				if err != nil {
					return fmt.Errorf("run insert: %w", err)
				}
				if failed != nil {
					res[i].Err = fmt.Errorf("statesqlite: RunWriteMany: %w", s.interpret(failed))
					continue
				}
				res[i].Run, res[i].Created = run, created
			case w.Update != nil:
				run, failed, err := s.runUpdateTx(st, w.Update, now, false)
				if err != nil {
					return fmt.Errorf("run %s: %w", w.Update.ID, err)
				}
				if failed != nil {
					res[i].Err = fmt.Errorf("statesqlite: RunWriteMany: %w", s.interpret(failed))
					continue
				}
				res[i].Version = run.Version
			default:
				res[i].Err = fmt.Errorf("statesqlite: RunWriteMany: write %d has neither Insert nor Update", i)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("statesqlite: RunWriteMany: %w", s.interpret(err))
		for i, w := range ws {
			res[i] = state.RunWriteResult{Err: err}
			resetSeqs(w)
		}
	}
	return res
}

// resetSeqs zeroes the Seqs a rolled-back transaction had set.
func resetSeqs(w state.RunWrite) {
	var ms []state.OutboxMessage
	if w.Insert != nil {
		ms = w.Insert.Outbox
	} else if w.Update != nil {
		ms = w.Update.Outbox
	}
	for j := range ms {
		ms[j].Seq = 0
	}
}
