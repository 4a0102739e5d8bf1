package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// Kinds of control events the scheduler sends itself through the outbox.
const (
	kindHumanTimeout = "human_timeout"
	kindRunTimeout   = "run_timeout"
)

// Timeout policies of a human step (config "on_timeout").
const (
	OnTimeoutFail     = "fail"
	OnTimeoutDefault  = "default"
	OnTimeoutEscalate = "escalate"
)

// humanTimeoutMessage schedules the timeout check of a human task.
func humanTimeoutMessage(t state.HumanTask, round int) state.OutboxMessage {
	payload, _ := json.Marshal(map[string]any{"task_id": t.ID})
	body, _ := json.Marshal(worker.Completion{Kind: kindHumanTimeout, RunID: t.RunID, StepID: t.StepID, Iteration: t.Iteration, Output: payload})
	return state.OutboxMessage{RunID: t.RunID, Queue: queue.EventsQueue, MsgID: fmt.Sprintf("htimeout.%s.%d", t.ID, round),
		Body: body, DeliverAt: *t.Deadline, Headers: map[string]string{"run_id": t.RunID, "step_id": t.StepID}}
}

// DecideHuman records one decision on a human task. When the task closes
// (its quorum is reached) the decision becomes the step's output and the run
// continues. A task decided before returns state.ErrAlreadyDecided.
func (s *Scheduler) DecideHuman(ctx context.Context, taskID string, d state.HumanDecision) (*state.HumanTask, error) {
	if d.DecidedAt.IsZero() {
		d.DecidedAt = time.Now()
	}
	task, err := s.cfg.Store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: taskID, Decision: d})
	if err != nil {
		return nil, err
	}
	if task.Status != state.HumanDecided {
		return task, nil // more approvals needed
	}
	return task, s.feedDecision(ctx, task)
}

// feedDecision applies a closed task's decision to its run. With a quorum
// above one the output lists every decision and repeats the last one.
func (s *Scheduler) feedDecision(ctx context.Context, task *state.HumanTask) error {
	var out any
	if n := len(task.Decisions); n > 0 {
		_ = json.Unmarshal(task.Decisions[n-1].Decision, &out)
		if task.Quorum > 1 {
			all := make([]any, 0, n)
			for _, d := range task.Decisions {
				var v any
				_ = json.Unmarshal(d.Decision, &v)
				all = append(all, map[string]any{"by": d.By, "decision": v, "decided_at": d.DecidedAt})
			}
			m, ok := out.(map[string]any)
			if !ok {
				m = map[string]any{"decision": out}
			}
			m["decisions"] = all
			out = m
		}
	}
	err := s.Apply(ctx, task.RunID, dag.Event{Type: dag.EventHumanDecision, StepID: task.StepID, Iteration: task.Iteration, Output: out})
	if errors.Is(err, dag.ErrStale) {
		return nil // the run moved on (cancelled, or a loop restarted the step)
	}
	return err
}

// humanTimeout applies the step's timeout policy to a task still pending at
// its deadline.
func (s *Scheduler) humanTimeout(ctx context.Context, c *worker.Completion) error {
	var ref struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(c.Output, &ref); err != nil {
		return fmt.Errorf("%w: bad human timeout event: %w", dag.ErrStale, err)
	}
	task, err := s.cfg.Store.HumanTaskGet(ctx, ref.TaskID)
	if err != nil {
		return err
	}
	if task.Status != state.HumanPending {
		return nil
	}
	if task.Deadline != nil && time.Now().Before(*task.Deadline) {
		return nil // escalated since: a later timeout message covers it
	}
	var cfg map[string]any
	_ = json.Unmarshal(task.Config, &cfg)
	policy, _ := cfg["on_timeout"].(string)
	escalated, _ := cfg["escalated"].(bool)
	switch {
	case policy == OnTimeoutDefault:
		dec, _ := json.Marshal(cfg["default_decision"])
		task, err = s.cfg.Store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: task.ID, Close: true, Status: state.HumanDecided,
			Decision: state.HumanDecision{By: "system:timeout", Decision: dec, DecidedAt: time.Now()}})
		if errors.Is(err, state.ErrAlreadyDecided) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.feedDecision(ctx, task)
	case policy == OnTimeoutEscalate && !escalated:
		return s.escalate(ctx, task, cfg)
	default:
		_, err = s.cfg.Store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: task.ID, Close: true, Status: state.HumanExpired})
		if errors.Is(err, state.ErrAlreadyDecided) {
			return nil
		}
		if err != nil {
			return err
		}
		err = s.Apply(ctx, task.RunID, dag.Event{Type: dag.EventStepFailed, StepID: task.StepID, Iteration: task.Iteration,
			Error: &dag.StepError{Message: fmt.Sprintf("human task %s timed out", task.ID), Code: "human_timeout"}})
		if errors.Is(err, dag.ErrStale) {
			return nil
		}
		return err
	}
}

// escalate hands the task to the step's escalate_to assignees with a fresh
// deadline, once.
func (s *Scheduler) escalate(ctx context.Context, task *state.HumanTask, cfg map[string]any) error {
	var to []string
	if l, ok := cfg["escalate_to"].([]any); ok {
		for _, a := range l {
			if v, ok := a.(string); ok {
				to = append(to, v)
			}
		}
	}
	cfg["escalated"] = true
	task.Config, _ = json.Marshal(cfg)
	if len(to) > 0 {
		task.Assignees = to
	}
	timeout := time.Hour
	if task.Deadline != nil {
		timeout = max(task.Deadline.Sub(task.CreatedAt), time.Second)
	}
	dl := time.Now().Add(timeout)
	task.Deadline = &dl
	for range maxConflictRetries {
		run, err := s.cfg.Store.RunGet(ctx, task.RunID)
		if err != nil {
			return err
		}
		_, err = s.cfg.Store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: run.Version, Status: run.Status,
			State: run.State, HumanTasks: []state.HumanTask{*task}, Outbox: []state.OutboxMessage{humanTimeoutMessage(*task, 2)}})
		if errors.Is(err, state.ErrConflict) {
			continue
		}
		if err == nil {
			s.publishLive(task.RunID, task.StepID, "human_task_escalated", map[string]any{"task_id": task.ID, "assignees": task.Assignees})
			s.signal()
		}
		return err
	}
	return fmt.Errorf("escalating human task %s: too many concurrent updates", task.ID)
}
