package statesqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ia-modules/ia-go/pkg/state"
)

const humanCols = `id, run_id, step_id, iteration, pipeline, status, prompt, ui_schema, assignees, quorum,
	config, decisions, deadline, created_at, closed_at`

func scanHuman(row scanner) (*state.HumanTask, error) {
	var (
		t                state.HumanTask
		ui, cfg          sql.NullString
		assignees, decs  string
		deadline, closed sql.NullInt64
		created          int64
	)
	if err := row.Scan(&t.ID, &t.RunID, &t.StepID, &t.Iteration, &t.Pipeline, &t.Status, &t.Prompt, &ui, &assignees,
		&t.Quorum, &cfg, &decs, &deadline, &created, &closed); err != nil {
		return nil, err
	}
	t.UISchema, t.Config = jsonCol(ui), jsonCol(cfg)
	if err := json.Unmarshal([]byte(assignees), &t.Assignees); err != nil {
		return nil, fmt.Errorf("assignees: %w", err)
	}
	if err := json.Unmarshal([]byte(decs), &t.Decisions); err != nil {
		return nil, fmt.Errorf("decisions: %w", err)
	}
	if len(t.Assignees) == 0 {
		t.Assignees = nil
	}
	if len(t.Decisions) == 0 {
		t.Decisions = nil
	}
	t.CreatedAt, t.Deadline, t.ClosedAt = fromMicro(created), fromMicroNull(deadline), fromMicroNull(closed)
	return &t, nil
}

// upsertHumanTasks inserts or fully replaces tasks by ID, assigning missing
// IDs in place so the caller learns them.
func upsertHumanTasks(ctx context.Context, tx *sql.Tx, runID string, ts []state.HumanTask, now time.Time) error {
	for i := range ts {
		t := &ts[i]
		if t.ID == "" {
			t.ID = uuid.NewString()
		}
		status := t.Status
		if status == "" {
			status = state.HumanPending
		}
		created := t.CreatedAt
		if created.IsZero() {
			created = now
		}
		assignees, err := json.Marshal(orEmpty(t.Assignees))
		if err != nil {
			return err
		}
		decs, err := json.Marshal(orEmpty(t.Decisions))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO human_tasks (`+humanCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				run_id = excluded.run_id, step_id = excluded.step_id, iteration = excluded.iteration,
				pipeline = excluded.pipeline, status = excluded.status, prompt = excluded.prompt,
				ui_schema = excluded.ui_schema, assignees = excluded.assignees, quorum = excluded.quorum,
				config = excluded.config, decisions = excluded.decisions, deadline = excluded.deadline,
				created_at = excluded.created_at, closed_at = excluded.closed_at`,
			t.ID, runID, t.StepID, t.Iteration, t.Pipeline, status, t.Prompt, jsonArg(t.UISchema), string(assignees),
			t.Quorum, jsonArg(t.Config), string(decs), microPtr(t.Deadline), micro(created), microPtr(t.ClosedAt)); err != nil {
			return fmt.Errorf("human task %s: %w", t.ID, err)
		}
	}
	return nil
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// HumanTaskGet implements [state.Store].
func (s *Store) HumanTaskGet(ctx context.Context, id string) (*state.HumanTask, error) {
	t, err := scanHuman(s.r.QueryRowContext(ctx, `SELECT `+humanCols+` FROM human_tasks WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("statesqlite: HumanTaskGet: %w", s.interpret(err))
	}
	return t, nil
}

// HumanTaskListLimitDefault is the result cap when HumanTaskListParams.Limit
// is zero.
const HumanTaskListLimitDefault = 100

// HumanTaskList implements [state.Store]: oldest first.
func (s *Store) HumanTaskList(ctx context.Context, p *state.HumanTaskListParams) ([]state.HumanTask, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if p.Assignee != "" {
		add("EXISTS (SELECT 1 FROM json_each(human_tasks.assignees) WHERE value = ?)", p.Assignee)
	}
	if p.Pipeline != "" {
		add("pipeline = ?", p.Pipeline)
	}
	if p.RunID != "" {
		add("run_id = ?", p.RunID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = HumanTaskListLimitDefault
	}
	q := `SELECT ` + humanCols + ` FROM human_tasks`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY created_at, id LIMIT %d`, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("statesqlite: HumanTaskList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.HumanTask
	for rows.Next() {
		t, err := scanHuman(rows)
		if err != nil {
			return nil, fmt.Errorf("statesqlite: HumanTaskList: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statesqlite: HumanTaskList: %w", s.interpret(err))
	}
	return out, nil
}

// HumanTaskDecide implements [state.Store] with the semantics documented on
// statepg.Store.HumanTaskDecide.
func (s *Store) HumanTaskDecide(ctx context.Context, p *state.HumanTaskDecideParams) (*state.HumanTask, error) {
	var out *state.HumanTask
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		t, err := scanHuman(tx.QueryRowContext(ctx, `SELECT `+humanCols+` FROM human_tasks WHERE id = ?`, p.ID))
		if err != nil {
			return err
		}
		if err := t.Decide(p, nowUS()); err != nil {
			return err
		}
		decs, err := json.Marshal(orEmpty(t.Decisions))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE human_tasks SET status = ?, decisions = ?, closed_at = ? WHERE id = ?`,
			t.Status, string(decs), microPtr(t.ClosedAt), t.ID); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statesqlite: HumanTaskDecide: %w", s.interpret(err))
	}
	return out, nil
}
