package statesqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/state"
)

// StepAttemptPut implements [state.Store] in one transaction.
func (s *Store) StepAttemptPut(ctx context.Context, attempts []state.StepAttempt) error {
	if len(attempts) == 0 {
		return nil
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		st := newTxStmts(ctx, tx)
		for _, a := range attempts {
			err := s.upsertAttempts(st, a.RunID, []state.StepAttempt{a})
			if err != nil && !isConstraint(err) { // a run that does not exist
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("statesqlite: StepAttemptPut: %w", s.interpret(err))
	}
	return nil
}
