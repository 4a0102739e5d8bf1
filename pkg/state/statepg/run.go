package statepg

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ia-modules/ia-go/pkg/state"
)

const runCols = `id, pipeline_version_id, pipeline_slug, status, input, output, error, priority,
	idempotency_key, created_by, state, version, created_at, updated_at, finished_at`

// runScanner scans runCols, plus extra trailing destinations.
func scanRun(row pgx.Row, extra ...any) (*state.Run, error) {
	var (
		r                   state.Run
		input, output, stat []byte
	)
	dest := append([]any{&r.ID, &r.PipelineVersionID, &r.PipelineSlug, &r.Status, &input, &output, &r.Error,
		&r.Priority, &r.IdempotencyKey, &r.CreatedBy, &stat, &r.Version, &r.CreatedAt, &r.UpdatedAt, &r.FinishedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	r.Input, r.Output, r.State = input, output, stat
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if r.FinishedAt != nil {
		t := r.FinishedAt.UTC()
		r.FinishedAt = &t
	}
	return &r, nil
}

// RunInsert implements [state.Store]. An empty Run.ID gets a UUID, an empty
// Status RunPending; Version starts at 1.
func (s *Store) RunInsert(ctx context.Context, p *state.RunInsertParams) (*state.Run, bool, error) {
	r := p.Run
	if r.ID == "" {
		r.ID = uuid.NewString()
	}
	if r.Status == "" {
		r.Status = state.RunPending
	}
	now := us(time.Now())
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	outbox, err := json.Marshal(outboxRecs(r.ID, p.Outbox))
	if err != nil {
		return nil, false, fmt.Errorf("statepg: RunInsert: %w", err)
	}
	var attempts, human []byte // NULL: none
	if len(p.Attempts) > 0 {
		if attempts, err = json.Marshal(attemptRecs(r.ID, p.Attempts)); err != nil {
			return nil, false, fmt.Errorf("statepg: RunInsert: %w", err)
		}
	}
	if len(p.HumanTasks) > 0 {
		if human, err = json.Marshal(humanRecs(r.ID, p.HumanTasks, now)); err != nil {
			return nil, false, fmt.Errorf("statepg: RunInsert: %w", err)
		}
	}
	// One statement: the outbox rows are written only if the run row was,
	// and their seqs come back for the caller to publish and delete them.
	var (
		seqs   []int64
		msgIDs []string
	)
	run, err := scanRun(s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO runs (id, pipeline_version_id, pipeline_slug, status, input, output, error, priority,
				idempotency_key, created_by, state, version, created_at, updated_at, finished_at)
			VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $15)
			ON CONFLICT (idempotency_key) WHERE idempotency_key <> '' DO NOTHING
			RETURNING `+runCols+`
		), ob AS (
			`+outboxInsertInto+outboxInsertSelect+`, ins
			RETURNING seq, msg_id
		), att AS (
			`+attemptInsertInto+`
			SELECT x.run_id, x.step_id, x.iteration, x.attempt, coalesce(x.status, ''), x.input, x.output,
				coalesce(x.error, ''), coalesce(x.worker_id, ''), x.started_at, x.finished_at
			FROM jsonb_to_recordset($16::jsonb) AS x(run_id text, step_id text, iteration int, attempt int, status text,
				input jsonb, output jsonb, error text, worker_id text, started_at timestamptz, finished_at timestamptz), ins
			`+attemptOnConflict+`
		), hum AS (
			`+humanUpsert("$17", ", ins")+`
		)
		SELECT `+runCols+`, array(SELECT seq FROM ob), array(SELECT msg_id FROM ob) FROM ins`,
		outbox, r.ID, r.PipelineVersionID, r.PipelineSlug, r.Status, []byte(r.Input), []byte(r.Output), r.Error,
		r.Priority, r.IdempotencyKey, r.CreatedBy, []byte(r.State), us(r.CreatedAt), now, usPtr(r.FinishedAt),
		attempts, human), &seqs, &msgIDs)
	if err == nil {
		setSeqs(p.Outbox, seqs, msgIDs)
		return run, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("statepg: RunInsert: %w", s.interpret(err))
	}
	run, err = scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE idempotency_key = $1 AND idempotency_key <> ''`, r.IdempotencyKey))
	if err != nil {
		return nil, false, fmt.Errorf("statepg: RunInsert: existing run for idempotency key: %w", s.interpret(err))
	}
	return run, false, nil
}

// RunGet implements [state.Store].
func (s *Store) RunGet(ctx context.Context, id string) (*state.Run, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runCols+` FROM runs WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("statepg: RunGet: %w", s.interpret(err))
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
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
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
		add("created_at >= ?", p.Since)
	}
	if !p.Until.IsZero() {
		add("created_at < ?", p.Until)
	}
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("statepg: RunList: %w", err)
		}
		args = append(args, at, id)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("statepg: RunList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, "", fmt.Errorf("statepg: RunList: %w", err)
		}
		out = append(out, *r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("statepg: RunList: %w", s.interpret(err))
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "," + id))
}

var errBadCursor = errors.New("invalid cursor")

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	ts, id, ok := strings.Cut(string(b), ",")
	if !ok {
		return time.Time{}, "", errBadCursor
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	return time.UnixMicro(n).UTC(), id, nil
}

const runUpdateSQL = `WITH u AS (
	UPDATE runs SET
		status = coalesce(nullif($3, ''), status),
		state = coalesce($4, state),
		output = coalesce($5, output),
		error = coalesce(nullif($6, ''), error),
		finished_at = CASE WHEN $7 THEN coalesce(finished_at, $8) ELSE finished_at END,
		updated_at = $8,
		version = version + 1
	WHERE id = $1 AND version = $2
	RETURNING ` + runCols + `
)
SELECT u.*, ia_require_rows((SELECT count(*) FROM u)) FROM (SELECT 1) AS one LEFT JOIN u ON true`

// RunUpdate implements [state.Store]. Zero fields of p keep the stored value:
// an empty Status, nil State or Output, empty Error. Finished sets
// FinishedAt (once). Attempts are upserted field by field (zero fields keep
// the stored value); human tasks are inserted or fully replaced by ID.
//
// Everything is sent as one batch, which the server runs as one implicit
// transaction: when the guarded UPDATE matches no row, ia_require_rows raises,
// the rest of the batch is skipped and nothing is written.
func (s *Store) RunUpdate(ctx context.Context, p *state.RunUpdateParams) (*state.Run, error) {
	now := us(time.Now())
	b := &pgx.Batch{}
	var run *state.Run
	b.Queue(runUpdateSQL, p.ID, p.ExpectedVersion, p.Status, []byte(p.State), []byte(p.Output), p.Error, p.Finished, now).
		QueryRow(func(row pgx.Row) error {
			var n int64
			r, err := scanRun(row, &n)
			run = r
			return err
		})
	if len(p.Attempts) > 0 {
		js, err := json.Marshal(attemptRecs(p.ID, p.Attempts))
		if err != nil {
			return nil, fmt.Errorf("statepg: RunUpdate: %w", err)
		}
		b.Queue(attemptUpsertSQL, js)
	}
	if len(p.Outbox) > 0 {
		js, err := json.Marshal(outboxRecs(p.ID, p.Outbox))
		if err != nil {
			return nil, fmt.Errorf("statepg: RunUpdate: %w", err)
		}
		// Report each message's seq back to the caller (matched by msg_id,
		// since RETURNING order is not guaranteed) so it can publish at
		// once after commit and delete exactly those rows.
		b.Queue(outboxInsertSQL+` RETURNING seq, msg_id`, js).Query(func(rows pgx.Rows) error {
			defer rows.Close()
			var (
				seqs   []int64
				msgIDs []string
			)
			for rows.Next() {
				var seq int64
				var msgID string
				if err := rows.Scan(&seq, &msgID); err != nil {
					return err
				}
				seqs, msgIDs = append(seqs, seq), append(msgIDs, msgID)
			}
			setSeqs(p.Outbox, seqs, msgIDs)
			return rows.Err()
		})
	}
	if len(p.HumanTasks) > 0 {
		js, err := json.Marshal(humanRecs(p.ID, p.HumanTasks, now))
		if err != nil {
			return nil, fmt.Errorf("statepg: RunUpdate: %w", err)
		}
		b.Queue(humanUpsertSQL, js)
	}
	if len(p.OutboxDelete) > 0 {
		b.Queue(outboxDeleteSQL, p.OutboxDelete)
	}
	err := s.pool.SendBatch(ctx, b).Close()
	if err == nil {
		return run, nil
	}
	if pgCode(err) != codeGuardFailed {
		return nil, fmt.Errorf("statepg: RunUpdate: %w", s.interpret(err))
	}
	var version int64
	err = s.pool.QueryRow(ctx, `SELECT version FROM runs WHERE id = $1`, p.ID).Scan(&version)
	if err != nil {
		return nil, fmt.Errorf("statepg: RunUpdate %s: %w", p.ID, s.interpret(err))
	}
	return nil, fmt.Errorf("statepg: RunUpdate %s: expected version %d, have %d: %w", p.ID, p.ExpectedVersion, version, state.ErrConflict)
}

// StepAttemptList implements [state.Store]: ordered by iteration, step ID and
// attempt.
func (s *Store) StepAttemptList(ctx context.Context, runID string) ([]state.StepAttempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT run_id, step_id, iteration, attempt, status, input, output, error,
			worker_id, started_at, finished_at
		FROM step_attempts WHERE run_id = $1 ORDER BY iteration, step_id, attempt`, runID)
	if err != nil {
		return nil, fmt.Errorf("statepg: StepAttemptList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.StepAttempt
	for rows.Next() {
		var (
			a             state.StepAttempt
			input, output []byte
		)
		if err := rows.Scan(&a.RunID, &a.StepID, &a.Iteration, &a.Attempt, &a.Status, &input, &output, &a.Error,
			&a.WorkerID, &a.StartedAt, &a.FinishedAt); err != nil {
			return nil, fmt.Errorf("statepg: StepAttemptList: %w", err)
		}
		a.Input, a.Output = input, output
		a.StartedAt, a.FinishedAt = utcPtr(a.StartedAt), utcPtr(a.FinishedAt)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statepg: StepAttemptList: %w", s.interpret(err))
	}
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}
