package statepg

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ia-modules/ia-go/pkg/state"
)

const humanCols = `id, run_id, step_id, iteration, pipeline, status, prompt, ui_schema, assignees, quorum,
	config, decisions, deadline, created_at, closed_at`

func scanHuman(row pgx.Row) (*state.HumanTask, error) {
	var (
		t                        state.HumanTask
		ui, assignees, cfg, decs []byte
	)
	if err := row.Scan(&t.ID, &t.RunID, &t.StepID, &t.Iteration, &t.Pipeline, &t.Status, &t.Prompt, &ui, &assignees,
		&t.Quorum, &cfg, &decs, &t.Deadline, &t.CreatedAt, &t.ClosedAt); err != nil {
		return nil, err
	}
	t.UISchema, t.Config = ui, cfg
	if err := json.Unmarshal(assignees, &t.Assignees); err != nil {
		return nil, fmt.Errorf("assignees: %w", err)
	}
	if err := json.Unmarshal(decs, &t.Decisions); err != nil {
		return nil, fmt.Errorf("decisions: %w", err)
	}
	if len(t.Assignees) == 0 {
		t.Assignees = nil
	}
	if len(t.Decisions) == 0 {
		t.Decisions = nil
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.Deadline, t.ClosedAt = utcPtr(t.Deadline), utcPtr(t.ClosedAt)
	return &t, nil
}

// HumanTaskGet implements [state.Store].
func (s *Store) HumanTaskGet(ctx context.Context, id string) (*state.HumanTask, error) {
	t, err := scanHuman(s.pool.QueryRow(ctx, `SELECT `+humanCols+` FROM human_tasks WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("statepg: HumanTaskGet: %w", s.interpret(err))
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
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if p.Status != "" {
		add("status = ?", p.Status)
	}
	if p.Assignee != "" {
		add("assignees @> jsonb_build_array(?::text)", p.Assignee)
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("statepg: HumanTaskList: %w", s.interpret(err))
	}
	defer rows.Close()
	var out []state.HumanTask
	for rows.Next() {
		t, err := scanHuman(rows)
		if err != nil {
			return nil, fmt.Errorf("statepg: HumanTaskList: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("statepg: HumanTaskList: %w", s.interpret(err))
	}
	return out, nil
}

// HumanTaskDecide implements [state.Store]. A decision with neither By nor
// Decision set is not recorded, so Close can shut a task (timeout, cancel)
// without inventing a reviewer. A zero DecidedAt means now.
func (s *Store) HumanTaskDecide(ctx context.Context, p *state.HumanTaskDecideParams) (*state.HumanTask, error) {
	var out *state.HumanTask
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := scanHuman(tx.QueryRow(ctx, `SELECT `+humanCols+` FROM human_tasks WHERE id = $1 FOR UPDATE`, p.ID))
		if err != nil {
			return err
		}
		if err := t.Decide(p, us(time.Now())); err != nil {
			return err
		}
		decs, err := json.Marshal(t.Decisions)
		if err != nil {
			return err
		}
		if t.Decisions == nil {
			decs = []byte("[]")
		}
		if _, err := tx.Exec(ctx, `UPDATE human_tasks SET status = $2, decisions = $3, closed_at = $4 WHERE id = $1`,
			t.ID, t.Status, decs, t.ClosedAt); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statepg: HumanTaskDecide: %w", s.interpret(err))
	}
	return out, nil
}
