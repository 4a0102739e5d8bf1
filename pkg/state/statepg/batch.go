package statepg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ia-modules/ia-go/pkg/state"
)

var _ state.BatchUpdater = (*Store)(nil)

// runUpdateItemSQL applies one update as one statement that cannot fail for
// a stale or missing run: the writes to step_attempts, outbox and
// human_tasks cross-join the guarded UPDATE's RETURNING (u), so they write
// nothing unless it matched. The result is the updated run (ok = true, with
// the inserted outbox rows' seqs and msg_ids), or, when the guard failed, the
// stored run as the statement's snapshot saw it (ok = false: a conflict), or
// no row (the run does not exist). Either way the row carries only the
// run's version: returning the state blob would send it back over the wire.
//
// $1 id, $2 expected version, $3 status, $4 state, $5 output, $6 error,
// $7 finished, $8 now, $9 attempts, $10 outbox, $11 human tasks (jsonb
// arrays, NULL for none), $12 published outbox seqs to delete (NULL: none).
var runUpdateItemSQL = `WITH u AS (
	UPDATE runs SET
		status = coalesce(nullif($3, ''), status),
		state = coalesce($4, state),
		output = coalesce($5, output),
		error = coalesce(nullif($6, ''), error),
		finished_at = CASE WHEN $7 THEN coalesce(finished_at, $8) ELSE finished_at END,
		updated_at = $8,
		version = version + 1
	WHERE id = $1 AND version = $2
	RETURNING version
), a AS (
	` + attemptUpsert("$9", ", u") + `
), o AS (
	` + outboxInsertInto + outboxInsertFrom("$10") + `, u
	RETURNING seq, msg_id
), h AS (
	` + humanUpsert("$11", ", u") + `
), d AS (
	DELETE FROM outbox USING u WHERE $12::bigint[] IS NOT NULL AND outbox.seq = ANY($12::bigint[])
)
SELECT version, true, array(SELECT seq FROM o), array(SELECT msg_id FROM o) FROM u
UNION ALL
SELECT version, false, NULL, NULL FROM runs WHERE id = $1 AND NOT EXISTS (SELECT FROM u)`

// RunUpdateMany implements [state.BatchUpdater] in one round trip: one
// runUpdateItemSQL statement per update, sent as one pgx batch, which the
// server runs as one implicit transaction. A stale or missing run makes its
// own statement write nothing, without an error, so the other updates
// commit; any error from the server rolls back the whole batch and is
// returned for every update.
func (s *Store) RunUpdateMany(ctx context.Context, ps []*state.RunUpdateParams) ([]int64, []error) {
	versions := make([]int64, len(ps))
	errs := make([]error, len(ps))
	if len(ps) == 0 {
		return versions, errs
	}
	failAll := func(err error) ([]int64, []error) {
		err = fmt.Errorf("statepg: RunUpdateMany: %w", err)
		for i := range ps {
			versions[i], errs[i] = 0, err
		}
		return versions, errs
	}

	now := us(time.Now())
	b := &pgx.Batch{}
	for _, p := range ps {
		args, err := runUpdateItemArgs(p, now)
		if err != nil {
			return failAll(err)
		}
		b.Queue(runUpdateItemSQL, args...)
	}

	type result struct {
		version int64 // 0: the run does not exist
		ok      bool
		seqs    []int64
		msgIDs  []string
	}
	res := make([]result, len(ps))
	br := s.pool.SendBatch(ctx, b)
	var batchErr error
	for i := range ps {
		r := &res[i]
		err := br.QueryRow().Scan(&r.version, &r.ok, &r.seqs, &r.msgIDs)
		switch {
		case err == nil:
		case errors.Is(err, pgx.ErrNoRows):
			// The run does not exist; r.version stays 0.
		default:
			batchErr = err
		}
		if batchErr != nil {
			break
		}
	}
	// Results read before an error were rolled back with the rest.
	if err := errors.Join(batchErr, br.Close()); err != nil {
		return failAll(s.interpret(err))
	}

	for i, p := range ps {
		r := res[i]
		switch {
		case r.version == 0:
			errs[i] = fmt.Errorf("statepg: RunUpdateMany %s: %w", p.ID, state.ErrNotFound)
		case !r.ok:
			errs[i] = fmt.Errorf("statepg: RunUpdateMany %s: expected version %d, have %d: %w",
				p.ID, p.ExpectedVersion, r.version, state.ErrConflict)
		default:
			versions[i] = r.version
			setSeqs(p.Outbox, r.seqs, r.msgIDs)
		}
	}
	return versions, errs
}

// runUpdateItemArgs returns runUpdateItemSQL's arguments for p. It assigns
// missing human task IDs in p, as RunUpdate does.
func runUpdateItemArgs(p *state.RunUpdateParams, now time.Time) ([]any, error) {
	var attempts, outbox, human []byte // NULL: no rows
	var err error
	if len(p.Attempts) > 0 {
		if attempts, err = json.Marshal(attemptRecs(p.ID, p.Attempts)); err != nil {
			return nil, err
		}
	}
	if len(p.Outbox) > 0 {
		if outbox, err = json.Marshal(outboxRecs(p.ID, p.Outbox)); err != nil {
			return nil, err
		}
	}
	if len(p.HumanTasks) > 0 {
		if human, err = json.Marshal(humanRecs(p.ID, p.HumanTasks, now)); err != nil {
			return nil, err
		}
	}
	var deletes []int64 // nil: NULL
	if len(p.OutboxDelete) > 0 {
		deletes = p.OutboxDelete
	}
	return []any{p.ID, p.ExpectedVersion, p.Status, []byte(p.State), []byte(p.Output), p.Error, p.Finished, now,
		attempts, outbox, human, deletes}, nil
}
