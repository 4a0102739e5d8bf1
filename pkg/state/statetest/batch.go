package statetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// ExerciseBatch runs the [state.BatchUpdater] conformance suite against stores
// from newStore, which must implement it. Every subtest gets its own store.
func ExerciseBatch(t *testing.T, newStore NewStoreFunc) {
	t.Helper()

	type testBundle struct {
		store state.Store
		batch state.BatchUpdater
		pv    *state.PipelineVersion
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		s := newStore(t)
		bu, ok := s.(state.BatchUpdater)
		require.True(t, ok, "%T does not implement state.BatchUpdater", s)
		pv, _, err := s.PipelineVersionPut(t.Context(), &state.PipelineVersionPutParams{
			Slug: "demo", Hash: "h1", Definition: json.RawMessage(`{"steps":[]}`),
		})
		require.NoError(t, err)
		return &testBundle{store: s, batch: bu, pv: pv}
	}
	insertRun := func(t *testing.T, b *testBundle, r state.Run) *state.Run {
		t.Helper()
		r.PipelineVersionID, r.PipelineSlug = b.pv.ID, b.pv.Slug
		run, created, err := b.store.RunInsert(t.Context(), &state.RunInsertParams{Run: r})
		require.NoError(t, err)
		require.True(t, created)
		return run
	}
	claimAll := func(t *testing.T, s state.Store) []state.OutboxMessage {
		t.Helper()
		msgs, err := s.OutboxClaim(t.Context(), &state.OutboxClaimParams{Now: time.Now().AddDate(10, 0, 0), Limit: 1000, LeaseFor: time.Minute})
		require.NoError(t, err)
		return msgs
	}
	const missingID = "00000000-0000-0000-0000-000000000000"

	t.Run("Mixed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		ok1 := insertRun(t, b, state.Run{State: json.RawMessage(`{"v":0}`)})
		stale := insertRun(t, b, state.Run{State: json.RawMessage(`{"v":0}`)})
		ok2 := insertRun(t, b, state.Run{})
		staleTask := "00000000-0000-0000-0000-0000000000aa"

		ps := []*state.RunUpdateParams{
			{
				ID: ok1.ID, ExpectedVersion: 1, Status: state.RunRunning, State: json.RawMessage(`{"v":1}`),
				Attempts:   []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "running", WorkerID: "w1"}},
				Outbox:     []state.OutboxMessage{{Queue: "steps", MsgID: "ok1-a", Headers: map[string]string{"k": "v"}, Body: []byte("a")}},
				HumanTasks: []state.HumanTask{{StepID: "h", Prompt: "approve?", Assignees: []string{"role:ops"}}},
			},
			{
				ID: stale.ID, ExpectedVersion: 7, Status: state.RunFailed, Error: "stale", State: json.RawMessage(`{"v":9}`),
				Attempts:   []state.StepAttempt{{StepID: "x", Attempt: 1, Status: "failed"}},
				Outbox:     []state.OutboxMessage{{Queue: "steps", MsgID: "stale-x"}},
				HumanTasks: []state.HumanTask{{ID: staleTask, StepID: "h", Prompt: "stale"}},
			},
			{
				ID: missingID, ExpectedVersion: 1, Status: state.RunRunning,
				Attempts: []state.StepAttempt{{StepID: "y", Attempt: 1, Status: "running"}},
				Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: "missing-y"}},
			},
			{
				ID: ok2.ID, ExpectedVersion: 1, Status: state.RunCompleted, Output: json.RawMessage(`{"answer":42}`), Finished: true,
				Outbox: []state.OutboxMessage{
					{Queue: "steps", MsgID: "ok2-b", Priority: 3},
					{Queue: "events", MsgID: "ok2-c", DeliverAt: time.Now().Add(-time.Second)},
				},
			},
		}
		runs, errs := b.batch.RunUpdateMany(ctx, ps)
		require.Len(t, runs, len(ps))
		require.Len(t, errs, len(ps))

		require.NoError(t, errs[0])
		require.Equal(t, int64(2), runs[0])
		got0, err := b.store.RunGet(ctx, ok1.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got0.Version)
		require.Equal(t, state.RunRunning, got0.Status)
		require.JSONEq(t, `{"v":1}`, string(got0.State))
		require.Nil(t, got0.FinishedAt)

		require.ErrorIs(t, errs[1], state.ErrConflict)
		require.Zero(t, runs[1])
		require.ErrorIs(t, errs[2], state.ErrNotFound)
		require.Zero(t, runs[2])

		require.NoError(t, errs[3])
		require.Equal(t, int64(2), runs[3])
		got3, err := b.store.RunGet(ctx, ok2.ID)
		require.NoError(t, err)
		require.Equal(t, state.RunCompleted, got3.Status)
		require.JSONEq(t, `{"answer":42}`, string(got3.Output))
		require.NotNil(t, got3.FinishedAt)

		// Seqs are filled in place for the committed updates only.
		seqs := []int64{ps[0].Outbox[0].Seq, ps[3].Outbox[0].Seq, ps[3].Outbox[1].Seq}
		for _, seq := range seqs {
			require.NotZero(t, seq)
		}
		require.Zero(t, ps[1].Outbox[0].Seq)
		require.Zero(t, ps[2].Outbox[0].Seq)
		require.NotEmpty(t, ps[0].HumanTasks[0].ID, "missing human task IDs are assigned in place")

		msgs := claimAll(t, b.store)
		bySeq := map[int64]state.OutboxMessage{}
		for _, m := range msgs {
			bySeq[m.Seq] = m
		}
		require.Len(t, bySeq, 3, "only the committed updates' outbox rows are written")
		require.Equal(t, "ok1-a", bySeq[seqs[0]].MsgID)
		require.Equal(t, ok1.ID, bySeq[seqs[0]].RunID)
		require.Equal(t, map[string]string{"k": "v"}, bySeq[seqs[0]].Headers)
		require.Equal(t, []byte("a"), bySeq[seqs[0]].Body)
		require.Equal(t, "ok2-b", bySeq[seqs[1]].MsgID)
		require.Equal(t, 3, bySeq[seqs[1]].Priority)
		require.Equal(t, "ok2-c", bySeq[seqs[2]].MsgID)
		require.Equal(t, "events", bySeq[seqs[2]].Queue)

		// The conflicting update wrote nothing.
		got, err := b.store.RunGet(ctx, stale.ID)
		require.NoError(t, err)
		require.Equal(t, int64(1), got.Version)
		require.Equal(t, state.RunPending, got.Status)
		require.Empty(t, got.Error)
		require.JSONEq(t, `{"v":0}`, string(got.State))
		as, err := b.store.StepAttemptList(ctx, stale.ID)
		require.NoError(t, err)
		require.Empty(t, as)
		_, err = b.store.HumanTaskGet(ctx, staleTask)
		require.ErrorIs(t, err, state.ErrNotFound)
		_, err = b.store.RunGet(ctx, missingID)
		require.ErrorIs(t, err, state.ErrNotFound)
		as, err = b.store.StepAttemptList(ctx, missingID)
		require.NoError(t, err)
		require.Empty(t, as)

		// The committed ones wrote everything.
		as, err = b.store.StepAttemptList(ctx, ok1.ID)
		require.NoError(t, err)
		require.Len(t, as, 1)
		require.Equal(t, "w1", as[0].WorkerID)
		task, err := b.store.HumanTaskGet(ctx, ps[0].HumanTasks[0].ID)
		require.NoError(t, err)
		require.Equal(t, ok1.ID, task.RunID)
		require.Equal(t, state.HumanPending, task.Status)
		require.Equal(t, []string{"role:ops"}, task.Assignees)
		got, err = b.store.RunGet(ctx, ok2.ID)
		require.NoError(t, err)
		require.Equal(t, runs[3], got.Version)
		require.JSONEq(t, `{"answer":42}`, string(got.Output))
	})

	t.Run("SameRunInOrder", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{})
		runs, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{
			{ID: run.ID, ExpectedVersion: 1, Status: state.RunRunning, Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "running", WorkerID: "w1"}}},
			{ID: run.ID, ExpectedVersion: 2, Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "succeeded"}}},
			{ID: run.ID, ExpectedVersion: 2, Status: state.RunFailed, Outbox: []state.OutboxMessage{{Queue: "q", MsgID: "lost"}}},
		})
		require.NoError(t, errs[0])
		require.NoError(t, errs[1], "a later update sees the earlier one's version")
		require.ErrorIs(t, errs[2], state.ErrConflict)
		require.Equal(t, int64(2), runs[0])
		require.Equal(t, int64(3), runs[1])
		got, err := b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), got.Version)
		require.Equal(t, state.RunRunning, got.Status)
		as, err := b.store.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, as, 1)
		require.Equal(t, "succeeded", as[0].Status)
		require.Equal(t, "w1", as[0].WorkerID, "attempts merge across updates")
		require.Empty(t, claimAll(t, b.store))
	})

	t.Run("Hundred", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		const n = 100
		ps := make([]*state.RunUpdateParams, n)
		for i := range ps {
			run := insertRun(t, b, state.Run{})
			ps[i] = &state.RunUpdateParams{
				ID: run.ID, ExpectedVersion: 1, Status: state.RunRunning, State: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
				Attempts: []state.StepAttempt{{StepID: "s", Attempt: 1, Status: "running"}},
				Outbox:   []state.OutboxMessage{{Queue: "q", MsgID: fmt.Sprint("m", i)}},
			}
		}
		runs, errs := b.batch.RunUpdateMany(ctx, ps)
		seqs := map[int64]string{}
		for i := range ps {
			require.NoError(t, errs[i])
			require.Equal(t, int64(2), runs[i])
			got, err := b.store.RunGet(ctx, ps[i].ID)
			require.NoError(t, err)
			require.JSONEq(t, fmt.Sprintf(`{"i":%d}`, i), string(got.State))
			require.NotZero(t, ps[i].Outbox[0].Seq)
			seqs[ps[i].Outbox[0].Seq] = ps[i].Outbox[0].MsgID
		}
		require.Len(t, seqs, n, "seqs are distinct")
		msgs := claimAll(t, b.store)
		require.Len(t, msgs, n)
		for _, m := range msgs {
			require.Equal(t, seqs[m.Seq], m.MsgID)
		}
		for _, i := range []int{0, n / 2, n - 1} {
			as, err := b.store.StepAttemptList(ctx, ps[i].ID)
			require.NoError(t, err)
			require.Len(t, as, 1)
		}
	})

	t.Run("SameAsRunUpdate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		started := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
		finished := started.Add(time.Second)
		deliver := time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)
		// script returns the updates of one round for run id; taskID keeps
		// human task IDs (a global key) apart between the two runs.
		script := func(round int, id, taskID string) *state.RunUpdateParams {
			v := int64(round + 1)
			switch round {
			case 0:
				return &state.RunUpdateParams{ID: id, ExpectedVersion: v, Status: state.RunRunning, State: json.RawMessage(`{"r":0}`),
					Attempts: []state.StepAttempt{
						{StepID: "a", Attempt: 1, Status: "running", Input: json.RawMessage(`{"x":1}`), WorkerID: "w1", StartedAt: &started},
						{StepID: "a", Attempt: 1, Error: "dup key merged"},
						{StepID: "b", Iteration: 2, Attempt: 1, Status: "running"},
					},
					Outbox: []state.OutboxMessage{
						{Queue: "steps", MsgID: "a", Priority: 2, Headers: map[string]string{"h": "1"}, Body: []byte{0, 1, 0xff}},
						{Queue: "timers", MsgID: "t", DeliverAt: deliver},
					},
					HumanTasks: []state.HumanTask{{ID: taskID, StepID: "h", Prompt: "p1", Quorum: 2, Assignees: []string{"alice", "role:ops"},
						UISchema: json.RawMessage(`{"type":"object"}`), Deadline: &deliver}},
				}
			case 1:
				// Zero fields keep the stored values.
				return &state.RunUpdateParams{ID: id, ExpectedVersion: v}
			case 2:
				return &state.RunUpdateParams{ID: id, ExpectedVersion: v, Error: "boom",
					Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1, Status: "failed", Output: json.RawMessage(`{"o":1}`), FinishedAt: &finished}},
					HumanTasks: []state.HumanTask{{ID: taskID, StepID: "h", Prompt: "p2", Status: state.HumanCancelled,
						Decisions: []state.HumanDecision{{By: "bob", Decision: json.RawMessage(`{"ok":false}`), DecidedAt: started}}, ClosedAt: &finished}},
				}
			case 3:
				// Stale: conflicts on both paths.
				return &state.RunUpdateParams{ID: id, ExpectedVersion: 1, Status: state.RunCancelled, Outbox: []state.OutboxMessage{{Queue: "q", MsgID: "stale"}}}
			case 4:
				// One attempt and one message, every field set.
				return &state.RunUpdateParams{ID: id, ExpectedVersion: 4, State: json.RawMessage(`{"r":3}`),
					Attempts: []state.StepAttempt{{StepID: "c", Iteration: 1, Attempt: 2, Status: "succeeded", Input: json.RawMessage(`{"i":1}`),
						Output: json.RawMessage(`{"o":2}`), Error: "e", WorkerID: "w2", StartedAt: &started, FinishedAt: &finished}},
					Outbox: []state.OutboxMessage{{Queue: "other", MsgID: "one", Priority: 1, Headers: map[string]string{"k": "v"},
						Body: []byte("body"), DeliverAt: deliver}},
				}
			default:
				return &state.RunUpdateParams{ID: id, ExpectedVersion: 5, Status: state.RunCompleted, Output: json.RawMessage(`{"answer":42}`), Finished: true,
					State: json.RawMessage(`{"r":4}`)}
			}
		}
		const rounds = 6
		seqRun := insertRun(t, b, state.Run{Input: json.RawMessage(`{"in":1}`), Priority: 2})
		batchRun := insertRun(t, b, state.Run{Input: json.RawMessage(`{"in":1}`), Priority: 2})
		seqTask, batchTask := "00000000-0000-0000-0000-0000000000b1", "00000000-0000-0000-0000-0000000000b2"
		for round := range rounds {
			want, wantErr := b.store.RunUpdate(ctx, script(round, seqRun.ID, seqTask))
			p := script(round, batchRun.ID, batchTask)
			got, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{p})
			if wantErr != nil {
				require.ErrorIs(t, wantErr, state.ErrConflict, "round %d", round)
				require.ErrorIs(t, errs[0], state.ErrConflict, "round %d", round)
				continue
			}
			require.NoError(t, errs[0], "round %d", round)
			require.Equal(t, want.Version, got[0], "round %d", round)
			gotRun, err := b.store.RunGet(ctx, batchRun.ID)
			require.NoError(t, err)
			require.Equal(t, comparableRun(want), comparableRun(gotRun), "round %d", round)
			for _, m := range p.Outbox {
				require.NotZero(t, m.Seq)
			}
		}

		_, wantErr := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: "missing", ExpectedVersion: 1, Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1}}})
		require.ErrorIs(t, wantErr, state.ErrNotFound)
		_, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{{ID: "missing", ExpectedVersion: 1, Attempts: []state.StepAttempt{{StepID: "a", Attempt: 1}}}})
		require.ErrorIs(t, errs[0], state.ErrNotFound)

		runA, err := b.store.RunGet(ctx, seqRun.ID)
		require.NoError(t, err)
		runB, err := b.store.RunGet(ctx, batchRun.ID)
		require.NoError(t, err)
		require.Equal(t, comparableRun(runA), comparableRun(runB))

		attemptsA, err := b.store.StepAttemptList(ctx, seqRun.ID)
		require.NoError(t, err)
		attemptsB, err := b.store.StepAttemptList(ctx, batchRun.ID)
		require.NoError(t, err)
		for i := range attemptsA {
			attemptsA[i].RunID = ""
		}
		for i := range attemptsB {
			attemptsB[i].RunID = ""
		}
		require.Equal(t, attemptsA, attemptsB)

		taskA, err := b.store.HumanTaskGet(ctx, seqTask)
		require.NoError(t, err)
		taskB, err := b.store.HumanTaskGet(ctx, batchTask)
		require.NoError(t, err)
		taskA.ID, taskA.RunID, taskB.ID, taskB.RunID = "", "", "", ""
		require.Equal(t, taskA.CreatedAt.IsZero(), taskB.CreatedAt.IsZero())
		taskA.CreatedAt, taskB.CreatedAt = time.Time{}, time.Time{}
		require.Equal(t, taskA, taskB)

		msgs := claimAll(t, b.store)
		perRun := map[string][]string{}
		for _, m := range msgs {
			perRun[m.RunID] = append(perRun[m.RunID], fmt.Sprintf("%s|%s|%d|%v|%x|%s", m.Queue, m.MsgID, m.Priority, m.Headers, m.Body,
				m.DeliverAt.Format(time.RFC3339)))
		}
		require.Len(t, perRun[seqRun.ID], 3)
		// Messages without DeliverAt are due at the write time, which differs.
		norm := func(ss []string) []string {
			out := slices.Clone(ss)
			for i, s := range out {
				if strings.HasPrefix(s, "steps|") {
					out[i] = s[:strings.LastIndex(s, "|")]
				}
			}
			slices.Sort(out)
			return out
		}
		require.Equal(t, norm(perRun[seqRun.ID]), norm(perRun[batchRun.ID]))
	})

	t.Run("OutboxDelete", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		src := insertRun(t, b, state.Run{})
		published := []state.OutboxMessage{{Queue: "q", MsgID: "p1"}, {Queue: "q", MsgID: "p2"}, {Queue: "q", MsgID: "p3"}, {Queue: "q", MsgID: "p4"}}
		_, err := b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: src.ID, ExpectedVersion: 1, Outbox: published})
		require.NoError(t, err)
		seq := func(i int) int64 { return published[i].Seq }

		// Batch: the applied update deletes its rows, the stale one does not.
		a, c := insertRun(t, b, state.Run{}), insertRun(t, b, state.Run{})
		versions, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{
			{ID: a.ID, ExpectedVersion: 1, Status: state.RunRunning, OutboxDelete: []int64{seq(0)}},
			{ID: c.ID, ExpectedVersion: 9, Status: state.RunRunning, OutboxDelete: []int64{seq(1)}},
		})
		require.NoError(t, errs[0])
		require.Equal(t, int64(2), versions[0])
		require.ErrorIs(t, errs[1], state.ErrConflict)

		// Single: the same rule.
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: c.ID, ExpectedVersion: 9, OutboxDelete: []int64{seq(2)}})
		require.ErrorIs(t, err, state.ErrConflict)
		_, err = b.store.RunUpdate(ctx, &state.RunUpdateParams{ID: c.ID, ExpectedVersion: 1, OutboxDelete: []int64{seq(3), 1 << 40}})
		require.NoError(t, err, "unknown seqs are ignored")

		var left []string
		for _, m := range claimAll(t, b.store) {
			left = append(left, m.MsgID)
		}
		require.ElementsMatch(t, []string{"p2", "p3"}, left)
	})

	t.Run("OutboxPreClaimed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		base := time.Date(2033, 1, 1, 0, 0, 0, 0, time.UTC)
		r1, r2 := insertRun(t, b, state.Run{}), insertRun(t, b, state.Run{})
		_, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{
			{ID: r1.ID, ExpectedVersion: r1.Version, Outbox: []state.OutboxMessage{
				{Queue: "q", MsgID: "claimed", DeliverAt: base, ClaimedUntil: base.Add(10 * time.Second)},
				{Queue: "q", MsgID: "free", DeliverAt: base},
			}},
			{ID: r2.ID, ExpectedVersion: r2.Version, Outbox: []state.OutboxMessage{
				{Queue: "q", MsgID: "claimed2", DeliverAt: base, ClaimedUntil: base.Add(20 * time.Second)},
			}},
		})
		for _, err := range errs {
			require.NoError(t, err)
		}
		ids := func(ms []state.OutboxMessage) []string {
			var out []string
			for _, m := range ms {
				out = append(out, m.MsgID)
			}
			slices.Sort(out)
			return out
		}
		early, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(time.Second), Limit: 10, LeaseFor: time.Hour})
		require.NoError(t, err)
		require.Equal(t, []string{"free"}, ids(early))
		mid, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(15 * time.Second), Limit: 10, LeaseFor: time.Hour})
		require.NoError(t, err)
		require.Equal(t, []string{"claimed"}, ids(mid))
		late, err := b.store.OutboxClaim(ctx, &state.OutboxClaimParams{Now: base.Add(25 * time.Second), Limit: 10, LeaseFor: time.Hour})
		require.NoError(t, err)
		require.Equal(t, []string{"claimed2"}, ids(late))
	})

	t.Run("StatusKept", func(t *testing.T) {
		// An empty Status keeps the stored one (and the run stays listed
		// under it), whatever else the update writes.
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		run := insertRun(t, b, state.Run{Status: state.RunRunning, State: json.RawMessage(`{"v":0}`)})
		versions, errs := b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{
			{ID: run.ID, ExpectedVersion: 1, State: json.RawMessage(`{"v":1}`)},
		})
		require.NoError(t, errs[0])
		require.Equal(t, int64(2), versions[0])
		got, err := b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, state.RunRunning, got.Status)
		require.JSONEq(t, `{"v":1}`, string(got.State))
		listed, _, err := b.store.RunList(ctx, &state.RunListParams{Status: state.RunRunning})
		require.NoError(t, err)
		require.Len(t, listed, 1)

		versions, errs = b.batch.RunUpdateMany(ctx, []*state.RunUpdateParams{
			{ID: run.ID, ExpectedVersion: 2, Status: state.RunCompleted, State: json.RawMessage(`{"v":2}`), Finished: true},
			{ID: run.ID, ExpectedVersion: 3, Error: "late note"},
		})
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.Equal(t, []int64{3, 4}, versions)
		got, err = b.store.RunGet(ctx, run.ID)
		require.NoError(t, err)
		require.Equal(t, state.RunCompleted, got.Status)
		require.JSONEq(t, `{"v":2}`, string(got.State))
		require.NotNil(t, got.FinishedAt)
		listed, _, err = b.store.RunList(ctx, &state.RunListParams{Status: state.RunRunning})
		require.NoError(t, err)
		require.Empty(t, listed)
		listed, _, err = b.store.RunList(ctx, &state.RunListParams{Status: state.RunCompleted})
		require.NoError(t, err)
		require.Len(t, listed, 1)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		runs, errs := b.batch.RunUpdateMany(t.Context(), nil)
		require.Empty(t, runs)
		require.Empty(t, errs)
	})

	t.Run("Closed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		run := insertRun(t, b, state.Run{})
		require.NoError(t, b.store.Close())
		runs, errs := b.batch.RunUpdateMany(t.Context(), []*state.RunUpdateParams{
			{ID: run.ID, ExpectedVersion: 1}, {ID: missingID, ExpectedVersion: 1},
		})
		require.Len(t, runs, 2)
		for i, err := range errs {
			require.ErrorIs(t, err, state.ErrClosed, "update %d", i)
			require.Zero(t, runs[i])
		}
	})
}

// comparableRun drops what differs between two runs given the same updates:
// the ID and the write times.
func comparableRun(r *state.Run) state.Run {
	c := *r
	c.ID, c.CreatedAt, c.UpdatedAt = "", time.Time{}, time.Time{}
	if c.FinishedAt != nil {
		c.FinishedAt = &time.Time{}
	}
	return c
}

// BenchRunUpdate measures the hot path: one guarded RunUpdate with one
// attempt upsert and one outbox message per op, from 4×GOMAXPROCS goroutines
// on distinct runs. It reports updates/s.
func BenchRunUpdate(b *testing.B, s state.Store) {
	b.Helper()
	ctx := context.Background()
	pv := benchPipeline(b, s)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		run, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
		if err != nil {
			b.Error(err)
			return
		}
		version := run.Version
		i := 0
		for pb.Next() {
			i++
			r, err := s.RunUpdate(ctx, benchUpdate(run.ID, version, i))
			if err != nil {
				b.Error(err)
				return
			}
			version = r.Version
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}

// BenchRunUpdateMany measures group commit: one goroutine committing batches
// of 1, 16 and 64 updates on distinct runs, each update shaped like
// BenchRunUpdate's. One op is one batch; it reports updates/s.
func BenchRunUpdateMany(b *testing.B, s state.Store) {
	b.Helper()
	bu, ok := s.(state.BatchUpdater)
	require.True(b, ok, "%T does not implement state.BatchUpdater", s)
	ctx := context.Background()
	pv := benchPipeline(b, s)
	for _, size := range []int{1, 16, 64} {
		b.Run(fmt.Sprint("size=", size), func(b *testing.B) {
			ids := make([]string, size)
			versions := make([]int64, size)
			for j := range ids {
				run, _, err := s.RunInsert(ctx, &state.RunInsertParams{Run: state.Run{PipelineVersionID: pv.ID, PipelineSlug: pv.Slug}})
				require.NoError(b, err)
				ids[j], versions[j] = run.ID, run.Version
			}
			ps := make([]*state.RunUpdateParams, size)
			i := 0
			for b.Loop() {
				i++
				for j := range ps {
					ps[j] = benchUpdate(ids[j], versions[j], i)
				}
				runs, errs := bu.RunUpdateMany(ctx, ps)
				for j, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
					versions[j] = runs[j]
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}

func benchPipeline(b *testing.B, s state.Store) *state.PipelineVersion {
	b.Helper()
	pv, _, err := s.PipelineVersionPut(context.Background(), &state.PipelineVersionPutParams{Slug: "bench", Hash: "h", Definition: json.RawMessage(`{}`)})
	require.NoError(b, err)
	return pv
}

func benchUpdate(id string, version int64, i int) *state.RunUpdateParams {
	return &state.RunUpdateParams{
		ID: id, ExpectedVersion: version, Status: state.RunRunning,
		State:    json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)),
		Attempts: []state.StepAttempt{{StepID: "step", Iteration: i, Attempt: 1, Status: "running"}},
		Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: fmt.Sprintf("%s-%d", id, i), Body: []byte(`{"step":"step"}`)}},
	}
}
