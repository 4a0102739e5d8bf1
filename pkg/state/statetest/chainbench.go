package statetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/state"
)

// BenchChainCommits replays the writes a scheduler makes for 10-step chains
// with 100 runs in flight, committed in groups of 6 decisions (what group
// commit gathers on the embedded engine under load): per decision a run
// update whose state grows by one step's entry, the finished attempt, the
// next attempt and its task in the outbox, and the deletion of the tasks the
// previous group published. A finished run is replaced by a new one,
// inserted with the next group when the store is a [state.BatchWriter] (as
// the scheduler does) and on its own otherwise. One op is one decision: the
// store's share of a step, without the broker and the workers.
func BenchChainCommits(b *testing.B, s state.Store) {
	b.Helper()
	bu, ok := s.(state.BatchUpdater)
	require.True(b, ok, "%T does not implement state.BatchUpdater", s)
	bw, _ := s.(state.BatchWriter)
	ctx := context.Background()
	pv := benchPipeline(b, s)
	const (
		inFlight = 100
		steps    = 10
		group    = 6
	)
	states := make([][]byte, steps+1)
	for k := range states {
		states[k] = chainState(k)
	}
	type run struct {
		id      string
		version int64
		step    int
	}
	newRun := func() (*run, *state.RunInsertParams) {
		id := uuid.Must(uuid.NewV7()).String()
		return &run{id: id, version: 1, step: 1}, &state.RunInsertParams{
			Run: state.Run{ID: id, PipelineVersionID: pv.ID, PipelineSlug: pv.Slug, Status: state.RunRunning,
				Input: json.RawMessage(`{}`), State: states[0]},
			Attempts: []state.StepAttempt{chainStart(1)},
			Outbox:   []state.OutboxMessage{chainTask(id, 1)},
		}
	}
	runs := make([]*run, inFlight)
	for i := range runs {
		r, p := newRun()
		_, _, err := s.RunInsert(ctx, p)
		require.NoError(b, err)
		runs[i] = r
	}
	var (
		published []int64
		inserts   []*state.RunInsertParams
		next      int
	)
	b.ResetTimer()
	for done := 0; done < b.N; {
		var ws []state.RunWrite
		var picked []*run
		for _, p := range inserts {
			ws = append(ws, state.RunWrite{Insert: p})
		}
		inserts = inserts[:0]
		for len(picked) < group && done+len(picked) < b.N {
			r := runs[next%inFlight]
			next += 7 // visit runs out of order, as completions arrive
			u := &state.RunUpdateParams{ID: r.id, ExpectedVersion: r.version, State: states[r.step],
				Attempts: []state.StepAttempt{chainDone(r.step)}}
			if r.step == steps {
				u.Status, u.Finished, u.Output = state.RunCompleted, true, json.RawMessage(`{"ok":true}`)
			} else {
				u.Attempts = append(u.Attempts, chainStart(r.step+1))
				u.Outbox = []state.OutboxMessage{chainTask(r.id, r.step+1)}
			}
			ws = append(ws, state.RunWrite{Update: u})
			picked = append(picked, r)
		}
		nIns := len(ws) - len(picked)
		ws[nIns].Update.OutboxDelete, published = published, nil
		versions := commitChain(b, s, bu, bw, ws)
		for _, w := range ws {
			if w.Insert != nil {
				published = append(published, w.Insert.Outbox[0].Seq)
				continue
			}
			for _, o := range w.Update.Outbox {
				published = append(published, o.Seq)
			}
		}
		for i, r := range picked {
			r.version = versions[nIns+i]
			if r.step++; r.step > steps {
				nr, p := newRun()
				*r = *nr
				inserts = append(inserts, p)
			}
		}
		done += len(picked)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// commitChain commits ws in one group when bw is set, and otherwise the
// inserts one by one and the updates in one group. It returns each
// update's version (0 for inserts).
func commitChain(b *testing.B, s state.Store, bu state.BatchUpdater, bw state.BatchWriter, ws []state.RunWrite) []int64 {
	versions := make([]int64, len(ws))
	if bw != nil {
		for i, r := range bw.RunWriteMany(context.Background(), ws) {
			require.NoError(b, r.Err)
			versions[i] = r.Version
		}
		return versions
	}
	var (
		ps  []*state.RunUpdateParams
		idx []int
	)
	for i, w := range ws {
		if w.Insert != nil {
			_, _, err := s.RunInsert(context.Background(), w.Insert)
			require.NoError(b, err)
			continue
		}
		ps, idx = append(ps, w.Update), append(idx, i)
	}
	vs, errs := bu.RunUpdateMany(context.Background(), ps)
	for j, err := range errs {
		require.NoError(b, err)
		versions[idx[j]] = vs[j]
	}
	return versions
}

// chainState is a run state with k finished steps, shaped like the DAG
// core's encoding (each step about 240 bytes).
func chainState(k int) []byte {
	b := []byte(`{"run_id":"bench","status":"running","input":{},"params":{},"steps":[`)
	for i := range k {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"status":"succeeded","iteration":1,"attempt":1,"output":{"bench_end":"1795819610195135791","bench_start":"1795819610195135630"},"seq":%d,"resolved":1,"taken":1,"via":-1,"started_at":"2026-11-27T22:46:49.867575702Z","finished_at":"2026-11-27T22:46:50.195136201Z"}`, i+1)
	}
	return append(b, `],"active":1,"seq":1}`...)
}

func chainStart(step int) state.StepAttempt {
	now := time.Now()
	return state.StepAttempt{StepID: "s" + strconv.Itoa(step), Iteration: 1, Attempt: 1, Status: "running", Input: json.RawMessage(`{}`), StartedAt: &now}
}

func chainDone(step int) state.StepAttempt {
	now := time.Now()
	return state.StepAttempt{StepID: "s" + strconv.Itoa(step), Iteration: 1, Attempt: 1, Status: "succeeded",
		Output: json.RawMessage(`{"bench_end":"1795819610195135791","bench_start":"1795819610195135630"}`), WorkerID: "worker-1", FinishedAt: &now}
}

func chainTask(runID string, step int) state.OutboxMessage {
	sid := "s" + strconv.Itoa(step)
	body := fmt.Appendf(nil, `{"run_id":%q,"step_id":%q,"iteration":1,"attempt":1,"class":"bench_noop","data":{},"timeout_ms":0}`, runID, sid)
	return state.OutboxMessage{Queue: "steps", MsgID: runID + "/" + sid + "/1/1", Body: body,
		Headers: map[string]string{"run_id": runID, "step_id": sid}, ClaimedUntil: time.Now().Add(time.Minute)}
}
