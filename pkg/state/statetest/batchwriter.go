package statetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// ExerciseBatchWriter runs the [state.BatchWriter] conformance suite against
// stores from newStore, which must implement it. Every subtest gets its own store.
func ExerciseBatchWriter(t *testing.T, newStore NewStoreFunc) {
	t.Helper()
	newRun := func(pv *state.PipelineVersion, key string) *state.RunInsertParams {
		return &state.RunInsertParams{
			Run: state.Run{ID: uuid.NewString(), PipelineVersionID: pv.ID, PipelineSlug: pv.Slug, Status: state.RunRunning,
				IdempotencyKey: key, Input: json.RawMessage(`{"x":1}`), State: json.RawMessage(`{"v":0}`)},
			Attempts: []state.StepAttempt{{StepID: "a", Iteration: 1, Attempt: 1, Status: "running"}},
			Outbox:   []state.OutboxMessage{{Queue: "steps", MsgID: uuid.NewString(), Body: []byte("task")}},
		}
	}

	// setup returns a store with one run inserted alone, old.
	setup := func(t *testing.T) (s state.Store, bw state.BatchWriter, pv *state.PipelineVersion, old *state.Run) {
		t.Helper()
		s = newStore(t)
		bw, ok := s.(state.BatchWriter)
		require.True(t, ok, "%T does not implement state.BatchWriter", s)
		pv, _, err := s.PipelineVersionPut(t.Context(), &state.PipelineVersionPutParams{
			Slug: "demo", Hash: "h1", Definition: json.RawMessage(`{"steps":[]}`),
		})
		require.NoError(t, err)
		old, _, err = s.RunInsert(t.Context(), newRun(pv, ""))
		require.NoError(t, err)
		return s, bw, pv, old
	}
	outbox := func(t *testing.T, s state.Store) []state.OutboxMessage {
		t.Helper()
		msgs, err := s.OutboxClaim(t.Context(), &state.OutboxClaimParams{Now: time.Now().AddDate(10, 0, 0), Limit: 100, LeaseFor: time.Minute})
		require.NoError(t, err)
		return msgs
	}

	t.Run("InsertsAmongUpdates", func(t *testing.T) {
		t.Parallel()
		s, bw, pv, old := setup(t)
		ctx := t.Context()
		first, again := newRun(pv, "key-1"), newRun(pv, "key-1")
		plain := newRun(pv, "")
		ws := []state.RunWrite{
			{Insert: first},
			{Update: &state.RunUpdateParams{ID: old.ID, ExpectedVersion: old.Version, State: json.RawMessage(`{"v":1}`),
				Outbox: []state.OutboxMessage{{Queue: "steps", MsgID: "old-b"}}}},
			{Insert: again}, // the key of an insert earlier in the batch
			{Insert: plain},
		}
		res := bw.RunWriteMany(ctx, ws)
		require.Len(t, res, len(ws))
		for _, r := range res {
			require.NoError(t, r.Err)
		}

		require.True(t, res[0].Created)
		require.Equal(t, first.Run.ID, res[0].Run.ID)
		require.Equal(t, int64(1), res[0].Run.Version)
		require.NotZero(t, first.Outbox[0].Seq)
		got, err := s.RunGet(ctx, first.Run.ID)
		require.NoError(t, err)
		require.Equal(t, comparableRun(res[0].Run), comparableRun(got))
		as, err := s.StepAttemptList(ctx, first.Run.ID)
		require.NoError(t, err)
		require.Len(t, as, 1)

		require.Equal(t, old.Version+1, res[1].Version)
		require.Nil(t, res[1].Run)
		got, err = s.RunGet(ctx, old.ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"v":1}`, string(got.State))

		require.False(t, res[2].Created)
		require.Equal(t, first.Run.ID, res[2].Run.ID)
		require.Zero(t, again.Outbox[0].Seq, "a run found by its key writes nothing")
		_, err = s.RunGet(ctx, again.Run.ID)
		require.ErrorIs(t, err, state.ErrNotFound)

		require.True(t, res[3].Created)
		require.Equal(t, plain.Run.ID, res[3].Run.ID)

		require.Len(t, outbox(t, s), 4, "the old run's first task, first's, the update's and plain's")
	})

	t.Run("RefusedWritesStopNothing", func(t *testing.T) {
		t.Parallel()
		s, bw, pv, old := setup(t)
		ctx := t.Context()
		dup := newRun(pv, "")
		dup.Run.ID = old.ID // breaks the primary key
		orphan := newRun(pv, "")
		orphan.Run.PipelineVersionID = uuid.NewString() // no such pipeline version
		ok := newRun(pv, "")
		ws := []state.RunWrite{
			{Insert: dup},
			{Update: &state.RunUpdateParams{ID: old.ID, ExpectedVersion: old.Version + 5, State: json.RawMessage(`{"v":9}`)}},
			{Insert: orphan},
			{},
			{Insert: ok},
		}
		res := bw.RunWriteMany(ctx, ws)
		require.Len(t, res, len(ws))
		require.Error(t, res[0].Err)
		require.Zero(t, dup.Outbox[0].Seq)
		require.ErrorIs(t, res[1].Err, state.ErrConflict)
		require.Error(t, res[2].Err)
		_, err := s.RunGet(ctx, orphan.Run.ID)
		require.ErrorIs(t, err, state.ErrNotFound)
		require.Error(t, res[3].Err, "a write with neither insert nor update")
		require.NoError(t, res[4].Err)
		require.True(t, res[4].Created)

		as, err := s.StepAttemptList(ctx, old.ID)
		require.NoError(t, err)
		require.Len(t, as, 1, "the refused insert with the old run's ID added no attempt")
		got, err := s.RunGet(ctx, old.ID)
		require.NoError(t, err)
		require.Equal(t, old.Version, got.Version)
		require.Len(t, outbox(t, s), 2, "the old run's first task and ok's")
	})
}
