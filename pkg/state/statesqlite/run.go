package statesqlite

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ia-modules/ia-go/internal/jsonx"
	"github.com/ia-modules/ia-go/pkg/state"
)

const runCols = `id, pipeline_version_id, pipeline_slug, status, input, output, error, priority,
	idempotency_key, created_by, state, version, created_at, updated_at, finished_at`

func scanRun(row scanner) (*state.Run, error) {
	var (
		r                   state.Run
		input, output, stat sql.NullString
		created, updated    int64
		finished            sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.PipelineVersionID, &r.PipelineSlug, &r.Status, &input, &output, &r.Error,
		&r.Priority, &r.IdempotencyKey, &r.CreatedBy, &stat, &r.Version, &created, &updated, &finished); err != nil {
		return nil, err
	}
	r.Input, r.Output, r.State = jsonCol(input), jsonCol(output), jsonCol(stat)
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMicro(created), fromMicro(updated), fromMicroNull(finished)
	return &r, nil
}

// RunInsert implements [state.Store]. An empty Run.ID gets a UUID, an empty
// Status RunPending; Version starts at 1.
func (s *Store) RunInsert(ctx context.Context, p *state.RunInsertParams) (*state.Run, bool, error) {
	now := nowUS()
	r := withDefaults(p, now)
	var (
		out     *state.Run
		created bool
	)
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		run, isNew, failed, err := s.runInsertTx(newTxStmts(ctx, tx), r, p, now)
		if err == nil {
			err = failed
		}
		out, created = run, isNew
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("statesqlite: RunInsert: %w", s.interpret(err))
	}
	return out, created, nil
}

// runInsertTx inserts r (p.Run with its defaults set) and p's first
// decision in st's transaction, or returns the run r's idempotency key
// already names with created false. failed reports why this insert alone was
// refused (a constraint on the run row, which SQLite undoes by itself);
// err fails the whole transaction.
func (s *Store) runInsertTx(st *txStmts, r state.Run, p *state.RunInsertParams, now time.Time) (run *state.Run, created bool, failed, err error) {
	ctx := st.ctx
	if r.IdempotencyKey != "" {
		existing, err := scanRun(st.tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE idempotency_key = ?`, r.IdempotencyKey))
		if err == nil {
			return existing, false, nil, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil, err
		}
	}
	if _, err := st.get(s.stmts.runInsert).ExecContext(ctx,
		r.ID, r.PipelineVersionID, r.PipelineSlug, r.Status, jsonArg(r.Input), jsonArg(r.Output), r.Error,
		r.Priority, r.IdempotencyKey, r.CreatedBy, jsonArg(r.State), micro(r.CreatedAt), micro(now), microPtr(r.FinishedAt)); err != nil {
		if isConstraint(err) {
			return nil, false, fmt.Errorf("run %s: %w", r.ID, err), nil
		}
		return nil, false, nil, err
	}
	if err := s.insertOutbox(st, r.ID, p.Outbox, now); err != nil {
		return nil, false, nil, err
	}
	if err := s.upsertAttempts(st, r.ID, p.Attempts); err != nil {
		return nil, false, nil, err
	}
	if err := upsertHumanTasks(ctx, st.tx, r.ID, p.HumanTasks, now); err != nil {
		return nil, false, nil, err
	}
	return insertedRun(r, now), true, nil, nil
}

// withDefaults is p.Run as RunInsert stores it: an empty ID gets a UUID,
// an empty Status RunPending, a zero CreatedAt now.
func withDefaults(p *state.RunInsertParams, now time.Time) state.Run {
	r := p.Run
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	if r.Status == "" {
		r.Status = state.RunPending
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	return r
}

// insertedRun is the row RunInsert wrote for r at now, as RunGet would read
// it back: RETURNING would cost SQLite a temporary table.
func insertedRun(r state.Run, now time.Time) *state.Run {
	r.Version = 1
	r.CreatedAt, r.UpdatedAt = fromMicro(micro(r.CreatedAt)), now
	if r.FinishedAt != nil {
		t := fromMicro(micro(*r.FinishedAt))
		r.FinishedAt = &t
	}
	return &r
}

// RunGet implements [state.Store].
func (s *Store) RunGet(ctx context.Context, id string) (*state.Run, error) {
	r, err := scanRun(s.stmts.runGet.QueryRowContext(ctx, id))
	if err != nil {
		return nil, fmt.Errorf("statesqlite: RunGet: %w", s.interpret(err))
	}
	return r, nil
}

// RunListLimitDefault is the page size when RunListParams.Limit is zero.
const RunListLimitDefault = 50

// RunList implements [state.Store].
func (s *Store) RunList(ctx context.Context, p *state.RunListParams) ([]state.Run, string, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if p.PipelineSlug != "" {
		add("pipeline_slug = ?", p.PipelineSlug)
	}
	if p.CreatedBy != "" {
		add("created_by = ?", p.CreatedBy)
	}
	if !p.Since.IsZero() {
		add("created_at >= ?", micro(p.Since))
	}
	if !p.Until.IsZero() {
		add("created_at < ?", micro(p.Until))
	}
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("statesqlite: RunList: %w", err)
		}
		add("(created_at, id) < (?, ?)", at, id)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = RunListLimitDefault
	}
	q := `SELECT ` + runCols + ` FROM runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("statesqlite: RunList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, "", fmt.Errorf("statesqlite: RunList: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("statesqlite: RunList: %w", s.interpret(err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(micro(last.CreatedAt), 10) + "," + last.ID))
	}
	return out, next, nil
}

var errBadCursor = errors.New("invalid cursor")

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", errBadCursor
	}
	ts, id, ok := strings.Cut(string(b), ",")
	if !ok {
		return 0, "", errBadCursor
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return 0, "", errBadCursor
	}
	return n, id, nil
}

// RunUpdate implements [state.Store] with the semantics documented on
// statepg.Store.RunUpdate: zero fields keep stored values, attempts are
// upserted field by field, human tasks are replaced by ID.
func (s *Store) RunUpdate(ctx context.Context, p *state.RunUpdateParams) (*state.Run, error) {
	now := nowUS()
	var out *state.Run
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		run, failed, err := s.runUpdateTx(newTxStmts(ctx, tx), p, now, true)
		if err != nil {
			return err
		}
		if failed != nil {
			return failed
		}
		out = run
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statesqlite: RunUpdate: %w", s.interpret(err))
	}
	return out, nil
}

// runUpdateTx applies one update in st's transaction. failed reports why
// this update alone was refused (ErrConflict, or sql.ErrNoRows for a missing
// run) before it wrote anything; err fails the whole transaction. With full
// it returns the updated run, otherwise only its ID and new Version.
func (s *Store) runUpdateTx(st *txStmts, p *state.RunUpdateParams, now time.Time, full bool) (run *state.Run, failed, err error) {
	ctx := st.ctx
	args := []any{p.Status, jsonArg(p.State), jsonArg(p.Output), p.Error, p.Finished, micro(now), micro(now), p.ID, p.ExpectedVersion}
	if full {
		run, err = scanRun(st.get(s.stmts.runUpdate).QueryRowContext(ctx, args...))
	} else {
		var res sql.Result
		stmt := s.stmts.runUpdateLite
		if p.Status == "" {
			stmt, args = s.stmts.runUpdateKeepStatus, args[1:]
		}
		if res, err = st.get(stmt).ExecContext(ctx, args...); err == nil {
			if n, rerr := res.RowsAffected(); rerr != nil {
				err = rerr
			} else if n == 0 {
				err = sql.ErrNoRows
			} else {
				run = &state.Run{ID: p.ID, Version: p.ExpectedVersion + 1}
			}
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		var version int64
		switch err := st.get(s.stmts.runVersion).QueryRowContext(ctx, p.ID).Scan(&version); {
		case errors.Is(err, sql.ErrNoRows):
			return nil, fmt.Errorf("run %s: %w", p.ID, err), nil
		case err != nil:
			return nil, nil, err
		}
		return nil, fmt.Errorf("run %s: expected version %d, have %d: %w", p.ID, p.ExpectedVersion, version, state.ErrConflict), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.upsertAttempts(st, p.ID, p.Attempts); err != nil {
		return nil, nil, err
	}
	if err := s.insertOutbox(st, p.ID, p.Outbox, now); err != nil {
		return nil, nil, err
	}
	if len(p.OutboxDelete) > 0 {
		list, err := json.Marshal(p.OutboxDelete)
		if err != nil {
			return nil, nil, err
		}
		if _, err := st.get(s.stmts.outboxDelete).ExecContext(ctx, string(list)); err != nil {
			return nil, nil, fmt.Errorf("outbox delete: %w", err)
		}
	}
	if err := upsertHumanTasks(ctx, st.tx, p.ID, p.HumanTasks, now); err != nil {
		return nil, nil, err
	}
	return run, nil, nil
}

// upsertAttempts writes the run's attempts in order.
func (s *Store) upsertAttempts(st *txStmts, runID string, as []state.StepAttempt) error {
	for _, a := range as {
		if _, err := st.get(s.stmts.attemptUpsert).ExecContext(st.ctx,
			runID, a.StepID, a.Iteration, a.Attempt, a.Status, jsonArg(a.Input), jsonArg(a.Output), a.Error, a.WorkerID,
			microPtr(a.StartedAt), microPtr(a.FinishedAt)); err != nil {
			return fmt.Errorf("attempt %s/%d/%d: %w", a.StepID, a.Iteration, a.Attempt, err)
		}
	}
	return nil
}

// insertOutbox inserts ms, setting each one's Seq in place: the caller
// publishes at once after commit and deletes by seq.
func (s *Store) insertOutbox(st *txStmts, runID string, ms []state.OutboxMessage, now time.Time) error {
	for i := range ms {
		m := ms[i]
		var headers any
		if m.Headers != nil {
			headers = string(jsonx.AppendStringMap(nil, m.Headers))
		}
		if m.RunID == "" {
			m.RunID = runID
		}
		at := now
		if !m.DeliverAt.IsZero() {
			at = m.DeliverAt
		}
		var claimed any
		if !m.ClaimedUntil.IsZero() {
			claimed = micro(m.ClaimedUntil)
		}
		res, err := st.get(s.stmts.outboxInsert).ExecContext(st.ctx, m.RunID, m.Queue, m.MsgID, m.Priority, headers, m.Body, micro(at), claimed)
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		ms[i].Seq = id
	}
	return nil
}

// StepAttemptList implements [state.Store]: ordered by iteration, step ID and
// attempt.
func (s *Store) StepAttemptList(ctx context.Context, runID string) ([]state.StepAttempt, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT run_id, step_id, iteration, attempt, status, input, output, error,
			worker_id, started_at, finished_at
		FROM step_attempts WHERE run_id = ? ORDER BY iteration, step_id, attempt`, runID)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: StepAttemptList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.StepAttempt
	for rows.Next() {
		var (
			a                 state.StepAttempt
			input, output     sql.NullString
			started, finished sql.NullInt64
		)
		if err := rows.Scan(&a.RunID, &a.StepID, &a.Iteration, &a.Attempt, &a.Status, &input, &output, &a.Error,
			&a.WorkerID, &started, &finished); err != nil {
			return nil, fmt.Errorf("statesqlite: StepAttemptList: %w", err)
		}
		a.Input, a.Output = jsonCol(input), jsonCol(output)
		a.StartedAt, a.FinishedAt = fromMicroNull(started), fromMicroNull(finished)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statesqlite: StepAttemptList: %w", s.interpret(err))
	}
	return out, nil
}
