package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/client"
	"github.com/ia-modules/ia-go/pkg/state"
)

// collectEvents streams a run's events in the background until run_finished.
func collectEvents(t *testing.T, c *client.Client, runID string) func() []api.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var (
		mu   sync.Mutex
		evs  []api.Event
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		_, _ = c.Events(ctx, runID, 0, func(ev api.Event) bool {
			mu.Lock()
			defer mu.Unlock()
			evs = append(evs, ev)
			return ev.Type != "run_finished"
		})
	}()
	return func() []api.Event {
		select {
		case <-done:
		case <-t.Context().Done():
		}
		cancel()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(evs)
	}
}

func eventTypes(evs []api.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+":"+e.StepID)
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()

	t.Run("ApproveOverHTTP", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		producer, reviewer := b.client(t, state.RoleProducer), b.client(t, state.RoleReviewer)
		run := b.submit(t, state.RoleProducer, "review", map[string]any{"topic": "queues"})
		events := collectEvents(t, producer, run.ID)

		task := b.waitTask(t, run.ID, nil)
		listed, err := reviewer.ListHumanTasks(ctx, &client.ListHumanTasksParams{Status: state.HumanPending, Pipeline: "review"})
		require.NoError(t, err)
		require.Len(t, listed, 1)
		require.Equal(t, task.ID, listed[0].ID)
		require.Equal(t, "Approve the draft?", listed[0].Prompt)

		decided, err := reviewer.Decide(ctx, task.ID, map[string]any{"decision": "approve", "comment": "ship it"})
		require.NoError(t, err)
		require.Equal(t, state.HumanDecided, decided.Status)
		require.Equal(t, "reviewer-user", decided.Decisions[0].By)

		_, err = b.client(t, state.RoleAdmin).Decide(ctx, task.ID, map[string]any{"decision": "reject"})
		var apiErr *client.Error
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, http.StatusConflict, apiErr.Status)
		require.Equal(t, []string{"reviewer-user"}, apiErr.DecidedBy)

		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunCompleted, final.Status, final.Error)
		require.JSONEq(t, `{"published": "draft about queues"}`, string(final.Output))

		evs := events()
		types := eventTypes(evs)
		require.Contains(t, types, "step_waiting:review")
		require.Contains(t, types, "step_succeeded:publish")
		require.Equal(t, "run_finished:", types[len(types)-1])
		for i := 1; i < len(evs); i++ {
			require.Equal(t, evs[i-1].Seq+1, evs[i].Seq, "per-run Seqs are dense")
		}

		// Resume from the middle with Last-Event-ID: exactly the rest.
		mid := evs[len(evs)/2].Seq
		var rest []api.Event
		_, err = producer.Events(ctx, run.ID, mid, func(ev api.Event) bool {
			rest = append(rest, ev)
			return ev.Type != "run_finished"
		})
		require.NoError(t, err)
		require.Equal(t, evs[len(evs)/2+1:], rest)

		detail, err := producer.GetRun(ctx, run.ID)
		require.NoError(t, err)
		steps := map[string]api.Step{}
		for _, s := range detail.Steps {
			steps[s.StepID] = s
		}
		require.Equal(t, "succeeded", steps["publish"].Status)
		require.NotNil(t, steps["publish"].Attempts[0].DurationMS)
		require.JSONEq(t, `{"text": "draft about queues"}`, string(steps["publish"].Attempts[0].Input))
		require.Equal(t, "skipped", steps["revise"].Status)
		require.Len(t, detail.HumanTasks, 1)

		audit, err := b.auth.AuditList(ctx, &state.AuditListParams{Action: "human_tasks.decide"})
		require.NoError(t, err)
		require.Len(t, audit, 2, "the accepted and the refused decision are both audited")
		require.Equal(t, "admin-user", audit[0].Actor)
		require.Equal(t, http.StatusConflict, audit[0].Status)
		require.Equal(t, "reviewer-user", audit[1].Actor)
		require.Equal(t, task.ID, audit[1].Target)
		var details map[string]any
		require.NoError(t, json.Unmarshal(audit[1].Details, &details))
		require.Equal(t, map[string]any{"decision": "approve", "comment": "ship it"}, details["decision"])
	})

	t.Run("RejectRoutesToOtherBranch", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := b.submit(t, state.RoleProducer, "review", map[string]any{"topic": "x"})
		task := b.waitTask(t, run.ID, nil)
		_, err := b.client(t, state.RoleReviewer).Decide(t.Context(), task.ID, map[string]any{"decision": "reject", "channel": "email", "urgent": true})
		require.NoError(t, err)
		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunCompleted, final.Status, final.Error)
		require.JSONEq(t, `{"published": true}`, string(final.Output))
	})

	t.Run("TimeoutFail", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := b.submit(t, state.RoleProducer, "timeout_fail", nil)
		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunFailed, final.Status)
		task := b.waitTask(t, run.ID, nil)
		require.Equal(t, state.HumanExpired, task.Status)
		status, raw, _ := b.do(t, state.RoleAdmin, "POST", "/v1/human-tasks/"+task.ID+"/decision", `{"decision": {"decision": "approve"}}`)
		require.Equal(t, http.StatusConflict, status, string(raw))
		require.Equal(t, api.CodeAlreadyDecided, decodeErr(t, raw).Code)
	})

	t.Run("TimeoutDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := b.submit(t, state.RoleProducer, "timeout_default", nil)
		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunCompleted, final.Status, final.Error)
		detail, err := b.client(t, state.RoleOperator).GetRun(t.Context(), run.ID)
		require.NoError(t, err)
		var ran []string
		for _, s := range detail.Steps {
			ran = append(ran, s.StepID+"="+s.Status)
		}
		require.Contains(t, ran, "revise=succeeded", "the default decision (reject) routes to revise")
		require.Equal(t, "system:timeout", detail.HumanTasks[0].Decisions[0].By)
	})

	t.Run("TimeoutEscalate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := b.submit(t, state.RoleProducer, "timeout_escalate", nil)
		first := b.waitTask(t, run.ID, nil)
		require.Equal(t, []string{"nobody"}, first.Assignees)
		// The reviewer is not an assignee before or after escalation.
		status, raw, _ := b.do(t, state.RoleReviewer, "POST", "/v1/human-tasks/"+first.ID+"/decision", `{"decision": {"decision": "approve"}}`)
		require.Equal(t, http.StatusForbidden, status, string(raw))
		require.Equal(t, api.CodeNotAssignee, decodeErr(t, raw).Code)
		escalated := b.waitTask(t, run.ID, func(h *state.HumanTask) bool { return slices.Contains(h.Assignees, "carol") })
		require.Equal(t, state.HumanPending, escalated.Status)
		// An admin matches "role:admin" in escalate_to and decides in time.
		_, err := b.client(t, state.RoleAdmin).Decide(t.Context(), escalated.ID, map[string]any{"decision": "approve"})
		require.NoError(t, err)
		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunCompleted, final.Status, final.Error)
	})

	t.Run("QuorumOfTwo", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := b.submit(t, state.RoleProducer, "quorum", nil)
		task := b.waitTask(t, run.ID, nil)
		ctx := t.Context()
		first, err := b.client(t, state.RoleReviewer).Decide(ctx, task.ID, map[string]any{"decision": "approve"})
		require.NoError(t, err)
		require.Equal(t, state.HumanPending, first.Status, "one approval of two")
		_, err = b.client(t, state.RoleReviewer).Decide(ctx, task.ID, map[string]any{"decision": "approve"})
		require.True(t, client.IsStatus(err, http.StatusConflict), "the same reviewer cannot count twice: %v", err)
		run2, err := b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, state.RunWaiting, run2.Status)
		second, err := b.client(t, state.RoleAdmin).Decide(ctx, task.ID, map[string]any{"decision": "approve"})
		require.NoError(t, err)
		require.Equal(t, state.HumanDecided, second.Status)
		final := b.waitRun(t, run.ID, state.RunCompleted, state.RunFailed)
		require.Equal(t, state.RunCompleted, final.Status, final.Error)
	})

	t.Run("IdempotentSubmitCancelResume", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		c := b.client(t, state.RoleProducer)
		first, created, err := c.SubmitRun(ctx, &api.SubmitRequest{Pipeline: "review", Input: json.RawMessage(`{"topic":"a"}`), IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "k1", first.IdempotencyKey)
		status, raw, _ := b.do(t, state.RoleProducer, "POST", "/v1/runs", `{"pipeline":"review","input":{"topic":"a"}}`, "Idempotency-Key", "k1")
		require.Equal(t, http.StatusOK, status, string(raw))
		var again api.Run
		require.NoError(t, json.Unmarshal(raw, &again))
		require.Equal(t, first.ID, again.ID)
		// Another caller's key space is separate.
		other, created, err := b.client(t, "other").SubmitRun(ctx, &api.SubmitRequest{Pipeline: "review", Input: json.RawMessage(`{"topic":"a"}`), IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.True(t, created)
		require.NotEqual(t, first.ID, other.ID)

		list, err := c.ListRuns(ctx, &client.ListRunsParams{})
		require.NoError(t, err)
		require.Len(t, list.Runs, 1, "a producer lists only its own runs")
		all, err := b.client(t, state.RoleOperator).ListRuns(ctx, &client.ListRunsParams{Limit: 1})
		require.NoError(t, err)
		require.Len(t, all.Runs, 1)
		require.NotEmpty(t, all.NextCursor)
		page2, err := b.client(t, state.RoleOperator).ListRuns(ctx, &client.ListRunsParams{Limit: 1, Cursor: all.NextCursor})
		require.NoError(t, err)
		require.Len(t, page2.Runs, 1)
		require.NotEqual(t, all.Runs[0].ID, page2.Runs[0].ID)

		b.waitTask(t, first.ID, nil)
		op := b.client(t, state.RoleOperator)
		_, err = op.CancelRun(ctx, first.ID, "test")
		require.NoError(t, err)
		require.Equal(t, state.RunCancelled, b.waitRun(t, first.ID, state.RunCancelled).Status)
		_, err = op.CancelRun(ctx, first.ID, "again")
		require.True(t, client.IsStatus(err, http.StatusConflict), "%v", err)

		failed := b.submit(t, state.RoleProducer, "fails", nil)
		b.waitRun(t, failed.ID, state.RunFailed)
		_, err = op.RetryStep(ctx, failed.ID, "boom")
		require.NoError(t, err)
		_, err = op.ResumeRun(ctx, other.ID)
		require.True(t, client.IsStatus(err, http.StatusConflict), "a waiting run does not resume: %v", err)
	})
}
