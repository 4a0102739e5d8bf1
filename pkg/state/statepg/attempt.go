package statepg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ia-modules/ia-go/pkg/state"
)

// StepAttemptPut implements [state.Store] in one statement.
func (s *Store) StepAttemptPut(ctx context.Context, attempts []state.StepAttempt) error {
	if len(attempts) == 0 {
		return nil
	}
	var recs []attemptRec
	for runID, as := range byRun(attempts) {
		recs = append(recs, attemptRecs(runID, as)...)
	}
	js, err := json.Marshal(sortAttempts(recs))
	if err != nil {
		return fmt.Errorf("statepg: StepAttemptPut: %w", err)
	}
	if _, err := s.pool.Exec(ctx, attemptPutSQL, js); err != nil {
		return fmt.Errorf("statepg: StepAttemptPut: %w", s.interpret(err))
	}
	return nil
}

// byRun groups attempts by run, keeping their order within each run.
func byRun(as []state.StepAttempt) map[string][]state.StepAttempt {
	m := make(map[string][]state.StepAttempt)
	for _, a := range as {
		m[a.RunID] = append(m[a.RunID], a)
	}
	return m
}
