package scheduler_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/internal/testenv"
	"github.com/ia-modules/ia-go/pkg/queue"
	"github.com/ia-modules/ia-go/pkg/scheduler"
	"github.com/ia-modules/ia-go/pkg/state"
	"github.com/ia-modules/ia-go/pkg/state/statepg"
	"github.com/ia-modules/ia-go/pkg/state/statesqlite"
	"github.com/ia-modules/ia-go/pkg/steps"
	"github.com/ia-modules/ia-go/pkg/worker"
)

// pgStore returns a Postgres store in a schema of its own, dropped at
// cleanup, and the schema's name.
func pgStore(t *testing.T) (*statepg.Store, string) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	schema := testenv.Name("iasched")
	st, err := statepg.New(t.Context(), statepg.Config{URL: url, Schema: schema, MaxConns: 8})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = st.Close()
		if err := statepg.DropSchema(context.Background(), url, schema); err != nil {
			t.Errorf("dropping %s: %v", schema, err)
		}
	})
	return st, schema
}

// countingWorker runs every step as a no-op that counts its executions per
// step.
func countingWorker(t *testing.T, br queue.Broker) *sync.Map {
	t.Helper()
	var runs sync.Map // step ID -> *atomic.Int32
	reg := steps.NewRegistry()
	reg.Register("echo", steps.HandlerFunc(func(_ context.Context, in *steps.Input) (*steps.Output, error) {
		n, _ := runs.LoadOrStore(in.StepID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		return &steps.Output{Data: map[string]any{in.StepID: true}}, nil
	}))
	w, err := worker.New(worker.Config{Broker: br, Registry: reg, AckWait: 5 * time.Second})
	require.NoError(t, err)
	require.NoError(t, w.Start(t.Context()))
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	return &runs
}

func executions(runs *sync.Map, step string) int32 {
	n, ok := runs.Load(step)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// runChain starts a scheduler of cfg and a counting worker, submits one
// run of pipeline (a chain of a, b, c) and waits until it has completed.
func runChain(t *testing.T, cfg scheduler.Config, pipeline string) (runID string, runs *sync.Map) {
	t.Helper()
	ctx := t.Context()
	s, err := scheduler.New(cfg)
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	runs = countingWorker(t, cfg.Broker)
	pv, _, err := s.PipelineImport(ctx, "chain", []byte(pipeline))
	require.NoError(t, err)
	run, _, err := s.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := cfg.Store.RunGet(ctx, run.ID)
		return err == nil && got.Status == state.RunCompleted
	}, 30*time.Second, 10*time.Millisecond)
	return run.ID, runs
}

// outboxRowsEver is how many outbox rows the schema's store has inserted.
func outboxRowsEver(t *testing.T, st *statepg.Store, schema string) int64 {
	t.Helper()
	var last int64
	var called bool
	require.NoError(t, st.Pool().QueryRow(t.Context(), `SELECT last_value, is_called FROM `+schema+`.outbox_seq_seq`).Scan(&last, &called))
	if !called {
		return 0
	}
	return last
}

// TestPublishBeforeCommit: on a store that is a state.PreCommitter, the
// tasks a worker's completion leads to are published inside the decision's
// transaction and never written to the outbox; a run's first task, from
// Submit, still is. With PublishAfterCommit, or in a pipeline where a step
// reads a step that is not its ancestor (a decision taken again could give
// it other inputs), every task goes through the outbox. Either way each
// step runs once and the run completes.
func TestPublishBeforeCommit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		pipeline   string
		after      bool
		outboxRows int64
	}{
		{"before the commit", chain, false, 1},
		{"after the commit", chain, true, 3},
		{"a step reads a later one", strings.Replace(chain, `{"id":"b","step_class":"echo"}`, `{"id":"b","step_class":"echo","inputs":{"x":"{steps.c.output.c}"}}`, 1), false, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			br, _ := backends(t)
			st, schema := pgStore(t)
			reg := prometheus.NewRegistry()
			_, runs := runChain(t, scheduler.Config{Store: st, Broker: br, PublishAfterCommit: tc.after, Registerer: reg}, tc.pipeline)
			require.Equal(t, tc.outboxRows, outboxRowsEver(t, st, schema))
			require.EqualValues(t, 3, gather(t, reg, "ia_scheduler_outbox_published_total"))
			for _, step := range []string{"a", "b", "c"} {
				require.EqualValues(t, 1, executions(runs, step), step)
			}
		})
	}
}

// lostCommit is a Postgres store whose group commits roll back once after
// their tasks were published, as when a scheduler dies between publishing
// and committing.
type lostCommit struct {
	*statepg.Store
	lost atomic.Int32 // commits lost: one, the first
	// held: lose the first commit of a run's open transaction instead
	// (lostLock), not a group commit's.
	held bool
}

// lose reports whether the commit at hand is to be lost: the first of its
// kind.
func (l *lostCommit) lose(held bool) bool {
	return held == l.held && l.lost.CompareAndSwap(0, 1)
}

func (l *lostCommit) RunUpdateManyThen(ctx context.Context, ps []*state.RunUpdateParams, then func(context.Context, []bool) error) ([]int64, []error) {
	return l.Store.RunUpdateManyThen(ctx, ps, func(ctx context.Context, applied []bool) error {
		if err := then(ctx, applied); err != nil {
			return err
		}
		if l.lose(false) {
			return errors.New("the scheduler died before its commit")
		}
		return nil
	})
}

func (l *lostCommit) RunUpdateThenLock(ctx context.Context, p *state.RunUpdateParams, then func(context.Context, bool) error) (int64, state.RunLock, error) {
	v, lock, err := l.Store.RunUpdateThenLock(ctx, p, func(ctx context.Context, applied bool) error {
		if err := then(ctx, applied); err != nil {
			return err
		}
		if l.lose(false) {
			return errors.New("the scheduler died before its commit")
		}
		return nil
	})
	if lock != nil {
		lock = &lostLock{RunLock: lock, l: l}
	}
	return v, lock, err
}

// lostLock loses the commit of a run's open transaction when its store has
// not lost one yet (lostCommit.lost), after the decisions in it published
// their tasks.
type lostLock struct {
	state.RunLock
	l *lostCommit
}

func (k *lostLock) Commit(ctx context.Context, relock bool) (int64, state.RunLock, error) {
	if k.l.lose(true) {
		k.RunLock.Release(ctx)
		return 0, nil, errors.New("the scheduler died before its commit")
	}
	v, lock, err := k.RunLock.Commit(ctx, relock)
	if lock != nil {
		lock = &lostLock{RunLock: lock, l: k.l}
	}
	return v, lock, err
}

// TestPublishedDecisionLost: a decision whose tasks were published but that
// did not commit is taken again from its completion, delivered again; the
// broker de-duplicates the task published again, the completion of the
// step that ran meanwhile waits until the decision is in the store (it is
// ahead of the run's state until then), and every step runs once.
func TestPublishedDecisionLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		held bool
	}{
		{"group commit", false},
		// The decisions handed to a run's open transaction (runlock.go):
		// the hold is long enough for every step's completion to find it.
		{"held transaction", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			br, _ := backends(t)
			pg, _ := pgStore(t)
			st := &lostCommit{Store: pg, held: tc.held}
			reg := prometheus.NewRegistry()
			runID, runs := runChain(t, scheduler.Config{Store: st, Broker: br, Registerer: reg, AckWait: 5 * time.Second,
				HoldRunLocks: 10 * time.Second}, chain)
			require.EqualValues(t, 1, st.lost.Load(), "a decision was lost once, then taken again")
			for _, step := range []string{"a", "b", "c"} {
				require.EqualValues(t, 1, executions(runs, step), "%s ran once: the task published again was de-duplicated", step)
			}
			if tc.held {
				// The completions of the decisions lost together are
				// delivered again and take them again, in order.
				require.Positive(t, gather(t, reg, "ia_scheduler_held_run_locks_total", "outcome", "used"))
			} else {
				require.Positive(t, gather(t, reg, "ia_scheduler_completions_ahead_total", "outcome", "held"),
					"b's completion came before the decision that started b was in the store")
			}
			attempts, err := st.StepAttemptList(ctx, runID)
			require.NoError(t, err)
			require.Len(t, attempts, 3)
			for _, a := range attempts {
				require.Equal(t, "succeeded", a.Status, a.StepID)
				require.Equal(t, 1, a.Attempt, a.StepID)
			}
		})
	}
}

// TestCompletionAhead: a completion for a step the stored run has not
// started is not dropped as stale: it is offered again until the decision
// that starts the step is in the store, then applied; past AheadHold it is
// dropped.
func TestCompletionAhead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	br, st := backends(t)
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := scheduler.New(scheduler.Config{Store: st, Broker: br, Registerer: reg, AheadHold: 2 * time.Second, Logger: log})
	require.NoError(t, err)
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	pv, _, err := s.PipelineImport(ctx, "chain", []byte(chain))
	require.NoError(t, err)
	run, _, err := s.Submit(ctx, &scheduler.SubmitParams{PipelineVersionID: pv.ID}) // no worker: the test completes the steps
	require.NoError(t, err)
	send := func(step string, attempt int, ended time.Time) {
		body, err := worker.EncodeCompletion(&worker.Completion{RunID: run.ID, StepID: step, Iteration: 1, Attempt: attempt,
			Output: json.RawMessage(fmt.Sprintf(`{%q:true}`, step)), StartedAt: ended, EndedAt: ended})
		require.NoError(t, err)
		require.NoError(t, br.Publish(ctx, queue.Message{ID: fmt.Sprint("done.", step, ".", attempt), Queue: queue.EventsQueue, Body: body}))
	}
	ahead := func(outcome string) float64 {
		return gather(t, reg, "ia_scheduler_completions_ahead_total", "outcome", outcome)
	}
	attempt := func(step string) string {
		as, err := st.StepAttemptList(ctx, run.ID)
		require.NoError(t, err)
		for _, a := range as {
			if a.StepID == step {
				return a.Status
			}
		}
		return ""
	}

	send("b", 1, time.Now())
	require.Eventually(t, func() bool { return ahead("held") >= 1 }, 10*time.Second, 5*time.Millisecond)
	send("a", 1, time.Now())
	require.Eventually(t, func() bool { return attempt("b") == "succeeded" }, 10*time.Second, 10*time.Millisecond,
		"b's completion, held, is applied once a's decision started b")
	require.Zero(t, ahead("dropped"))

	// A completion of c's second attempt, which no decision started, from
	// before the hold: dropped at once, never applied.
	send("c", 2, time.Now().Add(-time.Minute))
	require.Eventually(t, func() bool { return ahead("dropped") == 1 }, 10*time.Second, 5*time.Millisecond)
	// Its held start is written after AttemptRecordDelay; an end would
	// have replaced it for good.
	require.Eventually(t, func() bool { return attempt("c") == "running" }, 5*time.Second, 10*time.Millisecond)
	got, err := st.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, state.RunRunning, got.Status)
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestEphemeralStore: with a store that does not outlive the process, the
// tasks a decision starts are published after its commit without an outbox
// row; Submit's first task still goes through the outbox. Each step runs
// once and the run completes.
func TestEphemeralStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ephemeral  bool
		outboxRows int64
	}{{false, 3}, {true, 1}} {
		t.Run(fmt.Sprint("ephemeral=", tc.ephemeral), func(t *testing.T) {
			t.Parallel()
			br, _ := backends(t)
			path := filepath.Join(t.TempDir(), "ia.db")
			st, err := statesqlite.New(t.Context(), statesqlite.Config{Path: path, NoSync: true})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			reg := prometheus.NewRegistry()
			_, runs := runChain(t, scheduler.Config{Store: st, Broker: br, Registerer: reg, EphemeralStore: tc.ephemeral}, chain)
			for _, step := range []string{"a", "b", "c"} {
				require.EqualValues(t, 1, executions(runs, step), step)
			}
			require.EqualValues(t, 3, gather(t, reg, "ia_scheduler_outbox_published_total"))
			db, err := sql.Open("sqlite", "file:"+path)
			require.NoError(t, err)
			defer db.Close()
			var rows int64
			require.NoError(t, db.QueryRowContext(t.Context(), `SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'`).Scan(&rows))
			require.Equal(t, tc.outboxRows, rows, "outbox rows ever written")
		})
	}
}
