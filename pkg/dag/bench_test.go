package dag_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func chainDoc(n int) []byte {
	steps := make([]map[string]any, n)
	var paths []map[string]any
	for i := range n {
		steps[i] = map[string]any{"id": fmt.Sprintf("s%d", i), "step_class": "echo"}
		if i > 0 {
			paths = append(paths, map[string]any{"from": fmt.Sprintf("s%d", i-1), "to": fmt.Sprintf("s%d", i),
				"condition": map[string]any{"type": "expression", "config": map[string]any{"source": "result.ok", "operator": "equals", "value": true}}})
		}
	}
	b, _ := json.Marshal(map[string]any{"name": "chain", "steps": steps, "flow": map[string]any{"start_at": "s0", "paths": paths}})
	return b
}

// fanDoc is 1 → width → 1.
func fanDoc(width int) []byte {
	steps := []map[string]any{{"id": "src", "step_class": "echo"}, {"id": "join", "step_class": "echo"}}
	var paths []map[string]any
	for i := range width {
		id := fmt.Sprintf("b%d", i)
		steps = append(steps, map[string]any{"id": id, "step_class": "echo"})
		paths = append(paths, map[string]any{"from": "src", "to": id}, map[string]any{"from": id, "to": "join"})
	}
	b, _ := json.Marshal(map[string]any{"name": "fan", "steps": steps, "flow": map[string]any{"start_at": "src", "paths": paths}})
	return b
}

// benchRun measures Decide per event: each iteration runs a whole pipeline
// with every step succeeding, and ns/op is divided by the events applied.
func benchRun(b *testing.B, doc []byte) {
	g, probs := dag.Load("bench.json", doc, nil)
	if err := probs.Err(); err != nil {
		b.Fatal(err)
	}
	out := map[string]any{"ok": true}
	events := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, _ := g.NewRun("bench", nil)
		queue, _ := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
		events++
		for len(queue) > 0 {
			a := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			if a.Kind != dag.ActionStartStep {
				continue
			}
			more, err := g.Decide(st, dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt, Output: out})
			if err != nil {
				b.Fatal(err)
			}
			events++
			queue = append(queue, more...)
		}
		if st.Status != dag.RunCompleted {
			b.Fatalf("run ended %s", st.Status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

func BenchmarkDecideChain10(b *testing.B)     { benchRun(b, chainDoc(10)) }
func BenchmarkDecideChain1000(b *testing.B)   { benchRun(b, chainDoc(1000)) }
func BenchmarkDecideFanOut10000(b *testing.B) { benchRun(b, fanDoc(10_000)) }

func BenchmarkParseValidate1000(b *testing.B) {
	doc := chainDoc(1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, probs := dag.Load("bench.json", doc, nil); probs.HasErrors() {
			b.Fatal(probs.Err())
		}
	}
}
