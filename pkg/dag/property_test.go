package dag_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ia-modules/ia-go/pkg/dag"
)

// randomDAG builds an acyclic pipeline of n steps whose edges go from lower
// to higher indexes, with a mix of unconditional, conditional and else edges.
func randomDAG(r *rand.Rand, n int) string {
	type step struct {
		ID    string         `json:"id"`
		Class string         `json:"step_class"`
		Cfg   map[string]any `json:"config,omitempty"`
	}
	type path struct {
		From string `json:"from"`
		To   string `json:"to"`
		Cond any    `json:"condition,omitempty"`
	}
	var steps []step
	var paths []path
	for i := range n {
		s := step{ID: fmt.Sprintf("s%d", i), Class: "e"}
		if r.IntN(4) == 0 {
			s.Cfg = map[string]any{"error_handling": map[string]any{"retry": map[string]any{"max_attempts": 2.0}}}
		}
		steps = append(steps, s)
	}
	for i := range n - 1 {
		outs := 1 + r.IntN(3)
		hasElse := false
		for range outs {
			j := i + 1 + r.IntN(min(n-i-1, 6))
			p := path{From: steps[i].ID, To: steps[j].ID}
			switch r.IntN(4) {
			case 1:
				p.Cond = map[string]any{"type": "expression", "config": map[string]any{"source": "result.v", "operator": ">", "value": 0.5}}
			case 2:
				p.Cond = fmt.Sprintf("result.v < %g", r.Float64())
			case 3:
				if !hasElse {
					p.Cond = "else"
					hasElse = true
				}
			}
			paths = append(paths, p)
		}
	}
	// Every step must be reachable: link orphans from step 0.
	reached := map[string]bool{steps[0].ID: true}
	for _, p := range paths {
		reached[p.To] = true
	}
	for _, s := range steps[1:] {
		if !reached[s.ID] {
			paths = append(paths, path{From: steps[0].ID, To: s.ID})
		}
	}
	doc, _ := json.Marshal(map[string]any{"steps": steps, "flow": map[string]any{"start_at": "s0", "paths": paths}})
	return string(doc)
}

// TestPropertyRandomDAGs: every run terminates, no step starts twice in one
// iteration, and every step is started or skipped exactly once.
func TestPropertyRandomDAGs(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		n := 2 + r.IntN(40)
		doc := randomDAG(r, n)
		g, probs := dag.Load("random.json", []byte(doc), nil)
		require.NoError(t, probs.Err(), "seed %d", seed)
		st, err := g.NewRun("r", nil)
		require.NoError(t, err)
		queue, err := g.Decide(st, dag.Event{Type: dag.EventRunStarted})
		require.NoError(t, err)
		firstStarts := map[string]int{}
		skips := map[string]int{}
		// Deliver completions in a random order, to exercise concurrency.
		for len(queue) > 0 {
			k := r.IntN(len(queue))
			a := queue[k]
			queue = append(queue[:k], queue[k+1:]...)
			switch a.Kind {
			case dag.ActionSkipStep:
				skips[a.StepID]++
				continue
			case dag.ActionStartStep:
				if a.Attempt == 1 {
					firstStarts[a.StepID]++
				}
			default:
				continue
			}
			ev := dag.Event{Type: dag.EventStepSucceeded, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt,
				Output: map[string]any{"v": r.Float64()}}
			if r.IntN(5) == 0 {
				ev = dag.Event{Type: dag.EventStepFailed, StepID: a.StepID, Iteration: a.Iteration, Attempt: a.Attempt,
					Error: &dag.StepError{Message: "flaky", Retryable: true}}
			}
			more, err := g.Decide(st, ev)
			if st.Status.Terminal() && err != nil {
				continue
			}
			require.NoError(t, err, "seed %d", seed)
			// Redeliver the same event: it must be stale.
			_, err = g.Decide(st, ev)
			require.ErrorIs(t, err, dag.ErrStale, "seed %d", seed)
			queue = append(queue, more...)
		}
		require.True(t, st.Status.Terminal(), "seed %d: run stuck in %s", seed, st.Status)
		if st.Status != dag.RunCompleted {
			continue // a step exhausted its retries: the rest was cancelled
		}
		for _, id := range g.StepIDs() {
			require.Equal(t, 1, firstStarts[id]+skips[id], "seed %d step %s: started %d skipped %d\n%s", seed, id, firstStarts[id], skips[id], doc)
		}
	}
}
