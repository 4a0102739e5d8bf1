package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/api"
	"github.com/ia-modules/ia-go/pkg/client"
	"github.com/ia-modules/ia-go/pkg/state"
)

type loadResult struct {
	requests  int
	runs      []string
	latencies []time.Duration
	errs      []error
	elapsed   time.Duration
}

// apiLoad runs `clients` concurrent producers+reviewers for d: each submits
// a review run, waits for its human task, and approves it.
func apiLoad(t testing.TB, b *testBundle, clients int, d time.Duration) *loadResult {
	t.Helper()
	producer, reviewer := b.client(t, state.RoleProducer), b.client(t, state.RoleReviewer)
	var (
		mu  sync.Mutex
		res = &loadResult{}
		wg  sync.WaitGroup
	)
	timed := func(fn func() error) error {
		start := time.Now()
		err := fn()
		mu.Lock()
		res.requests++
		res.latencies = append(res.latencies, time.Since(start))
		if err != nil {
			res.errs = append(res.errs, err)
		}
		mu.Unlock()
		return err
	}
	ctx := context.Background()
	stop := time.Now().Add(d)
	begin := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(stop); n++ {
				var runID string
				if timed(func() error {
					run, _, err := producer.SubmitRun(ctx, &api.SubmitRequest{Pipeline: "review", Input: json.RawMessage(`{"topic":"load"}`), IdempotencyKey: fmt.Sprintf("load-%d-%d", i, n)})
					if err == nil {
						runID = run.ID
					}
					return err
				}) != nil {
					return
				}
				mu.Lock()
				res.runs = append(res.runs, runID)
				mu.Unlock()
				var taskID string
				for deadline := time.Now().Add(waitTimeout); taskID == "" && time.Now().Before(deadline); {
					if timed(func() error {
						tasks, err := reviewer.ListHumanTasks(ctx, &client.ListHumanTasksParams{RunID: runID, Status: state.HumanPending})
						if err == nil && len(tasks) > 0 {
							taskID = tasks[0].ID
						}
						return err
					}) != nil {
						return
					}
					if taskID == "" {
						time.Sleep(20 * time.Millisecond)
					}
				}
				if timed(func() error {
					_, err := reviewer.Decide(ctx, taskID, map[string]any{"decision": "approve"})
					return err
				}) != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	return res
}

func (r *loadResult) report(tb testing.TB) (rps float64, p50, p99 time.Duration) {
	tb.Helper()
	slices.Sort(r.latencies)
	if len(r.latencies) == 0 {
		return 0, 0, 0
	}
	rps = float64(r.requests) / r.elapsed.Seconds()
	p50 = r.latencies[len(r.latencies)*50/100]
	p99 = r.latencies[min(len(r.latencies)*99/100, len(r.latencies)-1)]
	tb.Logf("api load: %d requests, %d runs in %s: %.0f req/s, p50 %s, p99 %s, %d errors",
		r.requests, len(r.runs), r.elapsed.Round(time.Millisecond), rps, p50, p99, len(r.errs))
	return rps, p50, p99
}

// checkNoLoss asserts zero errors and that every submitted run completes.
func (r *loadResult) checkNoLoss(tb testing.TB, b *testBundle) {
	tb.Helper()
	require.Empty(tb, r.errs)
	for _, id := range r.runs {
		run := b.waitRun(tb, id, state.RunCompleted, state.RunFailed, state.RunCancelled)
		require.Equal(tb, state.RunCompleted, run.Status, "run %s: %s", id, run.Error)
	}
	require.Equal(tb, len(r.runs), b.runCount(tb), "every run accounted for")
}

// TestAPILoad is the short version of BenchmarkAPILoad.
func TestAPILoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	b := setup(t)
	res := apiLoad(t, b, 50, 2*time.Second)
	res.report(t)
	require.NotEmpty(t, res.runs)
	res.checkNoLoss(t, b)
}

// BenchmarkAPILoad runs 50 concurrent clients submitting runs and deciding
// their human tasks for IA_BENCH_DURATION (default 30s), reports requests/s
// and p50/p99 latency, and fails on any error or lost run:
//
//	go test ./pkg/api -run '^$' -bench APILoad -benchtime 1x
func BenchmarkAPILoad(b *testing.B) {
	d := 30 * time.Second
	if v := os.Getenv("IA_BENCH_DURATION"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(b, err)
	}
	tb := setup(b)
	b.ResetTimer()
	for range b.N {
		res := apiLoad(b, tb, 50, d)
		rps, p50, p99 := res.report(b)
		b.ReportMetric(rps, "req/s")
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.StopTimer()
		res.checkNoLoss(b, tb)
		b.StartTimer()
	}
}
