package statetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// NewStoreFunc returns a fresh, isolated store and registers its cleanup.
type NewStoreFunc func(t *testing.T) state.Store

// Exercise runs the Store conformance suite against stores from newStore.
// Every subtest gets its own store, so they run in parallel.
func Exercise(t *testing.T, newStore NewStoreFunc) {
	t.Helper()

	type testBundle struct {
		store state.Store
		pv    *state.PipelineVersion
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		s := newStore(t)
		pv, created, err := s.PipelineVersionPut(t.Context(), &state.PipelineVersionPutParams{
			Slug: "demo", Name: "Demo", Hash: "h1", Definition: json.RawMessage(`{"steps":[]}`),
		})
		require.NoError(t, err)
		require.True(t, created)
		return &testBundle{store: s, pv: pv}
	}
	insertRun := func(t *testing.T, b *testBundle, r state.Run, outbox ...state.OutboxMessage) *state.Run {
		t.Helper()
		if r.PipelineVersionID == "" {
			r.PipelineVersionID, r.PipelineSlug = b.pv.ID, b.pv.Slug
		}
		run, created, err := b.store.RunInsert(t.Context(), &state.RunInsertParams{Run: r, Outbox: outbox})
		require.NoError(t, err)
		require.True(t, created)
		return run
	}

	t.Run("PipelineVersion", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		s := b.store

		again, created, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "demo", Name: "Demo", Hash: "h1", Definition: json.RawMessage(`{"steps":[]}`)})
		require.NoError(t, err)
		require.False(t, created, "same hash must not create a version")
		require.Equal(t, b.pv.ID, again.ID)
		require.Equal(t, 1, again.Version)

		v2, created, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "demo", Name: "Demo 2", Hash: "h2", Definition: json.RawMessage(`{"steps":[1]}`)})
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, 2, v2.Version)
		require.NotEqual(t, b.pv.ID, v2.ID)
		require.JSONEq(t, `{"steps":[1]}`, string(v2.Definition))

		latest, err := s.PipelineVersionLatest(ctx, "demo")
		require.NoError(t, err)
		require.Equal(t, v2.ID, latest.ID)
		require.Equal(t, "h2", latest.Hash)
		require.Equal(t, "Demo 2", latest.Name)

		got, err := s.PipelineVersionGet(ctx, b.pv.ID)
		require.NoError(t, err)
		require.Equal(t, 1, got.Version)
		require.Equal(t, "h1", got.Hash)
		require.False(t, got.CreatedAt.IsZero())

		list, err := s.PipelineVersionList(ctx, "demo")
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, []int{1, 2}, []int{list[0].Version, list[1].Version})

		_, _, err = s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "another", Hash: "x", Definition: json.RawMessage(`{}`)})
		require.NoError(t, err)
		all, err := s.PipelineList(ctx)
		require.NoError(t, err)
		require.Len(t, all, 2)
		require.Equal(t, "another", all[0].Slug)
		require.Equal(t, "demo", all[1].Slug)
		require.Equal(t, 2, all[1].Version)

		_, err = s.PipelineVersionGet(ctx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, state.ErrNotFound)
		_, err = s.PipelineVersionLatest(ctx, "missing")
		require.ErrorIs(t, err, state.ErrNotFound)
		none, err := s.PipelineVersionList(ctx, "missing")
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("PipelineVersionPutConcurrent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var wg sync.WaitGroup
		versions := make([]int, 6)
		errs := make([]error, 6)
		for i := range versions {
			wg.Go(func() {
				pv, _, err := b.store.PipelineVersionPut(t.Context(), &state.PipelineVersionPutParams{
					Slug: "race", Hash: fmt.Sprintf("h%d", i), Definition: json.RawMessage(`{}`),
				})
				errs[i] = err
				if err == nil {
					versions[i] = pv.Version
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		slices.Sort(versions)
		require.Equal(t, []int{1, 2, 3, 4, 5, 6}, versions)
	})

	t.Run("RunInsertAndGet", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{
			Input: json.RawMessage(`{"q":"hi"}`), Priority: 3, CreatedBy: "alice", State: json.RawMessage(`{"s":1}`),
		})
		require.NotEmpty(t, run.ID)
		require.Equal(t, state.RunPending, run.Status)
		require.Equal(t, int64(1), run.Version)
		require.Nil(t, run.FinishedAt)

		got, err := b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, run.ID, got.ID)
		require.Equal(t, b.pv.ID, got.PipelineVersionID)
		require.Equal(t, "demo", got.PipelineSlug)
		require.JSONEq(t, `{"q":"hi"}`, string(got.Input))
		require.JSONEq(t, `{"s":1}`, string(got.State))
		require.Nil(t, got.Output)
		require.Equal(t, 3, got.Priority)
		require.Equal(t, "alice", got.CreatedBy)
		require.True(t, run.CreatedAt.Equal(got.CreatedAt))
		require.Equal(t, got, run, "RunInsert returns the run as stored")

		// Runs without a key never collide.
		insertRun(t, b, state.Run{})
		insertRun(t, b, state.Run{})

		// The first decision's outbox rows come back with their seqs, so the
		// scheduler can publish and delete exactly those rows.
		p := &state.RunInsertParams{Run: state.Run{PipelineVersionID: b.pv.ID, PipelineSlug: b.pv.Slug},
			Outbox: []state.OutboxMessage{{Queue: "q", MsgID: "first-a"}, {Queue: "q", MsgID: "first-b"}}}
		_, created, err := b.store.RunInsert(ctx, p)
		require.NoError(t, err)
		require.True(t, created)
		require.NotZero(t, p.Outbox[0].Seq)
		require.NotZero(t, p.Outbox[1].Seq)
		require.NotEqual(t, p.Outbox[0].Seq, p.Outbox[1].Seq)
		require.NoError(t, b.store.OutboxDelete(ctx, []int64{p.Outbox[0].Seq}))
		msgs, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now().Add(time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "first-b", msgs[0].MsgID)

		_, err = b.store.RunGet(ctx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("RunInsertFirstDecision", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		started := time.Now().UTC().Truncate(time.Millisecond)
		p := &state.RunInsertParams{
			Run: state.Run{PipelineVersionID: b.pv.ID, PipelineSlug: b.pv.Slug, IdempotencyKey: "first-decision", Status: state.RunRunning},
			Attempts: []state.StepAttempt{
				{StepID: "a", Iteration: 1, Attempt: 1, Status: "running", Input: json.RawMessage(`{"x":1}`), StartedAt: &started},
				{StepID: "skipped", Iteration: 1, Status: "skipped"},
			},
			HumanTasks: []state.HumanTask{{StepID: "ask", Iteration: 1, Prompt: "ok?", Assignees: []string{"role:ops"}}},
		}
		run, created, err := b.store.RunInsert(ctx, p)
		require.NoError(t, err)
		require.True(t, created)
		as, err := b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 2)
		require.Equal(t, "a", as[0].StepID)
		require.Equal(t, "running", as[0].Status)
		require.JSONEq(t, `{"x":1}`, string(as[0].Input))
		require.Equal(t, "skipped", as[1].Status)
		require.NotEmpty(t, p.HumanTasks[0].ID, "the task ID is assigned in place")
		task, err := b.store.HumanTaskGet(ctx, p.HumanTasks[0].ID)
		require.NoError(t, err)
		require.Equal(t, run.ID, task.RunID)
		require.Equal(t, state.HumanPending, task.Status)

		// The same key again: the existing run, and nothing written.
		again := &state.RunInsertParams{
			Run:        state.Run{PipelineVersionID: b.pv.ID, PipelineSlug: b.pv.Slug, IdempotencyKey: "first-decision"},
			Attempts:   []state.StepAttempt{{StepID: "b", Iteration: 1, Attempt: 1, Status: "running"}},
			HumanTasks: []state.HumanTask{{ID: "00000000-0000-0000-0000-0000000000c1", StepID: "ask2", Prompt: "no"}},
		}
		dup, created, err := b.store.RunInsert(ctx, again)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, run.ID, dup.ID)
		as, err = b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 2)
		_, err = b.store.HumanTaskGet(ctx, "00000000-0000-0000-0000-0000000000c1")
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("RunInsertIdempotent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		first := insertRun(t, b, state.Run{IdempotencyKey: "key-1", Input: json.RawMessage(`{"n":1}`)},
			state.OutboxMessage{Queue: "steps", MsgID: "m1", Body: []byte("first")})

		second, created, err := b.store.RunInsert(ctx, &state.RunInsertParams{
			Run:    state.Run{PipelineVersionID: b.pv.ID, PipelineSlug: "demo", IdempotencyKey: "key-1", Input: json.RawMessage(`{"n":2}`)},
			Outbox: []state.OutboxMessage{{Queue: "steps", MsgID: "m2", Body: []byte("second")}},
		})
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.ID, second.ID)
		require.JSONEq(t, `{"n":1}`, string(second.Input))

		msgs, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now().Add(time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, 1, "the duplicate insert must not write outbox rows")
		require.Equal(t, "m1", msgs[0].MsgID)
		require.Equal(t, first.ID, msgs[0].RunID)
		require.Equal(t, []byte("first"), msgs[0].Body)

		// Concurrent inserts with one key: exactly one is created.
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[string]bool{}
			creates int
		)
		for range 6 {
			wg.Go(func() {
				r, c, err := b.store.RunInsert(ctx, &state.RunInsertParams{
					Run: state.Run{PipelineVersionID: b.pv.ID, PipelineSlug: "demo", IdempotencyKey: "key-2"},
				})
				if !assertNoError(t, err) {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[r.ID] = true
				if c {
					creates++
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, creates)
		require.Len(t, ids, 1)
	})

	t.Run("RunUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{State: json.RawMessage(`{"v":0}`)})
		started := time.Now().Add(-time.Second)

		up, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{
			ID: run.ID, ExpectedVersion: 1, Status: state.RunRunning, State: json.RawMessage(`{"v":1}`),
			Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "running", Input: json.RawMessage(`{"x":1}`), WorkerID: "w1", StartedAt: &started}},
			Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: "a-1", Headers: map[string]string{"k": "v"}, Body: []byte("run a")}},
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), up.Version)
		require.Equal(t, state.RunRunning, up.Status)
		require.JSONEq(t, `{"v":1}`, string(up.State))
		require.Nil(t, up.FinishedAt)

		// Zero fields keep the stored values.
		up, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 2})
		require.NoError(t, err)
		require.Equal(t, int64(3), up.Version)
		require.Equal(t, state.RunRunning, up.Status)
		require.JSONEq(t, `{"v":1}`, string(up.State))

		// A stale version conflicts and writes nothing.
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{
			ID: run.ID, ExpectedVersion: 2, Status: state.RunFailed, Error: "stale",
			Attempts:   []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "failed"}, {StepID: "b", Attempt: 1, Status: "running"}},
			Outbox:     []state.OutboxMessage{{Queue: "steps", MsgID: "stale"}},
			HumanTasks: []state.HumanTask{{ID: "00000000-0000-0000-0000-0000000000aa", StepID: "h", Prompt: "stale"}},
		})
		require.ErrorIs(t, err, state.ErrConflict)
		got, err := b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), got.Version)
		require.Equal(t, state.RunRunning, got.Status)
		require.Empty(t, got.Error)
		attempts, err := b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		require.Equal(t, "running", attempts[0].Status)
		_, err = b.store.HumanTaskGet(ctx, "00000000-0000-0000-0000-0000000000aa")
		require.ErrorIs(t, err, state.ErrNotFound)
		msgs, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now().Add(time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "a-1", msgs[0].MsgID)
		require.Equal(t, run.ID, msgs[0].RunID)
		require.Equal(t, map[string]string{"k": "v"}, msgs[0].Headers)
		require.Equal(t, []byte("run a"), msgs[0].Body)

		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: "00000000-0000-0000-0000-000000000000", ExpectedVersion: 1})
		require.ErrorIs(t, err, state.ErrNotFound)

		up, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{
			ID: run.ID, ExpectedVersion: 3, Status: state.RunCompleted, Output: json.RawMessage(`{"answer":42}`), Finished: true,
		})
		require.NoError(t, err)
		require.Equal(t, state.RunCompleted, up.Status)
		require.JSONEq(t, `{"answer":42}`, string(up.Output))
		require.NotNil(t, up.FinishedAt)
		require.False(t, up.UpdatedAt.Before(up.CreatedAt))
	})

	t.Run("StepAttemptUpsert", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{})
		started := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
		finished := started.Add(1500 * time.Millisecond)

		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 1, Attempts: []state.StepAttempt{
			{StepID: "b", Iteration: 0, Attempt: 1, Status: "running", Input: json.RawMessage(`{"in":1}`), WorkerID: "w1", StartedAt: &started},
			{StepID: "a", Iteration: 0, Attempt: 1, Status: "running"},
			{StepID: "a", Iteration: 1, Attempt: 1, Status: "running"},
		}})
		require.NoError(t, err)
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 2, Attempts: []state.StepAttempt{
			{StepID: "b", Iteration: 0, Attempt: 1, Status: "failed", Error: "boom", FinishedAt: &finished},
			{StepID: "b", Iteration: 0, Attempt: 2, Status: "running"},
			{StepID: "b", Iteration: 0, Attempt: 2, Status: "succeeded", Output: json.RawMessage(`{"out":2}`)},
		}})
		require.NoError(t, err)

		as, err := b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 4)
		key := func(a state.StepAttempt) string { return fmt.Sprintf("%d/%s/%d", a.Iteration, a.StepID, a.Attempt) }
		keys := make([]string, len(as))
		for i, a := range as {
			keys[i] = key(a)
			require.Equal(t, run.ID, a.RunID)
		}
		require.Equal(t, []string{"0/a/1", "0/b/1", "0/b/2", "1/a/1"}, keys)
		b1 := as[1]
		require.Equal(t, "failed", b1.Status)
		require.Equal(t, "boom", b1.Error)
		require.Equal(t, "w1", b1.WorkerID, "zero fields keep the stored value")
		require.JSONEq(t, `{"in":1}`, string(b1.Input))
		require.NotNil(t, b1.StartedAt)
		require.NotNil(t, b1.FinishedAt)
		require.True(t, started.Equal(*b1.StartedAt), "%v != %v", started, *b1.StartedAt)
		require.True(t, finished.Equal(*b1.FinishedAt))
		require.Equal(t, "succeeded", as[2].Status)
		require.JSONEq(t, `{"out":2}`, string(as[2].Output))

		none, err := b.store.StepAttemptList(ctx, "00000000-0000-0000-0000-000000000000")
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("StepAttemptPut", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		r1, r2 := insertRun(t, b, state.Run{}), insertRun(t, b, state.Run{})
		dispatched := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		began, ended := dispatched.Add(time.Millisecond), dispatched.Add(time.Second)

		// r1's attempt ended before its start is written (its scheduler
		// held the start back); the end carries the worker's start time.
		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: r1.ID, ExpectedVersion: 1, Attempts: []state.StepAttempt{
			{StepID: "a", Iteration: 1, Attempt: 1, Status: "succeeded", Output: json.RawMessage(`{"o":1}`), WorkerID: "w", StartedAt: &began, FinishedAt: &ended},
		}})
		require.NoError(t, err)
		require.NoError(t, b.store.StepAttemptPut(ctx, []state.StepAttempt{
			{RunID: r1.ID, StepID: "a", Iteration: 1, Attempt: 1, Status: "running", Input: json.RawMessage(`{"i":1}`), StartedAt: &dispatched},
			{RunID: r2.ID, StepID: "b", Iteration: 1, Attempt: 1, Status: "running", Input: json.RawMessage(`{"i":2}`), StartedAt: &dispatched},
			{RunID: "00000000-0000-0000-0000-000000000000", StepID: "x", Iteration: 1, Attempt: 1, Status: "running"},
		}))
		as, err := b.store.StepAttemptList(ctx, r1.ID)
		require.NoError(t, err)
		require.Len(t, as, 1)
		a := as[0]
		require.Equal(t, "succeeded", a.Status, "a late running record does not reopen an ended attempt")
		require.JSONEq(t, `{"i":1}`, string(a.Input), "it fills in what the end left out")
		require.JSONEq(t, `{"o":1}`, string(a.Output))
		require.True(t, began.Equal(*a.StartedAt), "a stored start is kept: %v", *a.StartedAt)
		require.True(t, ended.Equal(*a.FinishedAt))

		// r2's attempt was still running: its start is written, and its end
		// later completes it, keeping the start.
		as, err = b.store.StepAttemptList(ctx, r2.ID)
		require.NoError(t, err)
		require.Len(t, as, 1)
		require.Equal(t, "running", as[0].Status)
		require.True(t, dispatched.Equal(*as[0].StartedAt))
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: r2.ID, ExpectedVersion: 1, Attempts: []state.StepAttempt{
			{StepID: "b", Iteration: 1, Attempt: 1, Status: "failed", Error: "boom", StartedAt: &began, FinishedAt: &ended},
		}})
		require.NoError(t, err)
		as, err = b.store.StepAttemptList(ctx, r2.ID)
		require.NoError(t, err)
		require.Equal(t, "failed", as[0].Status)
		require.JSONEq(t, `{"i":2}`, string(as[0].Input))
		require.True(t, dispatched.Equal(*as[0].StartedAt))

		// In one decision too, whichever comes first.
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: r2.ID, ExpectedVersion: 2, Attempts: []state.StepAttempt{
			{StepID: "c", Iteration: 1, Attempt: 1, Status: "cancelled"},
			{StepID: "c", Iteration: 1, Attempt: 1, Status: "running", StartedAt: &dispatched},
		}})
		require.NoError(t, err)
		as, err = b.store.StepAttemptList(ctx, r2.ID)
		require.NoError(t, err)
		require.Len(t, as, 2)
		require.Equal(t, "cancelled", as[1].Status)
		require.NoError(t, b.store.StepAttemptPut(ctx, nil))
	})

	t.Run("RunList", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		other, _, err := b.store.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "other", Hash: "o", Definition: json.RawMessage(`{}`)})
		require.NoError(t, err)
		base := time.Date(2031, 5, 1, 12, 0, 0, 0, time.UTC)
		var all []string // newest first
		for i := range 25 {
			r := state.Run{CreatedAt: base.Add(time.Duration(i) * time.Second), CreatedBy: []string{"alice", "bob"}[i%2]}
			if i%5 == 0 {
				r.PipelineVersionID, r.PipelineSlug = other.ID, other.Slug
			}
			if i%3 == 0 {
				r.Status = state.RunCompleted
			}
			run := insertRun(t, b, r)
			all = append([]string{run.ID}, all...)
		}
		// Two runs sharing a timestamp still page without gaps or repeats.
		tie1 := insertRun(t, b, state.Run{CreatedAt: base.Add(-time.Hour)})
		tie2 := insertRun(t, b, state.Run{CreatedAt: base.Add(-time.Hour)})
		tail := []string{max(tie1.ID, tie2.ID), min(tie1.ID, tie2.ID)}
		all = append(all, tail...)

		var (
			paged  []string
			cursor string
			pages  int
		)
		for {
			runs, next, err := b.store.RunList(ctx, &state.RunListParams{Cursor: cursor, Limit: 10})
			require.NoError(t, err)
			for _, r := range runs {
				paged = append(paged, r.ID)
			}
			pages++
			if next == "" {
				break
			}
			cursor = next
			require.Less(t, pages, 10)
		}
		require.Equal(t, 3, pages)
		require.Equal(t, all, paged)

		tests := []struct {
			name   string
			params state.RunListParams
			want   int
		}{
			{"all", state.RunListParams{Limit: 100}, 27},
			{"default limit", state.RunListParams{}, 27},
			{"status", state.RunListParams{Status: state.RunCompleted}, 9},
			{"slug", state.RunListParams{PipelineSlug: "other"}, 5},
			{"created by", state.RunListParams{CreatedBy: "bob"}, 12},
			{"since", state.RunListParams{Since: base.Add(20 * time.Second)}, 5},
			{"until", state.RunListParams{Until: base.Add(20 * time.Second)}, 22},
			{"window and slug", state.RunListParams{Since: base, Until: base.Add(10 * time.Second), PipelineSlug: "other"}, 2},
			{"no match", state.RunListParams{Status: state.RunFailed}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				runs, next, err := b.store.RunList(ctx, &tt.params)
				require.NoError(t, err)
				require.Len(t, runs, tt.want)
				require.Empty(t, next)
				for i := 1; i < len(runs); i++ {
					require.False(t, runs[i].CreatedAt.After(runs[i-1].CreatedAt), "newest first")
				}
			})
		}

		_, _, err = b.store.RunList(ctx, &state.RunListParams{Cursor: "%%%not-a-cursor"})
		require.Error(t, err)
	})

	t.Run("Outbox", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		base := time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)
		insertRun(t, b, state.Run{},
			state.OutboxMessage{Queue: "q", MsgID: "due", Priority: 7, DeliverAt: base},
			state.OutboxMessage{Queue: "q", MsgID: "later", DeliverAt: base.Add(time.Hour)},
		)

		at, ok, err := b.store.OutboxNextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, base.Equal(at), "%v", at)

		msgs, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.Equal(t, "due", msgs[0].MsgID)
		require.Equal(t, 7, msgs[0].Priority)
		require.Equal(t, "q", msgs[0].Queue)
		require.NotZero(t, msgs[0].Seq)
		require.True(t, base.Equal(msgs[0].DeliverAt))

		// Leased: nobody else gets it until the lease runs out.
		again, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(2 * time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Empty(t, again)
		at, ok, err = b.store.OutboxNextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, base.Add(time.Second+time.Minute).Equal(at), "lease end, got %v", at)

		expired, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(2 * time.Minute), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, expired, 1)
		require.Equal(t, msgs[0].Seq, expired[0].Seq)

		require.NoError(t, b.store.OutboxDelete(ctx, []int64{expired[0].Seq, 1 << 40}))
		require.NoError(t, b.store.OutboxDelete(ctx, nil))
		late, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(2 * time.Hour), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, late, 1)
		require.Equal(t, "later", late[0].MsgID)
		require.NoError(t, b.store.OutboxDelete(ctx, []int64{late[0].Seq}))

		_, ok, err = b.store.OutboxNextDue(ctx)
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("OutboxPreClaimed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		base := time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC)
		// A writer that publishes its messages itself after commit inserts
		// them claimed; relays take them only when that claim runs out.
		run := insertRun(t, b, state.Run{},
			state.OutboxMessage{Queue: "q", MsgID: "ins", DeliverAt: base, ClaimedUntil: base.Add(10 * time.Second)})
		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: run.Version,
			Outbox: []state.OutboxMessage{{Queue: "q", MsgID: "upd", DeliverAt: base, ClaimedUntil: base.Add(20 * time.Second)}}})
		require.NoError(t, err)

		at, ok, err := b.store.OutboxNextDue(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, base.Add(10*time.Second).Equal(at), "the first claim's end, got %v", at)

		none, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(5 * time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Empty(t, none, "claimed by their writer")

		first, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(15 * time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, first, 1)
		require.Equal(t, "ins", first[0].MsgID)

		second, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(25 * time.Second), Limit: 10, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, second, 1)
		require.Equal(t, "upd", second[0].MsgID)
		require.NoError(t, b.store.OutboxDelete(ctx, []int64{first[0].Seq, second[0].Seq}))
	})

	t.Run("OutboxConcurrentClaim", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		const n = 60
		msgs := make([]state.OutboxMessage, n)
		for i := range msgs {
			msgs[i] = state.OutboxMessage{Queue: "q", MsgID: fmt.Sprintf("m%d", i)}
		}
		insertRun(t, b, state.Run{}, msgs...)
		now := time.Now().Add(time.Second)

		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			seen = map[string]int{}
		)
		for range 4 {
			wg.Go(func() {
				for {
					got, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: now, Limit: 7, LeaseFor: time.Hour})
					if !assertNoError(t, err) || len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						seen[m.MsgID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.Len(t, seen, n)
		for id, c := range seen {
			require.Equal(t, 1, c, "message %s claimed twice", id)
		}
	})

	t.Run("HumanTask", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{})
		deadline := time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC)
		tasks := []state.HumanTask{
			{StepID: "approve", Pipeline: "demo", Prompt: "OK?", Assignees: []string{"alice", "role:ops"},
				UISchema: json.RawMessage(`{"type":"object"}`), Config: json.RawMessage(`{"c":1}`), Deadline: &deadline},
			{StepID: "review", Pipeline: "demo", Prompt: "Two?", Assignees: []string{"bob"}, Quorum: 2},
			{StepID: "timeout", Pipeline: "demo", Prompt: "Late?", Assignees: []string{"carol"}},
		}
		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 1, Status: state.RunWaiting, HumanTasks: tasks})
		require.NoError(t, err)
		for _, tk := range tasks {
			require.NotEmpty(t, tk.ID, "the store assigns missing IDs in place")
		}

		got, err := b.store.HumanTaskGet(ctx, tasks[0].ID)
		require.NoError(t, err)
		require.Equal(t, run.ID, got.RunID)
		require.Equal(t, state.HumanPending, got.Status)
		require.Equal(t, "OK?", got.Prompt)
		require.Equal(t, []string{"alice", "role:ops"}, got.Assignees)
		require.JSONEq(t, `{"type":"object"}`, string(got.UISchema))
		require.JSONEq(t, `{"c":1}`, string(got.Config))
		require.NotNil(t, got.Deadline)
		require.True(t, deadline.Equal(*got.Deadline))
		require.Nil(t, got.ClosedAt)
		require.Empty(t, got.Decisions)

		list := func(p state.HumanTaskListParams) []string {
			t.Helper()
			ts, err := b.store.HumanTaskList(ctx, &p)
			require.NoError(t, err)
			var steps []string
			for _, tk := range ts {
				steps = append(steps, tk.StepID)
			}
			slices.Sort(steps)
			return steps
		}
		require.Equal(t, []string{"approve", "review", "timeout"}, list(state.HumanTaskListParams{}))
		require.Equal(t, []string{"approve"}, list(state.HumanTaskListParams{Assignee: "role:ops"}))
		require.Equal(t, []string{"review"}, list(state.HumanTaskListParams{Assignee: "bob", Status: state.HumanPending}))
		require.Equal(t, []string{"approve", "review", "timeout"}, list(state.HumanTaskListParams{RunID: run.ID, Pipeline: "demo"}))
		require.Empty(t, list(state.HumanTaskListParams{Pipeline: "nope"}))
		require.Len(t, list(state.HumanTaskListParams{Limit: 2}), 2)

		// One decision decides a quorum-less task; a second is refused.
		dec, err := b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[0].ID,
			Decision: state.HumanDecision{By: "alice", Decision: json.RawMessage(`{"approved":true}`)}})
		require.NoError(t, err)
		require.Equal(t, state.HumanDecided, dec.Status)
		require.NotNil(t, dec.ClosedAt)
		require.Len(t, dec.Decisions, 1)
		require.Equal(t, "alice", dec.Decisions[0].By)
		require.False(t, dec.Decisions[0].DecidedAt.IsZero())
		_, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[0].ID,
			Decision: state.HumanDecision{By: "mallory", Decision: json.RawMessage(`{"approved":false}`)}})
		require.ErrorIs(t, err, state.ErrAlreadyDecided)
		got, err = b.store.HumanTaskGet(ctx, tasks[0].ID)
		require.NoError(t, err)
		require.Len(t, got.Decisions, 1)
		require.JSONEq(t, `{"approved":true}`, string(got.Decisions[0].Decision))
		require.Equal(t, []string{"review", "timeout"}, list(state.HumanTaskListParams{Status: state.HumanPending}))

		// Quorum 2 needs two decisions.
		dec, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[1].ID, Decision: state.HumanDecision{By: "bob", Decision: json.RawMessage(`"yes"`)}})
		require.NoError(t, err)
		require.Equal(t, state.HumanPending, dec.Status)
		require.Nil(t, dec.ClosedAt)
		dec, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[1].ID, Decision: state.HumanDecision{By: "dave", Decision: json.RawMessage(`"yes"`)}})
		require.NoError(t, err)
		require.Equal(t, state.HumanDecided, dec.Status)
		require.Len(t, dec.Decisions, 2)

		// Close ends a task without a reviewer, with the given status.
		dec, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[2].ID, Close: true, Status: state.HumanExpired})
		require.NoError(t, err)
		require.Equal(t, state.HumanExpired, dec.Status)
		require.Empty(t, dec.Decisions)
		require.NotNil(t, dec.ClosedAt)
		_, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[2].ID, Decision: state.HumanDecision{By: "carol"}})
		require.ErrorIs(t, err, state.ErrAlreadyDecided)

		_, err = b.store.HumanTaskGet(ctx, "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, state.ErrNotFound)
		_, err = b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: "00000000-0000-0000-0000-000000000000", Decision: state.HumanDecision{By: "x"}})
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("HumanTaskDecideConcurrent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{})
		tasks := []state.HumanTask{{StepID: "h", Quorum: 3}}
		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: run.ID, ExpectedVersion: 1, HumanTasks: tasks})
		require.NoError(t, err)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			ok, lost int
		)
		for i := range 8 {
			wg.Go(func() {
				_, err := b.store.HumanTaskDecide(ctx, &state.HumanTaskDecideParams{ID: tasks[0].ID, Decision: state.HumanDecision{By: fmt.Sprint("u", i)}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case assertErrorIs(t, err, state.ErrAlreadyDecided):
					lost++
				}
			})
		}
		wg.Wait()
		require.Equal(t, 3, ok)
		require.Equal(t, 5, lost)
		got, err := b.store.HumanTaskGet(ctx, tasks[0].ID)
		require.NoError(t, err)
		require.Len(t, got.Decisions, 3)
		require.Equal(t, state.HumanDecided, got.Status)
	})

	t.Run("Blob", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		data := []byte{0, 1, 2, 0xff, 'x'}
		require.NoError(t, b.store.BlobPut(ctx, "sha256:abc", data))
		require.NoError(t, b.store.BlobPut(ctx, "sha256:abc", data))
		got, err := b.store.BlobGet(ctx, "sha256:abc")
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.NoError(t, b.store.BlobPut(ctx, "empty", nil))
		got, err = b.store.BlobGet(ctx, "empty")
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = b.store.BlobGet(ctx, "missing")
		require.ErrorIs(t, err, state.ErrNotFound)
	})

	t.Run("RunUpdateConcurrent", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{})
		const workers, rounds = 8, 5
		for round := range rounds {
			version := int64(round + 1)
			var (
				wg        sync.WaitGroup
				mu        sync.Mutex
				winners   []int
				conflicts int
			)
			for w := range workers {
				wg.Go(func() {
					_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{
						ID: run.ID, ExpectedVersion: version, State: json.RawMessage(fmt.Sprintf(`{"w":%d}`, w)),
						Attempts: []state.StepAttempt{{StepID: fmt.Sprint("s", w), Iteration: round, Attempt: 1, Status: "running"}},
						Outbox:   []state.OutboxMessage{{Queue: "q", MsgID: fmt.Sprintf("%d-%d", round, w)}},
					})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						winners = append(winners, w)
					case assertErrorIs(t, err, state.ErrConflict):
						conflicts++
					}
				})
			}
			wg.Wait()
			require.Len(t, winners, 1, "round %d", round)
			require.Equal(t, workers-1, conflicts)
			got, err := b.store.RunGet(ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, version+1, got.Version)
			require.JSONEq(t, fmt.Sprintf(`{"w":%d}`, winners[0]), string(got.State))
		}
		as, err := b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, rounds, "only winners' attempts are written")
		msgs, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now().Add(time.Second), Limit: 100, LeaseFor: time.Minute})
		require.NoError(t, err)
		require.Len(t, msgs, rounds, "only winners' outbox rows are written")
	})

	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "Close is idempotent")
		_, err := s.RunGet(t.Context(), "00000000-0000-0000-0000-000000000000")
		require.ErrorIs(t, err, state.ErrClosed)
	})
}

// assertNoError reports err without stopping the goroutine's test (require
// must not be called off the test goroutine).
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

func assertErrorIs(t *testing.T, err, target error) bool {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("error %v is not %v", err, target)
		return false
	}
	return true
}
