package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ia-modules/ia-go/pkg/steps"
)

// NoopClass is the step class of the bench no-op.
const NoopClass = "bench_noop"

// Workload is a pipeline to measure and the shape needed to read hops.
type Workload struct {
	Name  string
	Doc   []byte
	Steps int    // steps per run
	First string // the start step
	Final string // the step whose end ends the run's work
	// Preds lists each non-start step's predecessors.
	Preds map[string][]string
	// Width is a fan-out's number of parallel steps; 0 for a chain. Its raw
	// baseline for the hop is a raw fan-out of that width.
	Width int
}

// Workloads returns the 10-step chain and the 1-50-1 fan-out.
func Workloads() []Workload { return []Workload{Chain(10), FanOut(50)} }

// Chain is an n-step chain s1 → … → sn.
func Chain(n int) Workload {
	w := Workload{Name: fmt.Sprintf("chain-%d", n), Steps: n, First: "s1", Final: fmt.Sprintf("s%d", n), Preds: map[string][]string{}}
	stepsJSON := make([]map[string]any, n)
	var paths []map[string]any
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("s%d", i)
		stepsJSON[i-1] = map[string]any{"id": id, "step_class": NoopClass}
		if i > 1 {
			prev := fmt.Sprintf("s%d", i-1)
			paths = append(paths, map[string]any{"from": prev, "to": id})
			w.Preds[id] = []string{prev}
		}
	}
	w.Doc = mustJSON(map[string]any{"name": w.Name, "steps": stepsJSON, "flow": map[string]any{"start_at": "s1", "paths": paths}})
	return w
}

// FanOut is head → width parallel steps → join.
func FanOut(width int) Workload {
	w := Workload{Name: fmt.Sprintf("fan-1-%d-1", width), Steps: width + 2, First: "head", Final: "join", Preds: map[string][]string{}, Width: width}
	stepsJSON := []map[string]any{{"id": "head", "step_class": NoopClass}, {"id": "join", "step_class": NoopClass}}
	var paths []map[string]any
	for i := 1; i <= width; i++ {
		id := fmt.Sprintf("m%d", i)
		stepsJSON = append(stepsJSON, map[string]any{"id": id, "step_class": NoopClass})
		paths = append(paths, map[string]any{"from": "head", "to": id}, map[string]any{"from": id, "to": "join"})
		w.Preds[id] = []string{"head"}
		w.Preds["join"] = append(w.Preds["join"], id)
	}
	w.Doc = mustJSON(map[string]any{"name": w.Name, "steps": stepsJSON, "flow": map[string]any{"start_at": "head", "paths": paths}})
	return w
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// stamp is the no-op's output: wall-clock start and end in Unix nanoseconds,
// as strings so that JSON numbers (float64) do not round them.
type stamp struct {
	Start string `json:"bench_start"`
	End   string `json:"bench_end"`
}

func (s stamp) times() (time.Time, time.Time, error) {
	a, err := strconv.ParseInt(s.Start, 10, 64)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("bench_start %q: %w", s.Start, err)
	}
	b, err := strconv.ParseInt(s.End, 10, 64)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("bench_end %q: %w", s.End, err)
	}
	return time.Unix(0, a), time.Unix(0, b), nil
}

// tracker counts no-op steps and tells waiters when a run's final step has
// ended. The final step's end is the run's last worker-side event; the
// scheduler's last decision for that run overlaps with the next run.
type tracker struct {
	finals map[string]bool // final step ids

	steps atomic.Int64
	runs  atomic.Int64

	mu      sync.Mutex
	waiters map[string]chan struct{}
	early   map[string]bool // final step ended before Wait was called
}

func newTracker(finals ...string) *tracker {
	t := &tracker{finals: map[string]bool{}, waiters: map[string]chan struct{}{}, early: map[string]bool{}}
	for _, f := range finals {
		t.finals[f] = true
	}
	return t
}

// Handler returns the no-op step.
func (t *tracker) Handler() steps.Handler {
	return steps.HandlerFunc(func(_ context.Context, in *steps.Input) (*steps.Output, error) {
		start := time.Now()
		t.steps.Add(1)
		if t.finals[in.StepID] {
			t.runs.Add(1)
			t.finished(in.RunID)
		}
		end := time.Now()
		return &steps.Output{Data: stamp{Start: strconv.FormatInt(start.UnixNano(), 10), End: strconv.FormatInt(end.UnixNano(), 10)}}, nil
	})
}

func (t *tracker) finished(runID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ch, ok := t.waiters[runID]; ok {
		close(ch)
		delete(t.waiters, runID)
		return
	}
	t.early[runID] = true
}

// wait blocks until runID's final step has ended (a retried final step
// signals only once).
func (t *tracker) wait(ctx context.Context, runID string, timeout time.Duration) error {
	t.mu.Lock()
	if t.early[runID] {
		delete(t.early, runID)
		t.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	t.waiters[runID] = ch
	t.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		t.mu.Lock()
		delete(t.waiters, runID)
		t.mu.Unlock()
		return fmt.Errorf("run %s: final step did not end within %s", runID, timeout)
	}
}
