package statepg_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/statetest"
)

func TestRunUpdateMany(t *testing.T) {
	t.Parallel()
	statetest.ExerciseBatch(t, func(t *testing.T) state.Store { return testStore(t) })
}

func TestBatchRounds(t *testing.T) {
	t.Parallel()
	task := func(id string) []state.HumanTask { return []state.HumanTask{{ID: id}} }
	tests := []struct {
		name string
		ps   []*state.RunUpdateParams
		want [][]int
	}{
		{"distinct", []*state.RunUpdateParams{{ID: "a"}, {ID: "b"}, {ID: "c"}}, [][]int{{0, 1, 2}}},
		{"same run", []*state.RunUpdateParams{{ID: "a"}, {ID: "a"}, {ID: "a"}}, [][]int{{0}, {1}, {2}}},
		{"interleaved", []*state.RunUpdateParams{{ID: "a"}, {ID: "b"}, {ID: "a"}, {ID: "c"}, {ID: "b"}, {ID: "a"}},
			[][]int{{0, 1, 3}, {2, 4}, {5}}},
		{"shared human task", []*state.RunUpdateParams{
			{ID: "a", HumanTasks: task("t")}, {ID: "b", HumanTasks: task("t")}, {ID: "c", HumanTasks: task("u")},
			{ID: "d", HumanTasks: task("")}, {ID: "e", HumanTasks: task("")},
		}, [][]int{{0, 2, 3, 4}, {1}}},
		{"chained", []*state.RunUpdateParams{
			{ID: "a"}, {ID: "b", HumanTasks: task("t")}, {ID: "a"}, {ID: "c", HumanTasks: task("t")}, {ID: "b"},
		}, [][]int{{0, 1}, {2, 3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, statepg.BatchRounds(tt.ps))
		})
	}
}

// TestRoundSQL prepares every variant of the round statement, most of which
// the conformance suite does not reach.
func TestRoundSQL(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	conn, err := s.Pool().Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	for v, sql := range statepg.RoundSQL() {
		_, err := conn.Conn().Prepare(t.Context(), fmt.Sprint("round_", v), sql)
		require.NoError(t, err, "variant %d:\n%s", v, sql)
	}
}

// TestRunUpdateManyRounds commits a batch that needs several statements:
// updates of one run, and of one human task, apply in order while the others
// share a statement.
func TestRunUpdateManyRounds(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := t.Context()
	insert := runInserter(t, s)
	a, b, c, d, e := insert(), insert(), insert(), insert(), insert()
	published := []state.OutboxMessage{{Queue: "q", MsgID: "published"}}
	_, err := s.RunUpdate(ctx, &state.RunUpdateParams{ID: e, ExpectedVersion: 1, Outbox: published})
	require.NoError(t, err)
	const taskID = "00000000-0000-0000-0000-0000000000c1"
	task := func(prompt string) []state.HumanTask {
		return []state.HumanTask{{ID: taskID, StepID: "h", Prompt: prompt}}
	}
	msg := func(id string) []state.OutboxMessage { return []state.OutboxMessage{{Queue: "q", MsgID: id}} }

	ps := []*state.RunUpdateParams{
		0: {ID: a, ExpectedVersion: 1, Status: state.RunRunning, Outbox: msg("a0"),
			Attempts: []state.StepAttempt{{StepID: "s", Attempt: 1, Status: "running", WorkerID: "w1"}}},
		1: {ID: b, ExpectedVersion: 1, Status: state.RunRunning, HumanTasks: task("b"), Outbox: msg("b1")},
		2: {ID: a, ExpectedVersion: 2, Outbox: msg("a2"),
			Attempts: []state.StepAttempt{{StepID: "s", Attempt: 1, Status: "succeeded"}}},
		3: {ID: c, ExpectedVersion: 9, HumanTasks: task("c"), Outbox: msg("c3")},
		4: {ID: d, ExpectedVersion: 1, HumanTasks: task("d")},
		5: {ID: a, ExpectedVersion: 2, Status: state.RunFailed, Outbox: msg("a5")},
		6: {ID: "00000000-0000-0000-0000-000000000000", ExpectedVersion: 1, Outbox: msg("missing")},
		7: {ID: b, ExpectedVersion: 2, Status: state.RunCompleted, Finished: true, OutboxDelete: []int64{published[0].Seq}},
	}
	require.Equal(t, [][]int{{0, 1, 6}, {2, 3, 7}, {4, 5}}, statepg.BatchRounds(ps), "the batch needs three statements")
	versions, errs := s.RunUpdateMany(ctx, ps)

	for i, want := range map[int]int64{0: 2, 1: 2, 2: 3, 4: 2, 7: 3} {
		require.NoError(t, errs[i], "update %d", i)
		require.Equal(t, want, versions[i], "update %d", i)
	}
	require.ErrorIs(t, errs[3], state.ErrConflict)
	require.ErrorIs(t, errs[5], state.ErrConflict)
	require.ErrorContains(t, errs[5], "have 3", "the stored version as of the update's turn")
	require.ErrorIs(t, errs[6], state.ErrNotFound)
	for _, i := range []int{3, 5, 6} {
		require.Zero(t, versions[i])
		require.Zero(t, ps[i].Outbox[0].Seq, "update %d", i)
	}

	runA, err := s.RunGet(ctx, a)
	require.NoError(t, err)
	require.Equal(t, int64(3), runA.Version)
	require.Equal(t, state.RunRunning, runA.Status)
	as, err := s.StepAttemptList(ctx, a)
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Equal(t, "succeeded", as[0].Status)
	require.Equal(t, "w1", as[0].WorkerID)
	runB, err := s.RunGet(ctx, b)
	require.NoError(t, err)
	require.Equal(t, state.RunCompleted, runB.Status)
	require.NotNil(t, runB.FinishedAt)
	runC, err := s.RunGet(ctx, c)
	require.NoError(t, err)
	require.Equal(t, int64(1), runC.Version)

	got, err := s.HumanTaskGet(ctx, taskID)
	require.NoError(t, err)
	require.Equal(t, d, got.RunID, "the last applied update of the task wins")
	require.Equal(t, "d", got.Prompt)

	msgs, err := s.OutboxClaim(ctx, &state.OutboxClaimParams{Now: time.Now().Add(time.Hour), Limit: 100, LeaseFor: time.Minute})
	require.NoError(t, err)
	bySeq := map[int64]string{}
	for _, m := range msgs {
		bySeq[m.Seq] = m.MsgID
	}
	want := map[int64]string{}
	for _, i := range []int{0, 1, 2} {
		require.NotZero(t, ps[i].Outbox[0].Seq, "update %d", i)
		want[ps[i].Outbox[0].Seq] = ps[i].Outbox[0].MsgID
	}
	require.Equal(t, want, bySeq, "the applied updates' messages, and the published one deleted")
}

// TestRunUpdateManyPlanCacheMode checks that forcing generic plans for a
// batch does not outlive its transaction on the pooled connection.
func TestRunUpdateManyPlanCacheMode(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := t.Context()
	pv, _, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "plans", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(t, err)
	var ps []*state.RunUpdateParams
	for range 2 {
		r, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
		require.NoError(t, err)
		ps = append(ps, &state.RunUpdateParams{ID: r.ID, ExpectedVersion: 1, Status: state.RunRunning})
	}
	_, errs := s.RunUpdateMany(ctx, ps)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	conns := s.Pool().AcquireAllIdle(ctx)
	require.NotEmpty(t, conns)
	for _, c := range conns {
		var mode string
		err := c.QueryRow(ctx, `SELECT setting FROM pg_settings WHERE name = 'plan_cache_mode' AND setting = reset_val`).Scan(&mode)
		c.Release()
		require.NoError(t, err, "plan_cache_mode differs from the session's default")
	}
}

// BenchmarkRunUpdateMany measures group commit: batches of 1, 16 and 64
// updates on distinct runs, one round trip and one transaction each.
func BenchmarkRunUpdateMany(b *testing.B) {
	statetest.BenchRunUpdateMany(b, testStore(b))
}

// TestConcurrentCommitsNoDeadlock runs, side by side, group commits that
// name the same runs in opposite orders (as two schedulers handling one
// fan-out's branches do) and held-start writes of the same attempts: rows
// are locked in one order, so each write either applies or meets a version
// conflict, and none is aborted as a deadlock.
func TestConcurrentCommitsNoDeadlock(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := t.Context()
	pv, _, err := s.PipelineVersionPut(ctx, &state.PipelineVersionPutParams{Slug: "deadlock", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(t, err)
	ids := make([]string, 4)
	for i := range ids {
		r, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
		require.NoError(t, err)
		ids[i] = r.ID
	}
	const rounds = 150
	attempts := func(id string, i int) []state.StepAttempt {
		return []state.StepAttempt{{StepID: "a", Iteration: i, Attempt: 1, Status: "running"}, {StepID: "b", Iteration: i, Attempt: 1, Status: "running"}}
	}
	commit := func(order []string) error {
		for i := range rounds {
			ps := make([]*state.RunUpdateParams, len(order))
			for k, id := range order {
				run, err := s.RunGet(ctx, id)
				if err != nil {
					return err
				}
				ps[k] = &state.RunUpdateParams{ID: id, ExpectedVersion: run.Version, State: json.RawMessage(`{}`), Attempts: attempts(id, i)}
			}
			_, errs := s.RunUpdateMany(ctx, ps)
			for _, err := range errs {
				if err != nil && !errors.Is(err, state.ErrConflict) {
					return err
				}
			}
		}
		return nil
	}
	put := func(order []string) error {
		for i := range rounds {
			var as []state.StepAttempt
			for k := len(order) - 1; k >= 0; k-- {
				for _, a := range attempts(order[k], i) {
					a.RunID = order[k]
					as = append(as, a)
				}
			}
			if err := s.StepAttemptPut(ctx, as); err != nil {
				return err
			}
		}
		return nil
	}
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for _, f := range []func() error{func() error { return commit(ids) }, func() error { return commit(reversed) }, func() error { return put(ids) }} {
		wg.Go(func() { errs <- f() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestRunUpdateManyThen: then sees which updates passed their guard while
// nothing is committed yet, and its error rolls every update back.
func TestRunUpdateManyThen(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := t.Context()
	insert := runInserter(t, s)
	version := runVersion(t, s)
	a, b := insert(), insert()
	update := func(id string, expected int64) *state.RunUpdateParams {
		return &state.RunUpdateParams{ID: id, ExpectedVersion: expected, Status: state.RunRunning,
			Attempts: []state.StepAttempt{{StepID: "s", Attempt: 1, Status: "succeeded"}}}
	}

	t.Run("commits after then", func(t *testing.T) {
		var seen []bool
		versions, errs := s.RunUpdateManyThen(ctx, []*state.RunUpdateParams{update(a, 1), update(b, 7)},
			func(ctx context.Context, applied []bool) error {
				seen = applied
				require.Equal(t, int64(1), version(a), "then runs before the commit")
				return nil
			})
		require.Equal(t, []bool{true, false}, seen)
		require.NoError(t, errs[0])
		require.Equal(t, int64(2), versions[0])
		require.ErrorIs(t, errs[1], state.ErrConflict)
		require.Equal(t, int64(2), version(a))
		require.Equal(t, int64(1), version(b))
		attempts, err := s.StepAttemptList(ctx, a)
		require.NoError(t, err)
		require.Len(t, attempts, 1, "the applied update's record, written after then")
		require.Equal(t, "succeeded", attempts[0].Status)
		attempts, err = s.StepAttemptList(ctx, b)
		require.NoError(t, err)
		require.Empty(t, attempts, "none for the update that lost its guard")
	})

	t.Run("records of one run in order", func(t *testing.T) {
		c := insert()
		began := time.Now().Add(-time.Second).UTC().Truncate(time.Microsecond)
		start := &state.RunUpdateParams{ID: c, ExpectedVersion: 1, Status: state.RunRunning,
			Attempts: []state.StepAttempt{{StepID: "t", Attempt: 1, Status: "running", StartedAt: &began, Input: json.RawMessage(`{"q":1}`)}}}
		end := &state.RunUpdateParams{ID: c, ExpectedVersion: 2,
			Attempts: []state.StepAttempt{{StepID: "t", Attempt: 1, Status: "succeeded", Output: json.RawMessage(`{"a":2}`), WorkerID: "w"}}}
		versions, errs := s.RunUpdateManyThen(ctx, []*state.RunUpdateParams{start, end}, nil)
		require.NoError(t, errors.Join(errs...))
		require.Equal(t, []int64{2, 3}, versions)
		attempts, err := s.StepAttemptList(ctx, c)
		require.NoError(t, err)
		require.Len(t, attempts, 1)
		got := attempts[0]
		require.Equal(t, "succeeded", got.Status)
		require.JSONEq(t, `{"q":1}`, string(got.Input))
		require.JSONEq(t, `{"a":2}`, string(got.Output))
		require.Equal(t, "w", got.WorkerID)
		require.True(t, began.Equal(*got.StartedAt), "the start kept from the first record")
	})

	t.Run("then's error rolls back", func(t *testing.T) {
		boom := errors.New("broker down")
		_, errs := s.RunUpdateManyThen(ctx, []*state.RunUpdateParams{update(b, 1)},
			func(context.Context, []bool) error { return boom })
		require.ErrorIs(t, errs[0], boom)
		require.Equal(t, int64(1), version(b), "nothing committed")
		attempts, err := s.StepAttemptList(ctx, b)
		require.NoError(t, err)
		require.Empty(t, attempts)
		// The connection went back to the pool out of its transaction.
		versions, errs := s.RunUpdateManyThen(ctx, []*state.RunUpdateParams{update(b, 1)}, nil)
		require.NoError(t, errs[0])
		require.Equal(t, int64(2), versions[0])
	})

	t.Run("a concurrent update waits for the commit", func(t *testing.T) {
		released := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			_, errs := s.RunUpdateManyThen(ctx, []*state.RunUpdateParams{update(a, 2)}, func(context.Context, []bool) error {
				<-released
				return nil
			})
			done <- errs[0]
		}()
		// The first update holds the run's row from its guard to its commit:
		// an update of the same version started meanwhile loses.
		time.Sleep(50 * time.Millisecond)
		other := make(chan error, 1)
		go func() {
			_, err := s.RunUpdate(ctx, update(a, 2))
			other <- err
		}()
		select {
		case err := <-other:
			t.Fatalf("the second update did not wait for the first's commit: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(released)
		require.NoError(t, <-done)
		require.ErrorIs(t, <-other, state.ErrConflict)
		require.Equal(t, int64(3), version(a))
	})
}

// runInserter returns a function that inserts a new run of an empty
// pipeline into s and returns its ID.
// runVersion returns a function that reads a run's stored version.
func runVersion(t *testing.T, s *statepg.Store) func(id string) int64 {
	return func(id string) int64 {
		r, err := s.RunGet(t.Context(), id)
		require.NoError(t, err)
		return r.Version
	}
}

func runInserter(t *testing.T, s *statepg.Store) func() string {
	t.Helper()
	pv, _, err := s.PipelineVersionPut(t.Context(), &state.PipelineVersionPutParams{Slug: "runs", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(t, err)
	return func() string {
		r, _, err := s.RunInsert(t.Context(), &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
		require.NoError(t, err)
		return r.ID
	}
}

// TestRunLock: a committed update can keep its run locked at the new
// version; while it is held no other update of the run commits, and the
// next update goes through it in one transaction. The pool (4 connections)
// gets every connection back.
func TestRunLock(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	ctx := t.Context()
	insert := runInserter(t, s)
	version := runVersion(t, s)
	update := func(id string, expected int64, step string) *state.RunUpdateParams {
		return &state.RunUpdateParams{ID: id, ExpectedVersion: expected, Status: state.RunRunning,
			Attempts: []state.StepAttempt{{StepID: step, Attempt: 1, Status: "succeeded"}},
			Outbox:   []state.OutboxMessage{{Queue: "q", MsgID: step, Body: []byte("x")}}}
	}
	// blocked reports whether a plain update of run id at expected is
	// held up (by a lock), rather than applied or refused.
	blocked := func(id string, expected int64) bool {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, errs := s.RunUpdateMany(c, []*state.RunUpdateParams{update(id, expected, "other")})
		return errs[0] != nil && errors.Is(errs[0], context.DeadlineExceeded)
	}

	a := insert()
	var seen []bool
	v, lock, err := s.RunUpdateThenLock(ctx, update(a, 1, "s1"), func(_ context.Context, applied bool) error {
		seen = append(seen, applied)
		require.Equal(t, int64(1), version(a), "then runs before the commit")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, seen)
	require.Equal(t, int64(2), v)
	require.NotNil(t, lock)
	require.Equal(t, int64(2), lock.Version())
	require.Equal(t, int64(2), version(a), "committed")
	require.True(t, blocked(a, 2), "no other update commits while the lock is held")

	// Updates written through the lock are not visible until it commits;
	// the commit locks the run again at the version they reached.
	u := update(a, 2, "s2")
	v, err = lock.Write(ctx, u)
	require.NoError(t, err)
	require.Equal(t, int64(3), v)
	require.Equal(t, int64(3), lock.Version())
	require.NotZero(t, u.Outbox[0].Seq, "the outbox row's seq is set")
	v, err = lock.Write(ctx, update(a, 3, "s3"))
	require.NoError(t, err)
	require.Equal(t, int64(4), v)
	require.Equal(t, int64(2), version(a), "not committed yet")
	v, next, err := lock.Commit(ctx, true)
	require.NoError(t, err)
	require.Equal(t, int64(4), v)
	require.Equal(t, int64(4), next.Version())
	require.Equal(t, int64(4), version(a))
	attempts, err := s.StepAttemptList(ctx, a)
	require.NoError(t, err)
	require.Len(t, attempts, 3)
	_, _, err = lock.Commit(ctx, false)
	require.Error(t, err, "a lock commits once")

	_, err = next.Write(ctx, update(a, 2, "stale"))
	require.ErrorIs(t, err, state.ErrConflict, "an update behind the lock's version")
	next.Release(ctx)
	require.Equal(t, int64(4), version(a))
	require.False(t, blocked(a, 99), "released")

	// Release rolls back: nothing the lock's transaction did stays, and
	// the run is free at once.
	_, lock, err = s.RunUpdateThenLock(ctx, update(a, 4, "s4"), func(context.Context, bool) error { return nil })
	require.NoError(t, err)
	_, err = lock.Write(ctx, update(a, 5, "s5"))
	require.NoError(t, err)
	lock.Release(ctx)
	lock.Release(ctx) // a second release does nothing
	require.False(t, blocked(a, 99))
	require.Equal(t, int64(5), version(a), "s5's write was rolled back")
	_, errs := s.RunUpdateMany(ctx, []*state.RunUpdateParams{update(a, 5, "s5")})
	require.NoError(t, errs[0])

	// A refused guard commits nothing and gives no lock; a failing then
	// rolls back.
	_, lock, err = s.RunUpdateThenLock(ctx, update(a, 1, "late"), func(_ context.Context, applied bool) error {
		require.False(t, applied)
		return nil
	})
	require.ErrorIs(t, err, state.ErrConflict)
	require.Nil(t, lock)
	boom := errors.New("boom")
	_, lock, err = s.RunUpdateThenLock(ctx, update(a, 6, "s6"), func(context.Context, bool) error { return boom })
	require.ErrorIs(t, err, boom)
	require.Nil(t, lock)
	require.Equal(t, int64(6), version(a))

	// Every connection came back: more lock cycles than the pool holds.
	at := int64(6)
	for i := range 10 {
		_, lock, err := s.RunUpdateThenLock(ctx, update(a, at, fmt.Sprint("c", i)), func(context.Context, bool) error { return nil })
		require.NoError(t, err)
		require.NotNil(t, lock)
		at++
		if i%2 == 0 {
			lock.Release(ctx)
			continue
		}
		_, err = lock.Write(ctx, &state.RunUpdateParams{ID: a, ExpectedVersion: at})
		require.NoError(t, err)
		_, next, err := lock.Commit(ctx, false)
		require.NoError(t, err)
		require.Nil(t, next)
		at++
	}
	require.Equal(t, at, version(a))
}
