package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
	"github.com/ia-modules/ia-go/pkg/queue/queuenats"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/worker"
)

const chain = `{"name":"chain","steps":[{"id":"a","step_class":"echo"},{"id":"b","step_class":"echo"},{"id":"c","step_class":"echo"}],
	"flow":{"start_at":"a","paths":[{"from":"a","to":"b"},{"from":"b","to":"c"}]}}`

type bundle struct {
	store state.Store
	a, b  *scheduler.Scheduler
	runID string
	ctx   context.Context
}

// backends returns a broker on an in-process NATS server and an in-memory
// store, both closed at cleanup.
func backends(t *testing.T) (*queuenats.Broker, state.Store) {
	t.Helper()
	srv, err := queuenats.StartEmbedded(t.Context(), queuenats.EmbeddedConfig{StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	br, err := queuenats.New(t.Context(), queuenats.Config{URL: srv.ClientURL()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = br.Close() })
	st, err := statesqlite.New(t.Context(), statesqlite.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return br, st
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := t.Context()
	br, st := backends(t)
	a, err := scheduler.New(scheduler.Config{Store: st, Broker: br})
	require.NoError(t, err)
	b, err := scheduler.New(scheduler.Config{Store: st, Broker: br})
	require.NoError(t, err)
	pv, _, err := a.PipelineImport(ctx, "chain", []byte(chain))
	require.NoError(t, err)
	run, created, err := a.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, Input: map[string]any{"x": 1.0}})
	require.NoError(t, err)
	require.True(t, created)
	return &bundle{store: st, a: a, b: b, runID: run.ID, ctx: ctx}
}

func done(step string) dag.Event {
	return dag.Event{Type: dag.EventStepSucceeded, StepID: step, Iteration: 1, Attempt: 1, Output: map[string]any{step: true}}
}

// TestApplyBehindCacheIsNotStale: a scheduler whose cached copy of a run is
// behind the store (another scheduler moved it on) must apply an event that
// belongs to the newer state instead of dropping it as stale.
func TestApplyBehindCacheIsNotStale(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	require.NoError(t, bd.a.Apply(bd.ctx, bd.runID, done("a"))) // a caches the run
	require.NoError(t, bd.b.Apply(bd.ctx, bd.runID, done("b"))) // b moves it on
	require.NoError(t, bd.a.Apply(bd.ctx, bd.runID, done("c")), "c's completion is valid in the stored state")
	run, err := bd.store.RunGet(bd.ctx, bd.runID)
	require.NoError(t, err)
	require.Equal(t, state.RunCompleted, run.Status)
	var out map[string]any
	require.NoError(t, json.Unmarshal(run.Output, &out))
	require.Equal(t, true, out["c"])
}

// TestApplyDuplicateIsStale: a redelivered completion changes nothing.
func TestApplyDuplicateIsStale(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	require.NoError(t, bd.a.Apply(bd.ctx, bd.runID, done("a")))
	before, err := bd.store.RunGet(bd.ctx, bd.runID)
	require.NoError(t, err)
	require.ErrorIs(t, bd.b.Apply(bd.ctx, bd.runID, done("a")), dag.ErrStale)
	require.ErrorIs(t, bd.a.Apply(bd.ctx, bd.runID, done("a")), dag.ErrStale)
	after, err := bd.store.RunGet(bd.ctx, bd.runID)
	require.NoError(t, err)
	require.Equal(t, before.Version, after.Version)
}

// TestCompleteInProcess: a completion handed over in process is committed
// with its attempt record; a repeat of it is dropped without an error (the
// worker must not fall back to the broker for it), and an output that is
// not JSON fails the step rather than the call.
func TestCompleteInProcess(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	ended := time.Now()
	c := worker.Completion{RunID: bd.runID, StepID: "a", Iteration: 1, Attempt: 1, WorkerID: "w-local",
		Output: json.RawMessage(`{"a":1}`), StartedAt: ended.Add(-time.Millisecond), EndedAt: ended}
	require.NoError(t, bd.a.Complete(bd.ctx, &c))
	require.NoError(t, bd.b.Complete(bd.ctx, &c), "a stale repeat is dropped")
	attempts, err := bd.store.StepAttemptList(bd.ctx, bd.runID)
	require.NoError(t, err)
	byStep := map[string]state.StepAttempt{}
	for _, a := range attempts {
		byStep[a.StepID] = a
	}
	require.Equal(t, "succeeded", byStep["a"].Status)
	require.Equal(t, "w-local", byStep["a"].WorkerID)
	require.JSONEq(t, `{"a":1}`, string(byStep["a"].Output))
	require.Equal(t, "running", byStep["b"].Status, "the successor was started")

	bad := worker.Completion{RunID: bd.runID, StepID: "b", Iteration: 1, Attempt: 1, Output: json.RawMessage(`{not json`), EndedAt: time.Now()}
	require.NoError(t, bd.a.Complete(bd.ctx, &bad))
	run, err := bd.store.RunGet(bd.ctx, bd.runID)
	require.NoError(t, err)
	require.Equal(t, state.RunFailed, run.Status)
	require.Contains(t, run.Error, "not JSON")

	missing := worker.Completion{RunID: "00000000-0000-0000-0000-000000000000", StepID: "a", Iteration: 1, Attempt: 1, EndedAt: time.Now()}
	require.NoError(t, bd.a.Complete(bd.ctx, &missing), "an unknown run is dropped")
}

// TestSubmitIdempotent: a repeated idempotency key returns the first run.
func TestSubmitIdempotent(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	pv, err := bd.store.PipelineVersionLatest(bd.ctx, "chain")
	require.NoError(t, err)
	first, created, err := bd.a.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.True(t, created)
	again, created, err := bd.b.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID, IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, first.ID, again.ID)
}

const review = `{"name":"review","steps":[{"id":"ask","type":"human_input","config":{"prompt":"ok?","timeout_seconds":3600}},{"id":"done","step_class":"echo"}],
	"flow":{"start_at":"ask","paths":[{"from":"ask","to":"done","condition":"result.decision == 'approve'"}]}}`

// TestDecideHumanClosesTheTask: the decision becomes the step's output, the
// waiting attempt is closed, and a second decision is refused.
func TestDecideHumanClosesTheTask(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	pv, _, err := bd.a.PipelineImport(bd.ctx, "review", []byte(review))
	require.NoError(t, err)
	run, _, err := bd.a.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	tasks, err := bd.store.HumanTaskList(bd.ctx, &state.HumanTaskListParams{RunID: run.ID})
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, "ok?", tasks[0].Prompt)
	_, err = bd.b.DecideHuman(bd.ctx, tasks[0].ID, state.HumanDecision{By: "alice", Decision: json.RawMessage(`{"decision":"approve"}`)})
	require.NoError(t, err)
	_, err = bd.a.DecideHuman(bd.ctx, tasks[0].ID, state.HumanDecision{By: "bob", Decision: json.RawMessage(`{"decision":"reject"}`)})
	require.ErrorIs(t, err, state.ErrAlreadyDecided)
	attempts, err := bd.store.StepAttemptList(bd.ctx, run.ID)
	require.NoError(t, err)
	for _, a := range attempts {
		if a.StepID == "ask" {
			require.Equal(t, "succeeded", a.Status)
			require.JSONEq(t, `{"decision":"approve"}`, string(a.Output))
		}
	}
	got, err := bd.store.RunGet(bd.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunRunning, got.Status, "done is now running on a worker")
}

// TestRunDeadline: a run that outlives its timeout_seconds fails and its
// in-flight step is cancelled.
func TestRunDeadline(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	require.NoError(t, bd.a.Start(bd.ctx))
	t.Cleanup(func() { _ = bd.a.Stop(context.Background()) })
	pv, _, err := bd.a.PipelineImport(bd.ctx, "slow", []byte(`{"name":"slow","timeout_seconds":0.2,
		"steps":[{"id":"wait","step_class":"sleep"}],"flow":{"start_at":"wait"}}`))
	require.NoError(t, err)
	run, _, err := bd.a.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	// No worker runs the step: only the deadline can end the run.
	require.Eventually(t, func() bool {
		got, err := bd.store.RunGet(bd.ctx, run.ID)
		return err == nil && got.Status == state.RunFailed
	}, 10*time.Second, 20*time.Millisecond)
	got, err := bd.store.RunGet(bd.ctx, run.ID)
	require.NoError(t, err)
	require.Contains(t, got.Error, "timeout_seconds 0.2")

	// A resumed run gets its timeout afresh, and only the new deadline
	// ends it.
	require.NoError(t, bd.a.Resume(bd.ctx, run.ID))
	resumed, err := bd.store.RunGet(bd.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunRunning, resumed.Status)
	require.Eventually(t, func() bool {
		got, err := bd.store.RunGet(bd.ctx, run.ID)
		return err == nil && got.Status == state.RunFailed
	}, 10*time.Second, 20*time.Millisecond, "the resumed run's own deadline")
	var st dag.RunState
	got, err = bd.store.RunGet(bd.ctx, run.ID)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(got.State, &st))
	require.Equal(t, 1, st.Resumes)
	require.Contains(t, got.Error, "timeout_seconds 0.2")
}

// TestApplyConcurrentFanIn: completions of a fan-out arriving at once are
// decided and committed in batches; each is applied exactly once (a
// concurrent duplicate is stale), and the join starts once, after all.
func TestApplyConcurrentFanIn(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	const width = 24
	var steps, paths []string
	for i := range width {
		steps = append(steps, fmt.Sprintf(`{"id":"m%d","step_class":"echo"}`, i))
		paths = append(paths, fmt.Sprintf(`{"from":"head","to":"m%d"},{"from":"m%d","to":"join"}`, i, i))
	}
	doc := `{"name":"fan","steps":[{"id":"head","step_class":"echo"},{"id":"join","step_class":"echo"},` + strings.Join(steps, ",") +
		`],"flow":{"start_at":"head","paths":[` + strings.Join(paths, ",") + `]}}`
	pv, _, err := bd.a.PipelineImport(bd.ctx, "fan", []byte(doc))
	require.NoError(t, err)
	run, _, err := bd.a.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	require.NoError(t, bd.a.Apply(bd.ctx, run.ID, done("head")))

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		ok    = map[string]int{}
		stale = map[string]int{}
	)
	for i := range 2 * width { // every completion twice, all at once
		wg.Go(func() {
			step := fmt.Sprintf("m%d", i%width)
			err := bd.a.Apply(bd.ctx, run.ID, done(step))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok[step]++
			case errors.Is(err, dag.ErrStale):
				stale[step]++
			default:
				t.Errorf("%s: %v", step, err)
			}
		})
	}
	wg.Wait()
	for i := range width {
		step := fmt.Sprintf("m%d", i)
		require.Equal(t, 1, ok[step], step)
		require.Equal(t, 1, stale[step], step)
	}
	attempts, err := bd.store.StepAttemptList(bd.ctx, run.ID)
	require.NoError(t, err)
	status := map[string]string{}
	for _, a := range attempts {
		status[a.StepID] = a.Status
	}
	for i := range width {
		require.Equal(t, "succeeded", status[fmt.Sprintf("m%d", i)])
	}
	require.Equal(t, "running", status["join"], "the join started")
	require.NoError(t, bd.b.Apply(bd.ctx, run.ID, done("join")), "another scheduler finishes it from the store")
	got, err := bd.store.RunGet(bd.ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunCompleted, got.Status)
	var st dag.RunState
	require.NoError(t, json.Unmarshal(got.State, &st))
	require.Equal(t, width+2, st.Executions, "every step ran once")
}

// TestPublishNowClaimsItsMessages: the tasks a scheduler publishes right
// after its commit are written claimed, so relays do not publish them a
// second time while they wait to be deleted; if the publish never happens
// (here the broker is gone) a relay takes them once the claim runs out.
func TestPublishNowClaimsItsMessages(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	br, st := backends(t)
	require.NoError(t, br.Close())
	s, err := scheduler.New(scheduler.Config{Store: st, Broker: br})
	require.NoError(t, err)
	pv, _, err := s.PipelineImport(ctx, "chain", []byte(chain))
	require.NoError(t, err)
	_, _, err = s.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)

	now := time.Now()
	early, err := st.OutboxClaim(ctx, &state.OutboxClaimParams{Now: now, Limit: 10, LeaseFor: time.Minute})
	require.NoError(t, err)
	require.Empty(t, early, "claimed by the scheduler that committed it")
	late, err := st.OutboxClaim(ctx, &state.OutboxClaimParams{Now: now.Add(time.Minute), Limit: 10, LeaseFor: time.Minute})
	require.NoError(t, err)
	require.Len(t, late, 1, "the first task, left for a relay")
}

// TestRunIDsAreTimeOrdered: run IDs are version 7 UUIDs, so a later run's
// ID sorts after an earlier one's and the runs in flight share the last
// pages of the indexes keyed by run.
func TestRunIDsAreTimeOrdered(t *testing.T) {
	t.Parallel()
	bd := setup(t)
	first, err := uuid.Parse(bd.runID)
	require.NoError(t, err)
	require.Equal(t, uuid.Version(7), first.Version())
	pv, err := bd.store.PipelineVersionLatest(bd.ctx, "chain")
	require.NoError(t, err)
	time.Sleep(2 * time.Millisecond) // v7 orders by the millisecond
	run, _, err := bd.a.Submit(bd.ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	require.Less(t, bd.runID, run.ID)
}
