package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// chainDoc is an n-step chain of echo steps.
func chainDoc(n int) []byte {
	var steps, paths []string
	for i := 1; i <= n; i++ {
		steps = append(steps, fmt.Sprintf(`{"id":"s%d","step_class":"echo"}`, i))
		if i > 1 {
			paths = append(paths, fmt.Sprintf(`{"from":"s%d","to":"s%d"}`, i-1, i))
		}
	}
	return []byte(`{"name":"chain","steps":[` + strings.Join(steps, ",") + `],"flow":{"start_at":"s1","paths":[` + strings.Join(paths, ",") + `]}}`)
}

// BenchmarkTranslate measures turning one decision of a 10-step chain (the
// 9th step's completion) into its durable writes: task, attempts, state.
func BenchmarkTranslate(b *testing.B) {
	g, probs := dag.Load("chain", chainDoc(10), nil)
	if g == nil {
		b.Fatal(probs.Err())
	}
	st, err := g.NewRun("r1", map[string]any{"topic": "x"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if _, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted, At: now}); err != nil {
		b.Fatal(err)
	}
	var acts []dag.Action
	for i := 1; i <= 9; i++ {
		out := map[string]any{"bench_start": fmt.Sprint(now.UnixNano()), "bench_end": fmt.Sprint(now.UnixNano() + 1000)}
		acts, err = g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: fmt.Sprintf("s%d", i), Iteration: 1, Attempt: 1, Output: out, At: now})
		if err != nil {
			b.Fatal(err)
		}
	}
	s := &Scheduler{cfg: Config{InlineLimit: DefaultInlineLimit}, metrics: newMetrics(nil)}
	enc := &dag.StateEncoder{}
	for b.Loop() {
		if _, err := s.translate(b.Context(), g, "chain", st, acts, now); err != nil {
			b.Fatal(err)
		}
		if _, err := enc.Append(nil, st); err != nil {
			b.Fatal(err)
		}
	}
}
